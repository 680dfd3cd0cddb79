-- Aggregate figures per segment, the only thing the segment summaries (and Bedrock) ever see: for each
-- RFM segment, each K-Means segment, and the Lapsed and Prospect lifecycle stages, the size, share and
-- means of the customers in it, with the same figures for the run this one builds on (the published
-- snapshot base) to say what changed. Never a customer id, name, email or any row-level value.
-- A run without a base (a rebuild, the first run) has no previous figures: previous_* are null.
with current_customers as (
    select *
    from analytics.customer_360
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

previous_customers as (
    select *
    from analytics.customer_360
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
),

labelled as (
    select 'current' as period, 'rfm_segment' as segment_type, rfm_segment as segment, * from current_customers
    where rfm_segment is not null
    union all
    select 'current' as period, 'kmeans_segment' as segment_type, kmeans_segment as segment, * from current_customers
    where kmeans_segment is not null
    union all
    select 'current' as period, 'lifecycle_stage' as segment_type, lifecycle_stage as segment, * from current_customers
    where lifecycle_stage in ('Lapsed', 'Prospect')
    union all
    select 'previous' as period, 'rfm_segment' as segment_type, rfm_segment as segment, * from previous_customers
    where rfm_segment is not null
    union all
    select 'previous' as period, 'kmeans_segment' as segment_type, kmeans_segment as segment, * from previous_customers
    where kmeans_segment is not null
    union all
    select 'previous' as period, 'lifecycle_stage' as segment_type, lifecycle_stage as segment, * from previous_customers
    where lifecycle_stage in ('Lapsed', 'Prospect')
),

totals as (
    select count(*) as current_total
    from current_customers
),

channels as (
    select
        segment_type,
        segment,
        coalesce(primary_channel, 'none') as channel,
        count(*) as customers
    from labelled
    where period = 'current'
    group by segment_type, segment, coalesce(primary_channel, 'none')
),

ranked_channels as (
    select
        segment_type,
        segment,
        row_number() over (partition by segment_type, segment order by customers desc, channel) as position,
        -- as in omni_channel_engagement: a decimal(3, 2) prints alike on both engines, a double does not
        channel || ':' || cast(
            cast(
                round(cast(customers as double) / sum(customers) over (partition by segment_type, segment), 2)
                as decimal(3, 2)
            ) as varchar
        ) as channel_share
    from channels
),

channel_mix as (
    -- the share of the segment's customers by primary channel, largest first: purchase, web, email,
    -- ads and none (no activity in the engagement window) are the five there can be
    select
        segment_type,
        segment,
        concat_ws(
            ';',
            max(case when position = 1 then channel_share end),
            max(case when position = 2 then channel_share end),
            max(case when position = 3 then channel_share end),
            max(case when position = 4 then channel_share end),
            max(case when position = 5 then channel_share end)
        ) as primary_channel_mix
    from ranked_channels
    group by segment_type, segment
),

figures as (
    select
        segment_type,
        segment,
        count(*) filter (where period = 'current') as customers,
        avg(days_since_last_order) filter (where period = 'current') as avg_recency_days,
        avg(lifetime_orders) filter (where period = 'current') as avg_lifetime_orders,
        avg(lifetime_revenue) filter (where period = 'current') as avg_lifetime_revenue,
        avg(lifetime_value) filter (where period = 'current') as avg_lifetime_value,
        -- as decimals: a sum of doubles depends on the order the engine adds them in, and a rerun of the
        -- same data must give the same figures (and the same summaries)
        avg(cast(churn_probability as decimal(18, 12))) filter (where period = 'current') as avg_churn_probability,
        avg(case when is_churn_risk then 1.0 else 0.0 end) filter (where period = 'current') as churn_risk_share,
        count(*) filter (where period = 'previous') as previous_customers,
        avg(lifetime_value) filter (where period = 'previous') as previous_avg_lifetime_value,
        avg(cast(churn_probability as decimal(18, 12))) filter (where period = 'previous')
            as previous_avg_churn_probability
    from labelled
    group by segment_type, segment
),

has_previous as (
    select count(*) > 0 as has_previous
    from previous_customers
),

final as (
    select
        figures.segment_type,
        figures.segment,
        figures.customers,
        cast(figures.customers as double) / nullif(totals.current_total, 0) as share,
        figures.avg_recency_days,
        figures.avg_lifetime_orders,
        cast(figures.avg_lifetime_revenue as double) as avg_lifetime_revenue,
        cast(figures.avg_lifetime_value as double) as avg_lifetime_value,
        cast(figures.avg_churn_probability as double) as avg_churn_probability,
        cast(figures.churn_risk_share as double) as churn_risk_share,
        coalesce(channel_mix.primary_channel_mix, '') as primary_channel_mix,
        case when has_previous.has_previous then figures.previous_customers end as previous_customers,
        cast(figures.previous_avg_lifetime_value as double) as previous_avg_lifetime_value,
        cast(figures.previous_avg_churn_probability as double) as previous_avg_churn_probability
    from figures
    left join channel_mix
        on figures.segment_type = channel_mix.segment_type
        and figures.segment = channel_mix.segment
    cross join totals
    cross join has_previous
    where figures.customers > 0
)

select * from final
