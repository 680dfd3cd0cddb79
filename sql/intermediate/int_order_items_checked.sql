-- MySQL order lines, each with the first reason it must be quarantined (null when fit). The lines of
-- an order out of scope for the run (dated after the run date, before its extraction) are out of
-- scope with it: neither staged nor rejected.
with accepted_orders as (
    select
        order_id,
        is_out_of_scope
    from int_orders_checked
    where source = 'mysql.orders'
        and reject_reason is null
),

products as (
    select product_id
    from stg_mysql_products
    where product_id is not null
),

final as (
    select
        'mysql.order_items' as source,
        cast(items.order_id as varchar) || '/' || cast(items.line_number as varchar) as record_key,
        'm-' || cast(items.order_id as varchar) as order_id,
        items.line_number,
        items.product_id,
        items.quantity,
        items.unit_price,
        items.discount_amount,
        cast(items.quantity * items.unit_price - coalesce(items.discount_amount, 0) as decimal(14, 2)) as line_amount,
        case
            when items.order_id is null or items.line_number is null or items.product_id is null then 'missing_key'
            when items.quantity is null or items.unit_price is null then 'unparseable_value'
            when items.quantity < 0 then 'negative_quantity'
            when items.unit_price < 0 then 'negative_amount'
            when accepted_orders.order_id is null then 'unknown_order'
            when products.product_id is null then 'unknown_product'
        end as reject_reason,
        cast(items.quantity as varchar) as reject_detail,
        json_format(cast(map(
            array['order_id', 'line_number', 'product_id', 'quantity', 'unit_price'],
            array[
                cast(items.order_id as varchar),
                cast(items.line_number as varchar),
                cast(items.product_id as varchar),
                cast(items.quantity as varchar),
                cast(items.unit_price as varchar)
            ]
        ) as json)) as record_json
    from stg_mysql_order_items as items
    left join accepted_orders
        on 'm-' || cast(items.order_id as varchar) = accepted_orders.order_id
    left join products
        on items.product_id = products.product_id
    where not coalesce(accepted_orders.is_out_of_scope, false)
)

select * from final
