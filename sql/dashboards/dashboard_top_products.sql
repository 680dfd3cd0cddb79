-- Top products over time: the five products with the most revenue over every month that
-- sales_top_products keeps, followed month by month (months where a product was not in the month's top
-- list have no row: the mart keeps only each month's leaders). Ties in the overall ranking go to the
-- lower product id, so exactly five products are followed.
with top_products as (
    select
        month,
        product_id,
        product_name,
        category,
        revenue,
        units
    from analytics.sales_top_products_latest
),

overall as (
    select
        product_id,
        sum(revenue) as total_revenue
    from top_products
    group by product_id
),

ranked as (
    select
        product_id,
        row_number() over (order by total_revenue desc, product_id) as overall_rank
    from overall
),

final as (
    select
        top_products.month,
        top_products.product_id,
        top_products.product_name,
        top_products.category,
        top_products.revenue,
        top_products.units,
        ranked.overall_rank
    from top_products
    inner join ranked
        on top_products.product_id = ranked.product_id
    where ranked.overall_rank <= 5
)

select * from final
