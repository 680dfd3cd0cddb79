-- The 100 customers with the most lifetime value at risk: value_at_risk = lifetime_value x
-- churn_probability, so a valuable customer who is likely to leave comes first. Only customers with a
-- trustworthy CLV and churn probability (both non-null in customer_360) are ranked. Ids only: the CRM
-- holds the names.
with customers as (
    select
        customer_id,
        lifetime_value,
        churn_probability,
        rfm_segment,
        lifecycle_stage,
        days_since_last_order,
        lifetime_revenue,
        primary_channel
    from analytics.customer_360_latest
    where lifetime_value is not null
        and churn_probability is not null
),

valued as (
    select
        *,
        cast(lifetime_value as double) * churn_probability as value_at_risk
    from customers
),

ranked as (
    select
        *,
        row_number() over (order by value_at_risk desc, customer_id) as risk_rank
    from valued
),

final as (
    select
        risk_rank,
        customer_id,
        value_at_risk,
        lifetime_value,
        churn_probability,
        rfm_segment,
        lifecycle_stage,
        days_since_last_order,
        lifetime_revenue,
        primary_channel
    from ranked
    where risk_rank <= 100
)

select * from final
