{#- Where every model, seed, snapshot and test result is built: the target
    (a role, DBT_TARGET) decides, never ENV.

    deploy:  the target schema, or <schema>_<custom> for a custom schema.
    ci:      <schema>_pr_<N>, or <schema>_pr_<N>_<custom>; N is DBT_PR_NUMBER.
    sandbox, local (and any other target):
             the sandbox, <schema>_sandbox[_<user>], custom schema or not, so a
             sandbox run never touches what a deployment built. On local, seeds
             with a custom schema are the exception: they build in
             <schema>_sandbox_<custom>, where the jaffle_shop source reads the
             sample data (see the staging sources). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set custom = none if custom_schema_name is none else custom_schema_name | trim -%}
    {%- if is_deployment() -%}
        {{ return(target.schema if custom is none else target.schema ~ '_' ~ custom) }}
    {%- endif -%}
    {%- if target.name == 'ci' -%}
        {{ return(pr_schema() if custom is none else pr_schema() ~ '_' ~ custom) }}
    {%- endif -%}
    {%- if uses_sample_data() and custom is not none and node.resource_type == 'seed' -%}
        {{ return(target.schema ~ '_sandbox_' ~ custom) }}
    {%- endif -%}
    {{ return(sandbox_schema()) }}
{%- endmacro %}
