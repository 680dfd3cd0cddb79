-- K-Means cluster profiles: each cluster's size and the mean of the features it was clustered on
-- (segments), with the mean lifetime value and churn probability of its customers (customer_360).
with segments as (
    select
        customer_id,
        kmeans_cluster,
        kmeans_segment,
        days_since_last_purchase,
        purchase_days,
        mean_spend,
        engagement_events,
        is_trustworthy
    from analytics.segments_latest
    where kmeans_segment is not null
),

customers as (
    select
        customer_id,
        lifetime_value,
        churn_probability
    from analytics.customer_360_latest
),

by_segment as (
    select
        segments.kmeans_segment,
        min(segments.kmeans_cluster) as kmeans_cluster,
        count(*) as customers,
        avg(cast(segments.days_since_last_purchase as double)) as avg_days_since_last_purchase,
        avg(cast(segments.purchase_days as double)) as avg_purchase_days,
        avg(segments.mean_spend) as avg_mean_spend,
        avg(cast(segments.engagement_events as double)) as avg_engagement_events,
        avg(cast(customers.lifetime_value as double)) as avg_lifetime_value,
        avg(customers.churn_probability) as avg_churn_probability,
        bool_and(segments.is_trustworthy) as is_trustworthy
    from segments
    left join customers
        on segments.customer_id = customers.customer_id
    group by segments.kmeans_segment
),

final as (
    select
        kmeans_segment,
        kmeans_cluster,
        customers,
        cast(customers as double) / sum(customers) over () as share,
        avg_days_since_last_purchase,
        avg_purchase_days,
        avg_mean_spend,
        avg_engagement_events,
        avg_lifetime_value,
        avg_churn_probability,
        is_trustworthy
    from by_segment
)

select * from final
