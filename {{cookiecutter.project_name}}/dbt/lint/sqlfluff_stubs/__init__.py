"""Stand-ins that let sqlfluff lint dbt models without dbt or a warehouse.

sqlfluff's jinja templater (see .sqlfluff) provides ref(), source(), var() and
config(), but not dbt's cross-database macros. This package is its
``library_path``: the module ``dbt`` below becomes the ``dbt`` object in the
templates, and renders each macro the way dbt-redshift does, so the linter
parses the SQL that runs in production.
"""
