-- Revenue by calendar month, with the peak months ranked and the change against the previous month.
-- Only revenue orders count (stage.orders.is_revenue: cancelled and refunded orders are in no revenue),
-- from the first month with a revenue order up to the run date (ordered_at < run_date + 1 day), so
-- the run date's own month is month-to-date.
--
-- Every calendar month in that span has a row, also a month without a revenue order (revenue 0,
-- orders 0, customers 0, avg_order_value null): "previous month" is then always the calendar month
-- before, never an older month that happened to have sales.
--
-- revenue_rank = rank() by revenue, highest first (1 = peak); tied months share a rank, so more than
-- top_n months can be peaks. is_peak = revenue_rank <= top_n and revenue > 0 (a month without
-- revenue is never a peak, even when there are fewer than top_n months).
-- revenue_change_pct = 100 x (revenue - base) / base; null for the first month and when the base is 0
-- (nothing to compare with). The base (change_base_revenue) is the previous month's revenue, except
-- for a month the run date cuts short (is_partial_month: the run date's month when the run date is not
-- its last day), which is compared like for like: its month-to-date revenue against the same days of
-- the previous month (days 1 to the run date's day of month; all of a shorter previous month). Against
-- the whole previous month, nine days of December read as a 55% drop. A partial month is still ranked
-- with the full ones (it can only rank lower), and its row says it is partial.
with orders as (
    select
        customer_id,
        ordered_at,
        total_amount,
        is_revenue
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

revenue_orders as (
    select
        customer_id,
        total_amount,
        -- day of the month, to compare month-to-date with the same days of the previous month
        day(ordered_at) as day_of_month,
        -- first day of the month, as a date on both engines
        cast(date_trunc('month', ordered_at) as date) as month
    from orders
    where is_revenue
        and ordered_at < {{ run_date }} + interval '1' day
),

monthly_totals as (
    select
        month,
        sum(total_amount) as revenue,
        coalesce(sum(case when day_of_month <= day({{ run_date }}) then total_amount end), 0)
            as revenue_to_run_day,
        count(*) as orders,
        count(distinct customer_id) as customers
    from revenue_orders
    group by month
),

month_bounds as (
    select
        min(month) as first_month,
        -- date_trunc of a date is a date on Trino and a timestamp on DuckDB: cast
        cast(date_trunc('month', {{ run_date }}) as date) as last_month
    from revenue_orders
),

month_spine as (
    select
        -- date + interval is a date on Trino and a timestamp on DuckDB: cast
        cast(month_bounds.first_month + interval '1' month * month_offsets.month_offset as date) as month
    from month_bounds
    cross join int_month_offsets as month_offsets
    where month_offsets.month_offset <= date_diff('month', month_bounds.first_month, month_bounds.last_month)
),

filled as (
    select
        month_spine.month,
        coalesce(monthly_totals.revenue, 0) as revenue,
        coalesce(monthly_totals.revenue_to_run_day, 0) as revenue_to_run_day,
        coalesce(monthly_totals.orders, 0) as orders,
        coalesce(monthly_totals.customers, 0) as customers
    from month_spine
    left join monthly_totals
        on month_spine.month = monthly_totals.month
),

with_previous as (
    select
        *,
        lag(revenue) over (order by month) as previous_revenue,
        lag(revenue_to_run_day) over (order by month) as previous_revenue_to_run_day,
        rank() over (order by revenue desc) as revenue_rank,
        -- the run date's month, unless the run date is its last day
        month = cast(date_trunc('month', {{ run_date }}) as date)
            and day({{ run_date }} + interval '1' day) <> 1 as is_partial_month
    from filled
),

with_base as (
    select
        *,
        case when is_partial_month then previous_revenue_to_run_day else previous_revenue end
            as change_base_revenue
    from with_previous
),

final as (
    select
        month,
        cast(revenue as decimal(14, 2)) as revenue,
        cast(orders as integer) as orders,
        cast(customers as integer) as customers,
        -- revenue / orders rounded half up to the cent in whole cents, as customer_360 does: decimal
        -- division is a double on DuckDB, a cent off on exact half cents. floor((2c + n) / 2n) is
        -- c / n rounded half up; a - a % b is a multiple of b, so the division is exact on both engines
        case
            when orders > 0
                then cast(cast(
                    (2 * cast(revenue * 100 as bigint) + orders
                        - (2 * cast(revenue * 100 as bigint) + orders) % (2 * orders))
                    / (2 * orders) as decimal(18, 0)) * 0.01 as decimal(14, 2))
        end as avg_order_value,
        cast(revenue_rank as integer) as revenue_rank,
        revenue_rank <= {{ top_n }} and revenue > 0 as is_peak,
        is_partial_month,
        cast(change_base_revenue as decimal(14, 2)) as change_base_revenue,
        case
            when change_base_revenue > 0
                then 100 * (cast(revenue as double) - cast(change_base_revenue as double))
                    / cast(change_base_revenue as double)
        end as revenue_change_pct
    from with_base
)

select * from final
