-- The top top_n products of each calendar month by line revenue, up to the run date.
-- Line revenue is stage.order_items.line_amount (quantity x unit price - line discount) of lines whose
-- order is a revenue order (stage.orders.is_revenue, ordered_at < run_date + 1 day); the month is the
-- order's month. Only MySQL orders have lines, so legacy history orders are in no product figure.
--
-- product_rank = rank() by revenue within the month, highest first: tied products share a rank and
-- the next rank skips (1, 2, 2, 4). Every product with product_rank <= top_n is kept, so a tie at the
-- boundary yields more than top_n rows for that month (top 2 of 100, 80, 80 keeps all three).
-- Name and category come from stage.products; a product missing there keeps its row with nulls.
with orders as (
    select
        order_id,
        ordered_at,
        is_revenue
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

order_items as (
    select
        order_id,
        product_id,
        quantity,
        line_amount
    from stage.order_items
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

products as (
    select
        product_id,
        product_name,
        category
    from stage.products
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

revenue_orders as (
    select
        order_id,
        -- first day of the month, as a date on both engines
        cast(date_trunc('month', ordered_at) as date) as month
    from orders
    where is_revenue
        and ordered_at < {{ run_date }} + interval '1' day
),

product_months as (
    select
        revenue_orders.month,
        order_items.product_id,
        sum(order_items.line_amount) as revenue,
        sum(order_items.quantity) as units
    from order_items
    inner join revenue_orders
        on order_items.order_id = revenue_orders.order_id
    group by
        revenue_orders.month,
        order_items.product_id
),

ranked as (
    select
        *,
        rank() over (partition by month order by revenue desc nulls last) as product_rank
    from product_months
),

final as (
    select
        ranked.month,
        ranked.product_id,
        products.product_name,
        products.category,
        cast(ranked.revenue as decimal(14, 2)) as revenue,
        cast(ranked.units as integer) as units,
        cast(ranked.product_rank as integer) as product_rank
    from ranked
    left join products
        on ranked.product_id = products.product_id
    where ranked.product_rank <= {{ top_n }}
)

select * from final
