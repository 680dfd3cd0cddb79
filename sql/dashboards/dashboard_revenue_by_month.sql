-- Revenue by month with the same month of the previous year beside it. The previous year is joined on
-- (year, month of year) computed on both sides: an equi-join, where date arithmetic in the join
-- condition would differ between engines (DuckDB's date - interval is a timestamp).
with trends as (
    select
        month,
        revenue,
        orders,
        customers,
        avg_order_value,
        is_peak,
        is_partial_month
    from analytics.sales_trends_latest
),

keyed as (
    select
        *,
        year(month) as calendar_year,
        month(month) as month_of_year
    from trends
),

final as (
    select
        current_year.month,
        current_year.revenue,
        current_year.orders,
        current_year.customers,
        current_year.avg_order_value,
        current_year.is_peak,
        current_year.is_partial_month,
        previous_year.revenue as previous_year_revenue,
        case
            when previous_year.revenue > 0
                then cast(current_year.revenue as double) / cast(previous_year.revenue as double) - 1
        end as year_over_year_change
    from keyed as current_year
    left join keyed as previous_year
        on current_year.calendar_year - 1 = previous_year.calendar_year
        and current_year.month_of_year = previous_year.month_of_year
)

select * from final
