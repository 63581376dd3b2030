{{ depends_on_sample_seed('customers') }}

with source as (

    select * from {{ source('jaffle_shop', 'customers') }}

),

renamed as (

    select
        id as customer_id,
        first_name,
        last_name,
        _loaded_at as loaded_at
    from source

)

select * from renamed
