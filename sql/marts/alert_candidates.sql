-- What the Raise alerts and Send digest Lambdas read, bounded so that they read a small file of the
-- run's own output rather than the customer table: every fraud-flagged customer of the run, and the
-- high-value customers at risk of churning (churn model probability at least
-- alert_min_churn_probability and lifetime value at least alert_min_lifetime_value, from a trustworthy
-- churn model and CLV fit), the alert_max_at_risk most valuable first. Ids and figures only.
with fraud as (
    select *
    from analytics.fraud_flags
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and is_flagged
),

customers as (
    select *
    from analytics.customer_360
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

at_risk as (
    select
        customer_id,
        churn_probability,
        lifetime_value,
        row_number() over (order by lifetime_value desc, customer_id) as value_rank
    from customers
    where is_churn_model_trustworthy
        and is_clv_trustworthy
        and churn_probability >= {{ alert_min_churn_probability }}
        and lifetime_value >= {{ alert_min_lifetime_value }}
),

final as (
    select
        'fraud' as kind,
        fraud.customer_id,
        fraud.flag_reasons as reasons,
        customers.churn_probability,
        cast(customers.lifetime_value as double) as lifetime_value
    from fraud
    left join customers
        on fraud.customer_id = customers.customer_id
    union all
    select
        'churn_risk' as kind,
        customer_id,
        cast(null as varchar) as reasons,
        churn_probability,
        cast(lifetime_value as double) as lifetime_value
    from at_risk
    where value_rank <= {{ alert_max_at_risk }}
)

select * from final
