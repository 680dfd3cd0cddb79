-- The models' inputs per customer and cutoff, built once a run and read by model_bgnbd_inputs,
-- model_samples and the scoring marts (clv, segments, churn_risk).
--
-- Cutoffs: 'score' = the run date D, 'evaluate' = D - H, 'train' = D - 2H (H = churn_horizon_days).
-- A row exists for each cutoff and each customer with a revenue purchase on or before it.
--
-- Leak-free by construction: every feature reads only orders and events dated on or before the
-- cutoff (date <= cutoff_date), and last_feature_event_at records the latest one used, which Fit models
-- checks; only the label reads after the cutoff: is_churned = no revenue purchase day in
-- (cutoff, cutoff + H], and for 'train' and 'evaluate' that period ends by D.
--
-- Purchases are calendar days with a revenue order (several orders on one day are one purchase, spend
-- summed), as BG/NBD counts them: x = purchase days after the first, t_x = first to last purchase day,
-- T = first purchase day to the cutoff, in time_unit_days units (1: days; 7: whole weeks, floored).
-- mean_repeat_spend excludes the first purchase day, as Gamma-Gamma defines m_x.
-- sample_hash is xxhash64 of the customer id with the sign bit cleared: the same on Trino and DuckDB.
with orders as (
    select
        customer_id,
        ordered_at,
        total_amount
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and is_revenue
        and ordered_at < {{ run_date }} + interval '1' day
),

interactions as (
    select
        customer_id,
        event_type,
        event_at,
        points
    from stage.interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and event_at < {{ run_date }} + interval '1' day
),

cutoffs as (
    select
        'score' as cutoff_role,
        {{ run_date }} as cutoff_date
    union all
    select
        'evaluate' as cutoff_role,
        cast({{ run_date }} - interval '1' day * {{ churn_horizon_days }} as date) as cutoff_date
    union all
    select
        'train' as cutoff_role,
        cast({{ run_date }} - interval '1' day * (2 * {{ churn_horizon_days }}) as date) as cutoff_date
),

purchase_days as (
    select
        customer_id,
        cast(ordered_at as date) as purchase_date,
        -- decimal until the end: a sum of doubles depends on the order the engine adds them in
        sum(total_amount) as spend,
        max(ordered_at) as last_ordered_at
    from orders
    group by customer_id, cast(ordered_at as date)
),

purchases_by_cutoff as (
    select
        cutoffs.cutoff_role,
        cutoffs.cutoff_date,
        purchase_days.*
    from purchase_days
    cross join cutoffs
    where purchase_days.purchase_date <= cutoffs.cutoff_date
),

purchase_summary as (
    select
        cutoff_role,
        cutoff_date,
        customer_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        sum(spend) as total_spend,
        min_by(spend, purchase_date) as first_day_spend,
        count_if(purchase_date > cast(cutoff_date - interval '1' day * {{ churn_horizon_days }} as date))
            as recent_purchase_days,
        max(last_ordered_at) as last_ordered_at
    from purchases_by_cutoff
    group by cutoff_role, cutoff_date, customer_id
),

labels as (
    select
        cutoffs.cutoff_role,
        purchase_days.customer_id,
        count(*) as next_purchase_days
    from purchase_days
    cross join cutoffs
    where cutoffs.cutoff_role <> 'score'
        and purchase_days.purchase_date > cutoffs.cutoff_date
        and purchase_days.purchase_date <= cast(cutoffs.cutoff_date + interval '1' day * {{ churn_horizon_days }} as date)
    group by cutoffs.cutoff_role, purchase_days.customer_id
),

events_by_cutoff as (
    select
        cutoffs.cutoff_role,
        cutoffs.cutoff_date,
        interactions.*
    from interactions
    cross join cutoffs
    where cast(interactions.event_at as date) <= cutoffs.cutoff_date
),

