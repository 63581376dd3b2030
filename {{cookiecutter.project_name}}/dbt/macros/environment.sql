{#- Whether this run is a deployment: the target is `deploy`, the role the
    runner picks in a deployment run. Every other target (local, sandbox, ci)
    builds elsewhere, whatever ENV says. -#}
{% macro is_deployment() -%}
    {{ return(target.name == 'deploy') }}
{%- endmacro %}


{#- Whether the sample seeds stand in for the raw sources: only on `local`,
    the embedded DuckDB that has no loader. sandbox, ci and deploy read the
    real raw tables. -#}
{% macro uses_sample_data() -%}
    {{ return(target.name == 'local') }}
{%- endmacro %}


{#- The schema of sandbox runs: <schema>_sandbox, or <schema>_sandbox_<user>
    with var('sandbox_user_suffix'). The user is $USER reduced to lowercase
    letters, digits and underscores, so it is a valid unquoted identifier in
    every warehouse. -#}
{% macro sandbox_schema() -%}
    {%- set schema = target.schema ~ '_sandbox' -%}
    {%- if var('sandbox_user_suffix') -%}
        {%- set user = modules.re.sub('[^a-z0-9_]+', '_', env_var('USER', '') | lower) | trim('_') -%}
        {%- if user -%}
            {%- set schema = schema ~ '_' ~ user -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(schema) }}
{%- endmacro %}


{#- The pull request number of a ci run: DBT_PR_NUMBER, digits only. Anything
    else stops dbt with one line, before a single node is placed. -#}
{% macro pr_number() -%}
    {%- set raw = env_var('DBT_PR_NUMBER', '') | trim -%}
    {%- if not modules.re.fullmatch('[0-9]+', raw) -%}
        {{ exceptions.raise_compiler_error(
            "DBT_PR_NUMBER must be the pull request's number, digits only, for DBT_TARGET=ci (got '"
            ~ raw ~ "'): e.g. DBT_PR_NUMBER=7") }}
    {%- endif -%}
    {{ return(raw | int) }}
{%- endmacro %}


{#- The base schema of a pull request's ci build: <schema>_pr_<N>. A
    run-operation builds nothing, so the cleanup macros (which take the PR as
    an argument, or sweep every PR) run on ci without DBT_PR_NUMBER: nodes are
    then placed in <schema>_pr_none, which no cleanup matches. -#}
{% macro pr_schema() -%}
    {%- if invocation_args_dict.get('which') == 'run-operation' and not env_var('DBT_PR_NUMBER', '') | trim -%}
        {{ return(target.schema ~ '_pr_none') }}
    {%- endif -%}
    {{ return(target.schema ~ '_pr_' ~ pr_number()) }}
{%- endmacro %}
