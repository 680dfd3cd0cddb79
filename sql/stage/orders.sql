-- Conformed orders from MySQL and the legacy history, on unified customer ids.
with checked as (
    select * from int_orders_checked
),

final as (
    select
        order_id,
        customer_id,
        ordered_at,
        status,
        channel,
        payment_method,
        currency,
        total_amount,
        discount_amount,
        item_quantity,
        is_revenue,
        origin as source
    from checked
    where reject_reason is null
        and not is_out_of_scope
)

select * from final
