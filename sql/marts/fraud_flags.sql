-- Login and order signals per customer over the fraud window, and the fraud flag: a login anomaly
-- and an order anomaly together (the pattern of an account takeover that then buys).
--
-- Window: the last fraud_window_days calendar days up to and including the run date, i.e.
-- event_at / ordered_at >= run_date + 1 day - fraud_window_days days (00:00:00, included) and
-- < run_date + 1 day (excluded). With 30 days and run date 2024-06-30 that is 2024-06-01 00:00:00 to
-- 2024-06-30 23:59:59: exactly 30 x 24 hours, the window the data generator plants fraud in.
--
-- Rows: one per customer with a login or an order of any status in the window, flagged or not, so
-- near misses (one anomaly without the other) and every figure stay visible for tuning thresholds;
-- dashboards filter is_flagged. Customers with neither have no row (customer_360 reads a missing row
-- as not flagged). A day's activity is a fraction of the customer base, so the table stays small.
--
-- Logins: stage.interactions events of type 'login'. distinct_ips ignores logins without an address;
-- failed_logins counts is_success = false (an unknown outcome is not a failure).
-- Orders: every status counts. A takeover's orders are often cancelled (declined card, a merchant's
-- fraud check) or refunded (chargeback) by the time the run sees them; counting only revenue orders
-- would hide exactly the orders a fraud review needs. window_spend is the sum of those totals as the
-- source recorded them (a refund stored with a negative total nets against it).
--
-- Anomalies use strict comparisons: a figure equal to its threshold is allowed.
--   login anomaly: distinct_ips > fraud_max_distinct_ips, or login_attempts > fraud_max_login_attempts,
--                  or failed_logins > fraud_max_failed_logins
--   order anomaly: an order total > fraud_high_value_order_total, or orders_in_window >
--                  fraud_max_orders_in_window
--   is_flagged: both.
-- flag_reasons lists every triggered condition, flagged or not, as '<signal> <figure> > <threshold>'
-- joined by '; ' in a fixed order (distinct_ips, login_attempts, failed_logins, high_value_order,
-- orders_in_window); high_value_order shows the largest order total. Money is shown with two decimals.
-- Null when nothing triggered.
with interactions as (
    select
        customer_id,
        event_type,
        event_at,
        ip_address,
        is_success
    from stage.interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

orders as (
    select
        customer_id,
        ordered_at,
        total_amount
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

logins_in_window as (
    select
        customer_id,
        ip_address,
        is_success
    from interactions
    where event_type = 'login'
        and event_at >= cast({{ run_date }} as timestamp) + interval '1' day
            - interval '1' day * {{ fraud_window_days }}
        and event_at < cast({{ run_date }} as timestamp) + interval '1' day
),

orders_in_window as (
    select
        customer_id,
        total_amount
    from orders
    where ordered_at >= cast({{ run_date }} as timestamp) + interval '1' day
            - interval '1' day * {{ fraud_window_days }}
        and ordered_at < cast({{ run_date }} as timestamp) + interval '1' day
),

-- money thresholds as decimal(12,2), so the comparison and the reasons text use the same value and
-- the text does not depend on how an engine prints a double
thresholds as (
    select
        {{ fraud_max_distinct_ips }} as max_distinct_ips,
        {{ fraud_max_login_attempts }} as max_login_attempts,
        {{ fraud_max_failed_logins }} as max_failed_logins,
        cast({{ fraud_high_value_order_total }} as decimal(12, 2)) as high_value_order_total,
        {{ fraud_max_orders_in_window }} as max_orders_in_window
),

login_signals as (
    select
        customer_id,
        count(distinct ip_address) as distinct_ips,
        count(*) as login_attempts,
        count(*) filter (where is_success = false) as failed_logins
    from logins_in_window
    group by customer_id
),

order_signals as (
    select
        orders_in_window.customer_id,
        count(*) as orders_in_window,
        count(*) filter (where orders_in_window.total_amount > thresholds.high_value_order_total)
            as high_value_orders,
        max(orders_in_window.total_amount) as max_order_total,
        sum(orders_in_window.total_amount) as window_spend
    from orders_in_window
    cross join thresholds
    group by orders_in_window.customer_id
),

customer_signals as (
    select
        coalesce(login_signals.customer_id, order_signals.customer_id) as customer_id,
        coalesce(login_signals.distinct_ips, 0) as distinct_ips,
        coalesce(login_signals.login_attempts, 0) as login_attempts,
        coalesce(login_signals.failed_logins, 0) as failed_logins,
        coalesce(order_signals.orders_in_window, 0) as orders_in_window,
        coalesce(order_signals.high_value_orders, 0) as high_value_orders,
        order_signals.max_order_total,
        coalesce(order_signals.window_spend, 0) as window_spend
    from login_signals
    full outer join order_signals
        on login_signals.customer_id = order_signals.customer_id
),

conditions as (
    select
        customer_signals.*,
        thresholds.*,
        customer_signals.distinct_ips > thresholds.max_distinct_ips as is_too_many_ips,
        customer_signals.login_attempts > thresholds.max_login_attempts as is_too_many_attempts,
        customer_signals.failed_logins > thresholds.max_failed_logins as is_too_many_failures,
        customer_signals.high_value_orders > 0 as is_high_value,
        customer_signals.orders_in_window > thresholds.max_orders_in_window as is_too_many_orders
    from customer_signals
    cross join thresholds
),

final as (
    select
        customer_id,
        cast(distinct_ips as integer) as distinct_ips,
        cast(login_attempts as integer) as login_attempts,
        cast(failed_logins as integer) as failed_logins,
        cast(orders_in_window as integer) as orders_in_window,
        cast(high_value_orders as integer) as high_value_orders,
        cast(max_order_total as decimal(12, 2)) as max_order_total,
        cast(window_spend as decimal(14, 2)) as window_spend,
        (is_too_many_ips or is_too_many_attempts or is_too_many_failures) as is_login_anomaly,
        (is_high_value or is_too_many_orders) as is_order_anomaly,
        (is_too_many_ips or is_too_many_attempts or is_too_many_failures)
            and (is_high_value or is_too_many_orders) as is_flagged,
        -- concat_ws skips the NULLs of conditions that did not trigger; nothing triggered gives ''.
        nullif(
            concat_ws(
                '; ',
                case
                    when is_too_many_ips
                        then 'distinct_ips ' || cast(distinct_ips as varchar)
                            || ' > ' || cast(max_distinct_ips as varchar)
                end,
                case
                    when is_too_many_attempts
                        then 'login_attempts ' || cast(login_attempts as varchar)
                            || ' > ' || cast(max_login_attempts as varchar)
                end,
                case
                    when is_too_many_failures
                        then 'failed_logins ' || cast(failed_logins as varchar)
                            || ' > ' || cast(max_failed_logins as varchar)
                end,
                case
                    when is_high_value
                        then 'high_value_order ' || cast(cast(max_order_total as decimal(12, 2)) as varchar)
                            || ' > ' || cast(high_value_order_total as varchar)
                end,
                case
                    when is_too_many_orders
                        then 'orders_in_window ' || cast(orders_in_window as varchar)
                            || ' > ' || cast(max_orders_in_window as varchar)
                end
            ),
            ''
        ) as flag_reasons
    from conditions
)

select * from final
