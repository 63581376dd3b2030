"""The production runner: credentials, the dbt steps in one process, artifact export."""
