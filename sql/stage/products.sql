-- Conformed product catalog.
with checked as (
    select * from int_products_checked
),

final as (
    select
        product_id,
        product_name,
        category,
        brand,
        list_price,
        updated_at
    from checked
    where reject_reason is null
)

select * from final
