{#- Whether this run is a deployment: ENV names one of the deployment
    environments in var('deployment_environments'). Laptops and CI leave ENV
    unset and get sandboxes and sample data instead. -#}
{% macro is_deployment() -%}
    {{ return(env_var('ENV', 'local') in var('deployment_environments')) }}
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
