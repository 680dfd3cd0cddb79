-- Churn probability in ten bands of 10 points: band k holds [k/10, (k+1)/10), and the last band also
-- holds 1.0. Customers without a probability (no model, or a model that is not trustworthy) are left
-- out rather than counted in a band they do not belong to.
with customers as (
    select
        churn_probability,
        is_churn_risk,
        lifetime_value
    from analytics.customer_360_latest
    where churn_probability is not null
),

banded as (
    select
        least(cast(floor(churn_probability * 10) as integer), 9) as band_index,
        is_churn_risk,
        lifetime_value
    from customers
),

by_band as (
    select
        band_index,
        count(*) as customers,
        count_if(is_churn_risk) as churn_risk_customers,
        sum(lifetime_value) as lifetime_value
    from banded
    group by band_index
),

final as (
    select
        band_index,
        cast(band_index * 10 as varchar) || '-' || cast(band_index * 10 + 10 as varchar) || '%' as band_label,
        band_index / 10.0e0 as probability_from,
        (band_index + 1) / 10.0e0 as probability_to,
        customers,
        cast(churn_risk_customers as bigint) as churn_risk_customers,
        cast(lifetime_value as decimal(38, 2)) as lifetime_value
    from by_band
)

select * from final
