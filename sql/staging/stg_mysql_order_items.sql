-- MySQL order lines as of the run date: the latest extracted version of each line. Lines of an erased
-- customer's orders are dropped: the orders found when they were erased (stage.suppressed_keys), and
-- any order of theirs the source added since (found through the run's orders snapshot, filtered to the
-- few suppressed customers before it is joined).
with source as (
    select *
    from stage.snapshot_mysql_order_items
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

suppressed_customers as (
    select distinct try_cast(key_value as bigint) as customer_id
    from stage.suppressed_keys
    where key_type = 'mysql_customer_id'
),

listed_orders as (
    select try_cast(key_value as bigint) as order_id
    from stage.suppressed_keys
    where key_type = 'mysql_order_id'
),

later_orders as (
    select orders.order_id
    from stage.snapshot_mysql_orders as orders
    inner join suppressed_customers
        on orders.customer_id = suppressed_customers.customer_id
    where orders.run_date = {{ run_date }}
        and orders.run_id = {{ run_id }}
),

suppressed_orders as (
    select order_id from listed_orders
    union
    select order_id from later_orders
),

kept as (
    select source.*
    from source
    left join suppressed_orders
        on source.order_id = suppressed_orders.order_id
    where suppressed_orders.order_id is null
),

final as (
    select
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        try_cast(updated_at as timestamp) as updated_at
    from kept
)

select * from final