event_summary as (
    select
        cutoff_role,
        customer_id,
        count_if(
            event_type in ('email_open', 'email_click', 'ad_click', 'web_visit', 'login')
            and cast(event_at as date) > cast(cutoff_date - interval '1' day * {{ engagement_window_days }} as date)
        ) as engagement_events,
        count_if(event_type = 'support_ticket') as support_tickets,
        coalesce(sum(points) filter (where event_type = 'loyalty_earn'), 0)
            - coalesce(sum(abs(points)) filter (where event_type = 'loyalty_redeem'), 0) as loyalty_points_balance,
        max(event_at) as last_event_at
    from events_by_cutoff
    group by cutoff_role, customer_id
),

customer_hashes as (
    select
        customer_id,
        bitwise_and(from_big_endian_64(xxhash64(to_utf8(cast(customer_id as varchar)))), 9223372036854775807)
            as sample_hash
    from (select distinct customer_id from purchase_days) as buyers
),

joined as (
    select
        purchase_summary.*,
        customer_hashes.sample_hash,
        date_diff('day', purchase_summary.first_purchase_date, purchase_summary.last_purchase_date) as recency_days,
        date_diff('day', purchase_summary.first_purchase_date, purchase_summary.cutoff_date) as tenure_days,
        date_diff('day', purchase_summary.last_purchase_date, purchase_summary.cutoff_date) as days_since_last_purchase,
        coalesce(event_summary.engagement_events, 0) as engagement_events,
        coalesce(event_summary.support_tickets, 0) as support_tickets,
        cast(coalesce(event_summary.loyalty_points_balance, 0) as double) as loyalty_points_balance,
        event_summary.last_event_at,
        labels.next_purchase_days
    from purchase_summary
    inner join customer_hashes
        on purchase_summary.customer_id = customer_hashes.customer_id
    left join event_summary
        on purchase_summary.cutoff_role = event_summary.cutoff_role
        and purchase_summary.customer_id = event_summary.customer_id
    left join labels
        on purchase_summary.cutoff_role = labels.cutoff_role
        and purchase_summary.customer_id = labels.customer_id
),

final as (
    select
        cutoff_role,
        cutoff_date,
        customer_id,
        sample_hash,
        first_purchase_date,
        last_purchase_date,
        cast(purchase_days as integer) as purchase_days,
        cast(purchase_days - 1 as integer) as repeat_purchases,
        cast(floor(cast(recency_days as double) / {{ time_unit_days }}) as integer) as recency_units,
        cast(floor(cast(tenure_days as double) / {{ time_unit_days }}) as integer) as age_units,
        cast(days_since_last_purchase as integer) as days_since_last_purchase,
        cast(tenure_days as integer) as tenure_days,
        cast(total_spend as double) as total_spend,
        case when purchase_days > 1 then cast(total_spend - first_day_spend as double) / (purchase_days - 1) end
            as mean_repeat_spend,
        cast(recent_purchase_days as integer) as recent_purchase_days,
        cast(engagement_events as integer) as engagement_events,
        cast(support_tickets as integer) as support_tickets,
        loyalty_points_balance,
        ln(1 + days_since_last_purchase) as f_log_recency_days,
        ln(1 + purchase_days) as f_log_purchase_days,
        ln(1 + tenure_days) as f_log_tenure_days,
        ln(1 + greatest(cast(total_spend as double), 0) / purchase_days) as f_log_mean_spend,
        ln(1 + recent_purchase_days) as f_log_recent_purchase_days,
        ln(1 + engagement_events) as f_log_engagement_events,
        ln(1 + support_tickets) as f_log_support_tickets,
        ln(1 + greatest(loyalty_points_balance, 0)) as f_log_loyalty_balance,
        greatest(last_ordered_at, coalesce(last_event_at, last_ordered_at)) as last_feature_event_at,
        case when cutoff_role <> 'score' then coalesce(next_purchase_days, 0) = 0 end as is_churned,
        case when cutoff_role <> 'score' then cast(coalesce(next_purchase_days, 0) as integer) end
            as next_purchase_days
    from joined
)

select * from final
