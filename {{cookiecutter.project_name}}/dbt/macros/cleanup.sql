{#- Dropping what the ci and sandbox roles build, with `dbt run-operation`.
    Every macro here refuses the wrong target, so a deployment's credentials
    never drop anything, and logs each schema it drops. Schema names are read
    from information_schema.schemata (PostgreSQL and Redshift alike), matched
    exactly in Jinja and dropped through the adapter, which quotes them. -#}


{#- The table a ci build leaves in its base schema, <schema>_pr_<N>: one row,
    the time of the build. drop_stale_pr_schemas reads it. -#}
{% macro ci_marker_table() -%}
    {{ return('_ci_last_build') }}
{%- endmacro %}


{#- on-run-end hook (dbt_project.yml): on ci, record when this pull request
    last built. Renders nothing on any other target. -#}
{% macro record_ci_build() -%}
    {%- if target.name == 'ci' -%}
        {%- set schema = adapter.quote(pr_schema()) -%}
        {%- set table = schema ~ '.' ~ adapter.quote(ci_marker_table()) -%}
        create schema if not exists {{ schema }};
        drop table if exists {{ table }};
        create table {{ table }} as select cast({{ dbt.current_timestamp() }} as timestamp) as built_at;
        commit;
    {%- endif -%}
{%- endmacro %}


{% macro _require_target(macro_name, role) -%}
    {%- if target.name != role -%}
        {{ exceptions.raise_compiler_error(
            macro_name ~ " runs only with DBT_TARGET=" ~ role ~ " (this is '" ~ target.name ~ "'): it drops "
            ~ role ~ " schemas and nothing else") }}
    {%- endif -%}
{%- endmacro %}


{#- Every schema of the warehouse database, lowercase. -#}
{% macro _all_schemas() -%}
    {%- set query -%}
        select schema_name from information_schema.schemata where catalog_name = '{{ target.database }}'
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | map('lower') | list) }}
{%- endmacro %}


{#- base itself and every base_<custom>, never a schema that only starts with
    base (PR 7 is not PR 70). -#}
{% macro _schemas_of(base, schemas) -%}
    {%- set base = base | lower -%}
    {%- set found = [] -%}
    {%- for schema in schemas if schema == base or schema.startswith(base ~ '_') -%}
        {%- do found.append(schema) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#- adapter.drop_schema drops with cascade and commits. -#}
{% macro _drop_schemas(schemas, why) -%}
    {%- for schema in schemas | sort -%}
        {%- do adapter.drop_schema(api.Relation.create(database=target.database, schema=schema)) -%}
        {%- do log("dropped schema " ~ schema ~ " (" ~ why ~ ")", info=true) -%}
    {%- endfor -%}
{%- endmacro %}


{#- dbt run-operation drop_pr_schemas --args '{pr: 7}' (DBT_TARGET=ci): drop
    <schema>_pr_7 and every <schema>_pr_7_<custom>, when the pull request
    closes. -#}
{% macro drop_pr_schemas(pr) -%}
    {%- do _require_target('drop_pr_schemas', 'ci') -%}
    {%- set pr = pr | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]+', pr) -%}
        {{ exceptions.raise_compiler_error(
            "drop_pr_schemas: pr must be the pull request's number, digits only (got '"
            ~ pr ~ "'): --args '{pr: 7}'") }}
    {%- endif -%}
    {%- set base = target.schema ~ '_pr_' ~ (pr | int) -%}
    {%- set doomed = _schemas_of(base, _all_schemas()) -%}
    {%- if not doomed -%}
        {%- do log("drop_pr_schemas: no schema of pull request " ~ (pr | int) ~ " (" ~ base ~ "*)", info=true) -%}
    {%- endif -%}
    {%- do _drop_schemas(doomed, "pull request " ~ (pr | int)) -%}
{%- endmacro %}


{#- dbt run-operation drop_stale_pr_schemas --args '{max_age_days: 7}'
    (DBT_TARGET=ci): drop every pull request's schemas whose last ci build
    (the marker table record_ci_build writes) is older than max_age_days. A
    base schema without the marker is left alone, with a log line. -#}
{% macro drop_stale_pr_schemas(max_age_days=7) -%}
    {%- do _require_target('drop_stale_pr_schemas', 'ci') -%}
    {%- set days = max_age_days | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]+', days) -%}
        {{ exceptions.raise_compiler_error(
            "drop_stale_pr_schemas: max_age_days must be a whole number of days (got '" ~ days ~ "')") }}
    {%- endif -%}
    {%- set schemas = _all_schemas() -%}
    {%- set pattern = modules.re.escape(target.schema | lower) ~ '_pr_[0-9]+' -%}
    {%- set cutoff = dbt.dateadd('day', -(days | int), dbt.current_timestamp()) -%}
    {%- for base in schemas | sort if modules.re.fullmatch(pattern, base) -%}
        {%- set marker = adapter.get_relation(database=target.database, schema=base, identifier=ci_marker_table()) -%}
        {%- if marker is none -%}
            {%- do log("drop_stale_pr_schemas: skipped " ~ base ~ ": no " ~ ci_marker_table() ~ " table, so no known build time", info=true) -%}
        {%- else -%}
            {%- set query -%}
                select count(*) from {{ marker }} where built_at >= cast({{ cutoff }} as timestamp)
            {%- endset -%}
            {%- if run_query(query).columns[0].values()[0] | int == 0 -%}
                {%- do _drop_schemas(_schemas_of(base, schemas), "last ci build more than " ~ days ~ " days ago") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}


{#- dbt run-operation drop_sandbox_schemas (DBT_TARGET=sandbox; make
    sandbox-drop): drop the caller's own sandbox, sandbox_schema() exactly.
    A sandbox build has no custom schemas, and a prefix match would take
    another person's (ann's drop must not touch ann_b's). -#}
{% macro drop_sandbox_schemas() -%}
    {%- do _require_target('drop_sandbox_schemas', 'sandbox') -%}
    {%- set doomed = [sandbox_schema() | lower] if (sandbox_schema() | lower) in _all_schemas() else [] -%}
    {%- if not doomed -%}
        {%- do log("drop_sandbox_schemas: no schema " ~ sandbox_schema() ~ "* to drop", info=true) -%}
    {%- endif -%}
    {%- do _drop_schemas(doomed, "sandbox of " ~ env_var('USER', 'everyone')) -%}
{%- endmacro %}
