-- Purchase-gap churn rule, one row per customer with at least one revenue order up to the run date
-- (ordered_at < run_date + 1 day, no lower bound). Cancelled and refunded orders are not purchases:
-- they make no gap and do not move the last order.
--
-- Gaps are calendar days between consecutive purchase days (distinct order dates), not orders: three
-- orders on one day are one visit, and counting them as gaps of 0 days pulled the mean gap, and so the
-- threshold, towards zero (a customer whose orders all fell on one day had a zero threshold and was
-- flagged two days later). Days since the last purchase are calendar days from its date to the run
-- date, the same unit. Dates, not timestamps, are differenced so Trino and DuckDB count alike.
--
-- Repeat buyers (two purchase days or more): threshold_days = churn_gap_multiplier x avg_gap_days;
-- is_churn_risk when days_since_last_order > threshold_days (strictly: exactly on it is within);
-- reasons gap_exceeded / within_gap.
-- One-time buyers (one purchase day) have no gap of their own, and leaving them never at risk made the
-- flag point the wrong way on real data (half the customers, bought once long ago, all unflagged). They
-- are measured against the customer base instead: baseline_gap_days is the median, over customers with
-- two purchase days or more, of the days from their first to their second purchase day (the exact
-- median: the middle value, or the mean of the two middle ones), and threshold_days =
-- one_time_buyer_gap_multiplier x that median; reasons one_time_overdue / one_time_within. With no
-- repeat buyer at all there is no baseline: no_repeat_baseline, not at risk.
-- stddev_gap_days is the sample standard deviation, null with fewer than two gaps.
--
-- The churn model (fitted by the Fit models Lambda, see docs/models.md) scores the same customers:
-- churn_probability = 1 / (1 + exp(-(intercept + sum of coefficient x (feature - mean) / scale))),
-- with the features of model_features as of the run date, and the expected purchases over H from the
-- run's BG/NBD fit (model_clv_by_triple). The coefficients are pivoted into one row and the terms
-- added in a fixed order (a sum over unpivoted rows adds them in whatever order the engine reads them,
-- and a rerun differed in the last bit); a feature the model was fitted without (no BG/NBD fit) has no
-- coefficient and adds nothing. churn_model_status is the model's status in
-- model_runs: a model that did not beat recency alone on held-out customers says so there and here.
with orders as (
    select
        customer_id,
        ordered_at,
        is_revenue
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

revenue_orders as (
    select
        customer_id,
        ordered_at
    from orders
    where is_revenue
        and ordered_at < {{ run_date }} + interval '1' day
),

purchase_days as (
    select distinct
        customer_id,
        cast(ordered_at as date) as purchase_date
    from revenue_orders
),

with_previous_day as (
    select
        customer_id,
        purchase_date,
        lag(purchase_date) over (partition by customer_id order by purchase_date) as previous_purchase_date,
        row_number() over (partition by customer_id order by purchase_date) as purchase_number
    from purchase_days
),

day_gaps as (
    select
        *,
        -- null on a customer's first purchase day, which aggregates below skip
        cast(date_diff('day', previous_purchase_date, purchase_date) as double) as gap_days
    from with_previous_day
),

customer_orders as (
    select
        customer_id,
        count(*) as order_count,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from revenue_orders
    group by customer_id
),

customer_gaps as (
    select
        customer_id,
        count(*) as purchase_day_count,
        avg(gap_days) as avg_gap_days,
        max(gap_days) as max_gap_days,
        stddev_samp(gap_days) as stddev_gap_days
    from day_gaps
    group by customer_id
),

second_purchase_gaps as (
    select
        gap_days,
        row_number() over (order by gap_days) as position,
        count(*) over () as repeat_buyers
    from day_gaps
    where purchase_number = 2
),

baseline as (
    -- the middle position(s): 2 x position in [n, n + 2] is the middle one for odd n, the two middle
    -- ones for even n (integer arithmetic only: integer division differs between the engines)
    select avg(gap_days) as baseline_gap_days
    from second_purchase_gaps
    where 2 * position between repeat_buyers and repeat_buyers + 2
),

with_threshold as (
    select
        customer_orders.*,
        customer_gaps.purchase_day_count,
        customer_gaps.avg_gap_days,
        customer_gaps.max_gap_days,
        customer_gaps.stddev_gap_days,
        case when customer_gaps.purchase_day_count = 1 then baseline.baseline_gap_days end as baseline_gap_days,
        date_diff('day', cast(customer_orders.last_order_at as date), {{ run_date }}) as days_since_last_order,
        case
            when customer_gaps.purchase_day_count = 1 then cast({{ one_time_buyer_gap_multiplier }} as double)
            else cast({{ churn_gap_multiplier }} as double)
        end as gap_multiplier,
        case
            when customer_gaps.purchase_day_count = 1
                then cast({{ one_time_buyer_gap_multiplier }} as double) * baseline.baseline_gap_days
            else cast({{ churn_gap_multiplier }} as double) * customer_gaps.avg_gap_days
        end as threshold_days
    from customer_orders
    inner join customer_gaps
        on customer_orders.customer_id = customer_gaps.customer_id
    cross join baseline
),

rule_based as (
    select
        customer_id,
        cast(order_count as integer) as order_count,
        cast(purchase_day_count as integer) as purchase_days,
        first_order_at,
        last_order_at,
        cast(days_since_last_order as integer) as days_since_last_order,
        avg_gap_days,
        max_gap_days,
        stddev_gap_days,
        baseline_gap_days,
        gap_multiplier,
        threshold_days,
        coalesce(days_since_last_order > threshold_days, false) as is_churn_risk,
        case
            when threshold_days is null then 'no_repeat_baseline'
            when purchase_day_count = 1 and days_since_last_order > threshold_days then 'one_time_overdue'
            when purchase_day_count = 1 then 'one_time_within'
            when days_since_last_order > threshold_days then 'gap_exceeded'
            else 'within_gap'
        end as risk_reason
    from with_threshold
),

score_features as (
    select *
    from analytics.model_features
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and cutoff_role = 'score'
),

by_triple as (
    select *
    from analytics.model_clv_by_triple
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

churn_parameters as (
    select *
    from analytics.model_parameters
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and model = 'churn'
),

churn_fit as (
    -- one row, also when the fit wrote none
    select
        max(status) as churn_model_status,
        bool_or(is_trustworthy) as is_churn_model_trustworthy
    from analytics.model_runs
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and model = 'churn'
),

coefficients as (
    select
        max(value) filter (where parameter = 'intercept') as intercept,
        max(value) filter (where parameter = 'coefficient' and feature = 'f_log_recency_days')
            as recency_coefficient,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_recency_days')
            as recency_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_recency_days')
            as recency_scale,
        max(value) filter (where parameter = 'coefficient' and feature = 'f_log_purchase_days')
            as frequency_coefficient,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_purchase_days')
            as frequency_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_purchase_days')
            as frequency_scale,
        max(value) filter (where parameter = 'coefficient' and feature = 'f_log_recent_purchase_days')
            as recent_coefficient,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_recent_purchase_days')
            as recent_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_recent_purchase_days')
            as recent_scale,
        max(value) filter (where parameter = 'coefficient' and feature = 'f_log_engagement_events')
            as engagement_coefficient,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_engagement_events')
            as engagement_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_engagement_events')
            as engagement_scale,
        max(value) filter (where parameter = 'coefficient' and feature = 'f_log_support_tickets')
            as support_coefficient,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_support_tickets')
            as support_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_support_tickets')
            as support_scale,
        max(value) filter (where parameter = 'coefficient' and feature = 'f_log_loyalty_balance')
            as loyalty_coefficient,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_loyalty_balance')
            as loyalty_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_loyalty_balance')
            as loyalty_scale,
        max(value) filter (where parameter = 'coefficient' and feature = 'f_log_expected_purchases')
            as expected_coefficient,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_expected_purchases')
            as expected_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_expected_purchases')
            as expected_scale
    from churn_parameters
),

with_bgnbd as (
    select
        score_features.*,
        ln(1 + by_triple.expected_purchases_churn_horizon) as f_log_expected_purchases
    from score_features
    left join by_triple
        on score_features.repeat_purchases = by_triple.repeat_purchases
        and score_features.recency_units = by_triple.recency_units
        and score_features.age_units = by_triple.age_units
),

linear_scores as (
    select
        with_bgnbd.customer_id,
        coefficients.intercept
            + coalesce(
                coefficients.recency_coefficient * (with_bgnbd.f_log_recency_days - coefficients.recency_mean)
                / coefficients.recency_scale,
                0
            )
            + coalesce(
                coefficients.frequency_coefficient * (with_bgnbd.f_log_purchase_days - coefficients.frequency_mean)
                / coefficients.frequency_scale,
                0
            )
            + coalesce(
                coefficients.recent_coefficient * (with_bgnbd.f_log_recent_purchase_days - coefficients.recent_mean)
                / coefficients.recent_scale,
                0
            )
            + coalesce(
                coefficients.engagement_coefficient * (with_bgnbd.f_log_engagement_events - coefficients.engagement_mean)
                / coefficients.engagement_scale,
                0
            )
            + coalesce(
                coefficients.support_coefficient * (with_bgnbd.f_log_support_tickets - coefficients.support_mean)
                / coefficients.support_scale,
                0
            )
            + coalesce(
                coefficients.loyalty_coefficient * (with_bgnbd.f_log_loyalty_balance - coefficients.loyalty_mean)
                / coefficients.loyalty_scale,
                0
            )
            + coalesce(
                coefficients.expected_coefficient * (with_bgnbd.f_log_expected_purchases - coefficients.expected_mean)
                / coefficients.expected_scale,
                0
            )
            as linear_score
    from with_bgnbd
    cross join coefficients
    where coefficients.intercept is not null
),

model_scores as (
    select
        customer_id,
        1 / (1 + exp(-linear_score)) as churn_probability
    from linear_scores
),

final as (
    select
        rule_based.*,
        model_scores.churn_probability,
        {{ churn_horizon_days }} as churn_horizon_days,
        model_scores.churn_probability >= {{ churn_threshold }} as is_predicted_churn,
        churn_fit.churn_model_status,
        churn_fit.is_churn_model_trustworthy
    from rule_based
    left join model_scores
        on rule_based.customer_id = model_scores.customer_id
    cross join churn_fit
)

select * from final
