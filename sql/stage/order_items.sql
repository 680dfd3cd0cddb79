-- Conformed order lines of accepted MySQL orders.
with checked as (
    select * from int_order_items_checked
),

final as (
    select
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        line_amount
    from checked
    where reject_reason is null
)

select * from final
