-- Order-gap churn rule, one row per customer with at least one revenue order up to the run date
-- (ordered_at < run_date + 1 day, no lower bound). Cancelled and refunded orders are not purchases:
-- they make no gap and do not move the last order.
--
-- Gaps are calendar days between consecutive revenue orders (LAG over the customer's orders by time,
-- order id breaking ties; two orders on one day make a gap of 0). Days since the last order are
-- calendar days from its date to the run date, the same unit, so the two compare like for like.
-- Dates, not timestamps, are differenced so Trino and DuckDB count alike.
--
-- Rule: threshold_days = churn_gap_multiplier x avg_gap_days; is_churn_risk when
-- days_since_last_order > threshold_days (strictly: exactly on the threshold is still within).
-- A one-order customer has no gap: gap statistics and threshold are null, is_churn_risk is false and
-- risk_reason is 'single_order' (the rule cannot decide; a model probability covers them).
-- stddev_gap_days is the sample standard deviation, null with fewer than two gaps.
with orders as (
    select
        customer_id,
        order_id,
        ordered_at,
        is_revenue
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

revenue_orders as (
    select
        customer_id,
        order_id,
        ordered_at
    from orders
    where is_revenue
        and ordered_at < {{ run_date }} + interval '1' day
),

with_previous_order as (
    select
        *,
        lag(ordered_at) over (partition by customer_id order by ordered_at, order_id) as previous_ordered_at
    from revenue_orders
),

order_gaps as (
    select
        *,
        -- null on a customer's first order, which aggregates below skip
        cast(date_diff('day', cast(previous_ordered_at as date), cast(ordered_at as date)) as double)
            as gap_days
    from with_previous_order
),

customer_gaps as (
    select
        customer_id,
        count(*) as order_count,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        avg(gap_days) as avg_gap_days,
        max(gap_days) as max_gap_days,
        stddev_samp(gap_days) as stddev_gap_days
    from order_gaps
    group by customer_id
),

with_threshold as (
    select
        *,
        date_diff('day', cast(last_order_at as date), {{ run_date }}) as days_since_last_order,
        cast({{ churn_gap_multiplier }} as double) as gap_multiplier,
        cast({{ churn_gap_multiplier }} as double) * avg_gap_days as threshold_days
    from customer_gaps
),

final as (
    select
        customer_id,
        cast(order_count as integer) as order_count,
        first_order_at,
        last_order_at,
        cast(days_since_last_order as integer) as days_since_last_order,
        avg_gap_days,
        max_gap_days,
        stddev_gap_days,
        gap_multiplier,
        threshold_days,
        case
            when order_count = 1 then false
            else days_since_last_order > threshold_days
        end as is_churn_risk,
        case
            when order_count = 1 then 'single_order'
            when days_since_last_order > threshold_days then 'gap_exceeded'
            else 'within_gap'
        end as risk_reason
    from with_threshold
)

select * from final
