{#- Make a staging model depend on the seed that stands in for its source on
    the local target, so one `dbt build` loads the sample data before it reads
    it: a source alone gives dbt no such ordering. On sandbox, ci and deploy
    the seed is disabled and the model reads the loader's table, so nothing is
    referenced. Renders a comment naming the seed, or nothing. -#}
{% macro depends_on_sample_seed(seed_name) -%}
    {%- if uses_sample_data() -%}
        -- sample data: seed {{ ref(seed_name) }}
    {%- endif -%}
{%- endmacro %}
