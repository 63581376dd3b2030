{#- A generic test, used like the built-in ones in a YAML file: fails for every
    row where the column is below zero. Empty values pass; pair it with
    not_null where they must not be empty. -#}
{% test non_negative(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0

{% endtest %}
