-- A singular test: a query that returns the rows that break a rule, here
-- "every payment is counted in exactly one order". It fails when the order
-- totals and the payments disagree by a cent or more.
with order_totals as (

    select sum(amount) as amount from {{ ref('fct_orders') }}

),

payment_totals as (

    select sum(amount) as amount from {{ ref('stg_jaffle_shop__payments') }}

)

select
    order_totals.amount as order_amount,
    payment_totals.amount as payment_amount
from order_totals
cross join payment_totals
where abs(order_totals.amount - payment_totals.amount) >= 0.01
