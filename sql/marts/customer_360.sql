-- One row per customer: profile without direct personal data, lifetime orders, and the figures of
-- every other mart for the run date. Names, emails, phones, birth dates and IP addresses stay in stage.
with customers as (
    select
        *,
        floor(cast(date_diff('day', birth_date, {{ run_date }}) as double) / 365.25) as age_years
    from stage.customers
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

orders as (
    select *
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

interactions as (
    select *
    from stage.interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

rfm as (
    select *
    from analytics.rfm
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

churn as (
    select *
    from analytics.churn_risk
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

engagement as (
    select *
    from analytics.omni_channel_engagement
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

fraud as (
    select *
    from analytics.fraud_flags
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

clv as (
    select *
    from analytics.clv
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

segments as (
    select *
    from analytics.segments
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

order_totals_base as (
    select
        customer_id,
        min(ordered_at) filter (where is_revenue) as first_order_at,
        max(ordered_at) filter (where is_revenue) as last_order_at,
        count(*) filter (where is_revenue) as lifetime_orders,
        coalesce(sum(total_amount) filter (where is_revenue), 0) as lifetime_revenue,
        count(*) filter (where not is_revenue) as cancelled_or_refunded_orders
    from orders
    group by customer_id
),

order_totals as (
    select
        *,
        -- 2 x revenue in cents + orders: the numerator of the average rounded half up (see below)
        2 * cast(lifetime_revenue * 100 as bigint) + lifetime_orders as aov_numerator
    from order_totals_base
),

service_totals as (
    select
        customer_id,
        count(*) filter (where event_type = 'support_ticket') as support_tickets,
        avg(resolution_minutes) filter (where event_type = 'support_ticket') as avg_resolution_minutes,
        avg(satisfaction) filter (where event_type = 'support_ticket') as avg_satisfaction,
        count(*) filter (where event_type = 'review') as reviews,
        avg(rating) filter (where event_type = 'review') as avg_rating,
        coalesce(sum(points) filter (where event_type = 'loyalty_earn'), 0) as loyalty_points_earned,
        coalesce(sum(abs(points)) filter (where event_type = 'loyalty_redeem'), 0) as loyalty_points_redeemed
    from interactions
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.source,
        customers.gender,
        -- whole years from days: date_diff('year', ...) counts calendar boundaries on DuckDB but whole
        -- years on Trino, so it is not portable; the days are divided as a double because a bigint
        -- divided by 365.25 is a decimal rounded to two places on Trino
        case
            when customers.birth_date is null then null
            when customers.age_years < 18 then 'under 18'
            when customers.age_years < 25 then '18-24'
            when customers.age_years < 35 then '25-34'
            when customers.age_years < 45 then '35-44'
            when customers.age_years < 55 then '45-54'
            when customers.age_years < 65 then '55-64'
            else '65+'
        end as age_band,
        customers.city,
        customers.state,
        customers.country,
        customers.loyalty_tier,
        customers.is_marketing_opt_in,
        customers.signup_at,
        date_diff(
            'day', cast(coalesce(customers.signup_at, order_totals.first_order_at) as date), {{ run_date }}
        ) as tenure_days,
        order_totals.first_order_at,
        order_totals.last_order_at,
        coalesce(order_totals.lifetime_orders, 0) as lifetime_orders,
        coalesce(order_totals.lifetime_revenue, 0) as lifetime_revenue,
        -- revenue / orders rounded half up to the cent, in whole cents: decimal division is decimal on
        -- Trino but a double on DuckDB, and rounding a double is a cent off on exact half cents (0.025
        -- is 0.02499... as a double). With c cents over n orders, floor((2c + n) / 2n) is c / n rounded
        -- half up (revenue orders are never negative); a - a % b is a multiple of b, so the division is
        -- exact on both engines (integer on Trino, a whole double on DuckDB)
        case
            when order_totals.lifetime_orders > 0
                then cast(cast(
                    (order_totals.aov_numerator - order_totals.aov_numerator % (2 * order_totals.lifetime_orders))
                    / (2 * order_totals.lifetime_orders) as decimal(18, 0)) * 0.01 as decimal(14, 2))
        end as avg_order_value,
        coalesce(order_totals.cancelled_or_refunded_orders, 0) as cancelled_or_refunded_orders,
        rfm.recency_days,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.segment as rfm_segment,
        -- every customer gets a stage a marketer can act on: RFM scores only those who bought in the
        -- window, which left most of a real customer base (and the demo's largest revenue group) null
        case
            when rfm.segment is not null then rfm.segment
            when order_totals.lifetime_orders > 0 then 'Lapsed'
            else 'Prospect'
        end as lifecycle_stage,
        churn.days_since_last_order,
        churn.avg_gap_days,
        churn.is_churn_risk,
        churn.churn_probability,
        churn.is_churn_model_trustworthy,
        clv.p_alive,
        clv.expected_purchases_long,
        clv.lifetime_value,
        clv.is_trustworthy as is_clv_trustworthy,
        segments.kmeans_segment,
        engagement.email_open_rate,
        engagement.email_click_rate,
        coalesce(engagement.web_visits, 0) as web_visits,
        coalesce(engagement.active_channels, 0) as active_channels,
        engagement.primary_channel,
        coalesce(fraud.is_flagged, false) as is_fraud_flagged,
        fraud.flag_reasons as fraud_reasons,
        coalesce(service_totals.support_tickets, 0) as support_tickets,
        service_totals.avg_resolution_minutes,
        service_totals.avg_satisfaction,
        coalesce(service_totals.reviews, 0) as reviews,
        service_totals.avg_rating,
        coalesce(service_totals.loyalty_points_earned, 0) as loyalty_points_earned,
        coalesce(service_totals.loyalty_points_redeemed, 0) as loyalty_points_redeemed,
        coalesce(service_totals.loyalty_points_earned, 0)
            - coalesce(service_totals.loyalty_points_redeemed, 0) as loyalty_points_balance
    from customers
    left join order_totals
        on customers.customer_id = order_totals.customer_id
    left join service_totals
        on customers.customer_id = service_totals.customer_id
    left join rfm
        on customers.customer_id = rfm.customer_id
    left join churn
        on customers.customer_id = churn.customer_id
    left join engagement
        on customers.customer_id = engagement.customer_id
    left join fraud
        on customers.customer_id = fraud.customer_id
    left join clv
        on customers.customer_id = clv.customer_id
    left join segments
        on customers.customer_id = segments.customer_id
)

select * from final
