-- MySQL orders as of the run date: the latest extracted version of each order, typed.
with source as (
    select *
    from stage.snapshot_mysql_orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

final as (
    select
        order_id,
        customer_id,
        order_at as ordered_at_raw,
        try_cast(order_at as timestamp) as ordered_at,
        lower(status) as status,
        lower(channel) as channel,
        lower(payment_method) as payment_method,
        upper(currency) as currency,
        total_amount,
        discount_amount,
        try_cast(updated_at as timestamp) as updated_at,
        ingested_at
    from source
)

select * from final
