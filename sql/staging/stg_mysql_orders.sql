-- MySQL orders as of the run date: the latest extracted version of each order, typed. Orders of an
-- erased customer (stage.suppressed_keys: the customer, and the orders found when they were erased)
-- are dropped here, neither staged nor quarantined.
with source as (
    select *
    from stage.snapshot_mysql_orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

suppressed_customers as (
    select distinct try_cast(key_value as bigint) as customer_id
    from stage.suppressed_keys
    where key_type = 'mysql_customer_id'
),

suppressed_orders as (
    select distinct try_cast(key_value as bigint) as order_id
    from stage.suppressed_keys
    where key_type = 'mysql_order_id'
),

kept as (
    select source.*
    from source
    left join suppressed_customers
        on source.customer_id = suppressed_customers.customer_id
    left join suppressed_orders
        on source.order_id = suppressed_orders.order_id
    where suppressed_customers.customer_id is null
        and suppressed_orders.order_id is null
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
    from kept
)

select * from final
