-- The top top_n customers by revenue in the RFM window, and their revenue and orders in each month
-- of that window, for a monthly trend per top customer.
--
-- Window: the rfm_window_days calendar days ending with the run date, as every windowed mart uses:
-- ordered_at >= run_date + 1 day - rfm_window_days (00:00:00, included) and < run_date + 1 day.
-- Only revenue orders count (cancelled and refunded are in no revenue).
-- customer_rank = rank() by window revenue, highest first: tied customers share a rank and every
-- customer with customer_rank <= top_n is kept, so a tie at the boundary keeps more than top_n.
--
-- Grain: one row per top customer per calendar month from the month the window starts in to the run
-- date's month, months without an order included with revenue 0 and orders 0, so every trend line has
-- every point. The first month counts only the days inside the window, the last is month-to-date.
with revenue_orders_in_window as (
    select
        customer_id,
        total_amount,
        -- first day of the month, as a date on both engines
        cast(date_trunc('month', ordered_at) as date) as month
    from int_revenue_orders_in_rfm_window
),

customer_totals as (
    select
        customer_id,
        sum(total_amount) as window_revenue
    from revenue_orders_in_window
    group by customer_id
),

ranked_customers as (
    select
        customer_id,
        rank() over (order by window_revenue desc nulls last) as customer_rank
    from customer_totals
),

top_customers as (
    select
        customer_id,
        customer_rank
    from ranked_customers
    where customer_rank <= {{ top_n }}
),

month_bounds as (
    select
        cast(date_trunc(
            'month',
            cast({{ run_date }} as timestamp) + interval '1' day - interval '1' day * {{ rfm_window_days }}
        ) as date) as first_month,
        -- date_trunc of a date is a date on Trino and a timestamp on DuckDB: cast
        cast(date_trunc('month', {{ run_date }}) as date) as last_month
),

month_spine as (
    select
        -- date + interval is a date on Trino and a timestamp on DuckDB: cast
        cast(month_bounds.first_month + interval '1' month * month_offsets.month_offset as date) as month
    from month_bounds
    cross join int_month_offsets as month_offsets
    where month_offsets.month_offset <= date_diff('month', month_bounds.first_month, month_bounds.last_month)
),

customer_months as (
    select
        customer_id,
        month,
        sum(total_amount) as revenue,
        count(*) as orders
    from revenue_orders_in_window
    group by
        customer_id,
        month
),

final as (
    select
        top_customers.customer_id,
        cast(top_customers.customer_rank as integer) as customer_rank,
        month_spine.month,
        cast(coalesce(customer_months.revenue, 0) as decimal(14, 2)) as revenue,
        cast(coalesce(customer_months.orders, 0) as integer) as orders
    from top_customers
    cross join month_spine
    left join customer_months
        on top_customers.customer_id = customer_months.customer_id
        and month_spine.month = customer_months.month
)

select * from final
