-- Customers and their value by lifecycle stage and RFM segment (one row per pair). Lifetime value and
-- churn probability are averaged over the customers whose model passed its checks only: a withheld
-- CLV or an untrustworthy churn model is null in customer_360, and an average must not treat it as 0.
with customers as (
    select
        lifecycle_stage,
        rfm_segment,
        lifetime_revenue,
        lifetime_value,
        churn_probability,
        is_churn_risk
    from analytics.customer_360_latest
),

by_segment as (
    select
        lifecycle_stage,
        rfm_segment,
        count(*) as customers,
        sum(lifetime_revenue) as lifetime_revenue,
        avg(cast(lifetime_value as double)) as avg_lifetime_value,
        sum(lifetime_value) as expected_lifetime_value,
        avg(churn_probability) as avg_churn_probability,
        count_if(is_churn_risk) as churn_risk_customers
    from customers
    group by lifecycle_stage, rfm_segment
),

final as (
    select
        lifecycle_stage,
        rfm_segment,
        customers,
        cast(customers as double) / sum(customers) over () as share,
        cast(lifetime_revenue as decimal(38, 2)) as lifetime_revenue,
        avg_lifetime_value,
        cast(expected_lifetime_value as decimal(38, 2)) as expected_lifetime_value,
        avg_churn_probability,
        cast(churn_risk_customers as bigint) as churn_risk_customers
    from by_segment
)

select * from final
