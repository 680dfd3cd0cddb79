-- Engagement by channel, one row each for email, ads, web and purchase, with the same definitions as
-- omni_channel_engagement.sql: activity is what the customer did (email opens and clicks, ad clicks,
-- web visits, orders); exposures are what was sent or shown (emails sent, ad views).
--   action_rate: email clicks / emails sent, ad clicks / ad views, (web + mobile orders) / web visits;
--   null for purchase (an order is its own action) and when the denominator is 0.
with engagement as (
    select
        emails_sent,
        email_opens,
        email_clicks,
        ad_views,
        ad_clicks,
        web_visits,
        orders,
        web_orders,
        mobile_orders,
        primary_channel
    from analytics.omni_channel_engagement_latest
),

totals as (
    select
        count_if(email_opens + email_clicks > 0) as email_active,
        count_if(ad_clicks > 0) as ads_active,
        count_if(web_visits > 0) as web_active,
        count_if(orders > 0) as purchase_active,
        count_if(primary_channel = 'email') as email_primary,
        count_if(primary_channel = 'ads') as ads_primary,
        count_if(primary_channel = 'web') as web_primary,
        count_if(primary_channel = 'purchase') as purchase_primary,
        sum(cast(emails_sent as bigint)) as emails_sent,
        sum(cast(email_opens as bigint) + email_clicks) as email_actions,
        sum(cast(email_clicks as bigint)) as email_clicks,
        sum(cast(ad_views as bigint)) as ad_views,
        sum(cast(ad_clicks as bigint)) as ad_clicks,
        sum(cast(web_visits as bigint)) as web_visits,
        sum(cast(web_orders as bigint) + mobile_orders) as visit_orders,
        sum(cast(orders as bigint)) as orders
    from engagement
),

channels as (
    select 'email' as channel, email_active as active_customers, email_primary as primary_customers,
        emails_sent as exposures, email_actions as actions,
        cast(email_clicks as double) / nullif(emails_sent, 0) as action_rate
    from totals
    union all
    select 'ads', ads_active, ads_primary, ad_views, ad_clicks, cast(ad_clicks as double) / nullif(ad_views, 0)
    from totals
    union all
    select 'web', web_active, web_primary, cast(null as bigint), web_visits,
        cast(visit_orders as double) / nullif(web_visits, 0)
    from totals
    union all
    select 'purchase', purchase_active, purchase_primary, cast(null as bigint), orders, cast(null as double)
    from totals
),

final as (
    select
        channel,
        -- count_if is a bigint on Athena but a hugeint on DuckDB: the declared type is said once here
        cast(active_customers as bigint) as active_customers,
        cast(primary_customers as bigint) as primary_customers,
        cast(exposures as bigint) as exposures,
        cast(coalesce(actions, 0) as bigint) as actions,
        action_rate
    from channels
    -- no engagement rows at all (a fresh stack) is an empty view, not four rows of zeros
    where exists (select 1 from engagement)
)

select * from final
