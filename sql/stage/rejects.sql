-- Everything kept out of the marts, with the source, the record's key and the reason.
with customers as (
    select source, record_key, reject_reason, reject_detail, record_json
    from int_customers_checked
    where reject_reason is not null
),

products as (
    select source, record_key, reject_reason, reject_detail, record_json
    from int_products_checked
    where reject_reason is not null
),

orders as (
    select source, record_key, reject_reason, reject_detail, record_json
    from int_orders_checked
    where reject_reason is not null
),

order_items as (
    select source, record_key, reject_reason, reject_detail, record_json
    from int_order_items_checked
    where reject_reason is not null
),

interactions as (
    select source, record_key, reject_reason, reject_detail, record_json
    from int_interactions_checked
    where reject_reason is not null
),

unioned as (
    select * from customers
    union all
    select * from products
    union all
    select * from orders
    union all
    select * from order_items
    union all
    select * from interactions
),

final as (
    select
        source,
        record_key,
        reject_reason as reason,
        reject_detail as detail,
        record_json
    from unioned
)

select * from final
