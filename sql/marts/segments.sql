-- K-Means segment per customer with a revenue purchase by the run date: the nearest centroid (squared
-- Euclidean distance) on the fitted features, each standardized with the fit's own mean and scale
-- (model_parameters), and the cluster's name from its centroid profile. The fit itself ran on a
-- bounded sample in the Fit models Lambda; assigning every customer is this set-based join with the
-- k centroids. Ties go to the lower cluster number.
with features as (
    select *
    from analytics.model_features
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and cutoff_role = 'score'
),

parameters as (
    select *
    from analytics.model_parameters
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and model = 'kmeans'
),

kmeans_fit as (
    -- one row, also when the fit wrote none
    select bool_or(is_trustworthy) as is_trustworthy
    from analytics.model_runs
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and model = 'kmeans'
),

scaling as (
    select
        max(value) filter (where parameter = 'mean' and feature = 'f_log_recency_days') as recency_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_recency_days') as recency_scale,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_purchase_days') as frequency_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_purchase_days') as frequency_scale,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_mean_spend') as spend_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_mean_spend') as spend_scale,
        max(value) filter (where parameter = 'mean' and feature = 'f_log_engagement_events') as engagement_mean,
        max(value) filter (where parameter = 'scale' and feature = 'f_log_engagement_events') as engagement_scale
    from parameters
),

centroids as (
    select
        cluster,
        max(value) filter (where parameter = 'centroid' and feature = 'f_log_recency_days') as recency,
        max(value) filter (where parameter = 'centroid' and feature = 'f_log_purchase_days') as frequency,
        max(value) filter (where parameter = 'centroid' and feature = 'f_log_mean_spend') as spend,
        max(value) filter (where parameter = 'centroid' and feature = 'f_log_engagement_events') as engagement,
        max(label) filter (where parameter = 'name') as cluster_name
    from parameters
    where cluster is not null
    group by cluster
),

standardized as (
    select
        features.customer_id,
        features.days_since_last_purchase,
        features.purchase_days,
        features.total_spend / features.purchase_days as mean_spend,
        features.engagement_events,
        (features.f_log_recency_days - scaling.recency_mean) / scaling.recency_scale as z_recency,
        (features.f_log_purchase_days - scaling.frequency_mean) / scaling.frequency_scale as z_frequency,
        (features.f_log_mean_spend - scaling.spend_mean) / scaling.spend_scale as z_spend,
        (features.f_log_engagement_events - scaling.engagement_mean) / scaling.engagement_scale as z_engagement
    from features
    cross join scaling
),

distances as (
    select
        standardized.*,
        centroids.cluster,
        centroids.cluster_name,
        power(standardized.z_recency - centroids.recency, 2)
            + power(standardized.z_frequency - centroids.frequency, 2)
            + power(standardized.z_spend - centroids.spend, 2)
            + power(standardized.z_engagement - centroids.engagement, 2) as squared_distance
    from standardized
    cross join centroids
),

nearest as (
    select
        *,
        row_number() over (partition by customer_id order by squared_distance, cluster) as distance_rank
    from distances
),

final as (
    select
        nearest.customer_id,
        nearest.cluster as kmeans_cluster,
        nearest.cluster_name as kmeans_segment,
        sqrt(nearest.squared_distance) as distance_to_centroid,
        nearest.days_since_last_purchase,
        nearest.purchase_days,
        nearest.mean_spend,
        nearest.engagement_events,
        coalesce(kmeans_fit.is_trustworthy, false) as is_trustworthy
    from nearest
    cross join kmeans_fit
    where nearest.distance_rank = 1
)

select * from final
