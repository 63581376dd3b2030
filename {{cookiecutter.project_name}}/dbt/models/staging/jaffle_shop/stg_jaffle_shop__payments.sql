{{ depends_on_sample_seed('payments') }}

with source as (

    select * from {{ source('jaffle_shop', 'payments') }}

),

renamed as (

    select
        id as payment_id,
        order_id,
        payment_method,
        _loaded_at as loaded_at,
        -- The source stores cents.
        cast(amount as numeric(16, 2)) / 100 as amount
    from source

)

select * from renamed
