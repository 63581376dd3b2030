{#- Where every model, seed, snapshot and test result is built.

    Deployment (ENV is a deployment environment):
        the target schema, or <schema>_<custom> for a custom schema.
    Anywhere else (ENV unset):
        the sandbox, <schema>_sandbox[_<user>], custom schema or not, so a
        sandbox run never touches what a deployment built. Seeds with a custom
        schema are the exception: they build in <schema>_sandbox_<custom>,
        shared by every sandbox, because they stand in for raw sources whose
        definitions must know where to read them (see the staging sources). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if is_deployment() -%}
        {%- if custom_schema_name is none -%}
            {{ return(target.schema) }}
        {%- endif -%}
        {{ return(target.schema ~ '_' ~ custom_schema_name | trim) }}
    {%- endif -%}
    {%- if custom_schema_name is not none and node.resource_type == 'seed' -%}
        {{ return(target.schema ~ '_sandbox_' ~ custom_schema_name | trim) }}
    {%- endif -%}
    {{ return(sandbox_schema()) }}
{%- endmacro %}
