-- The database identities of dbt and their rights. A warehouse administrator
-- runs this once in each environment's warehouse (Redshift query editor, or
-- psql as a superuser), and again after changing environments.json's
-- `warehouse`.
--
-- No password is set here. With credentials_source=iam nobody holds one: the
-- deployment's task role asks Redshift for a temporary password
-- (GetClusterCredentials for a cluster, GetCredentials for Serverless). With a
-- stored password, set it yourself and put the same value in the credentials
-- store (README.md, "Warehouse credentials"):
--     alter user <user> password '<new password>';
--
-- Who may do what (the schemas dbt's generate_schema_name gives each target):
--   the deployment user   owns the deployment schemas ({{ cookiecutter.warehouse_schema }},
--                         {{ cookiecutter.warehouse_schema }}_marts) and reads the raw data;
--   the CI user           builds pull requests in schemas of its own
--                         ({{ cookiecutter.warehouse_schema }}_pr_<n>...) and drops them; reads the raw
--                         data and the deployment schemas (dbt --defer), owns nothing else;
--   group analysts        build in sandboxes of their own
--                         ({{ cookiecutter.warehouse_schema }}_sandbox_<user>...), read the raw data
--                         and the deployment schemas. Add each analyst once:
--                             create user <name> password disable;  -- or with a password
--                             alter group analysts add user <name>;
-- A user may drop only schemas it owns, so neither CI nor an analyst can drop
-- a deployment schema. Add a `grant usage` and a `grant select` line per raw
-- schema your sources read (jaffle_shop is the sample source's).
{%- macro grants(deployer, ci) %}
{%- set schemas = cookiecutter.warehouse_schema ~ ", " ~ cookiecutter.warehouse_schema ~ "_marts" %}
create user {{ deployer }} password disable;
create user {{ ci }} password disable;
create group analysts;

-- The deployment's schemas.
create schema if not exists {{ cookiecutter.warehouse_schema }} authorization {{ deployer }};
create schema if not exists {{ cookiecutter.warehouse_schema }}_marts authorization {{ deployer }};
grant usage on schema jaffle_shop to {{ deployer }};
grant select on all tables in schema jaffle_shop to {{ deployer }};
{%- for reader in (ci, "group analysts") %}

-- {{ "Pull-request builds" if reader == ci else "Analysts" }}: their own schemas; read the raw data and the deployment's.
grant create on database {{ cookiecutter.warehouse_database }} to {{ reader }};
grant usage on schema jaffle_shop to {{ reader }};
grant select on all tables in schema jaffle_shop to {{ reader }};
grant usage on schema {{ schemas }} to {{ reader }};
grant select on all tables in schema {{ schemas }} to {{ reader }};
-- Tables the deployment user creates from now on are readable too.
alter default privileges for user {{ deployer }} grant select on tables to {{ reader }};
{%- endfor %}
{%- endmacro %}
{%- if cookiecutter.warehouse_type == "serverless" %}
--
-- Serverless maps each task role to the database user IAMR:<role name>, so
-- each environment has a block of its own: run that environment's.
{%- for env in cookiecutter.environments.split() %}
{%- set base = cookiecutter.project_name ~ '-' ~ env %}

-- ---- {{ env }} ----
{{- grants('"IAMR:' ~ base ~ '-dbt-task"', '"IAMR:' ~ base ~ '-dbt-ci-task"') }}
{%- endfor %}
{%- else %}
{{ grants(cookiecutter.warehouse_user, "dbt_ci") }}
{%- endif %}
