-- Email, ad, web and purchase activity per customer over the engagement window, with rates, the
-- number of active channels, the primary channel and the channel mix.
--
-- Window: the last engagement_window_days calendar days up to and including the run date, i.e.
-- event_at / ordered_at >= run_date + 1 day - engagement_window_days days (00:00:00, included) and
-- < run_date + 1 day (excluded). With 90 days and run date 2024-06-30: 2024-04-02 00:00:00 to
-- 2024-06-30 23:59:59, the same rule as fraud_flags.
--
-- Sources: stage.interactions events email_sent, email_open, email_click, ad_view, ad_click and
-- web_visit (other types, such as logins or support tickets, are not engagement channels), and
-- revenue orders from stage.orders (cancelled and refunded orders are no purchase and no spend).
-- Rows: one per customer with at least one of those events or revenue orders in the window, whichever
-- source it comes from (an interactions-only customer, for example one known only to DynamoDB with a
-- negative id, appears with zero orders). A customer with nothing counted in the window has no row.
--
-- Rates are null when their denominator is 0 and are not capped: an email sent before the window and
-- opened inside it can lift the open rate above 1.
--   email_open_rate = email_opens / emails_sent, email_click_rate = email_clicks / emails_sent,
--   ad_click_rate = ad_clicks / ad_views,
--   visit_conversion_rate = (web_orders + mobile_orders) / web_visits (store orders need no visit).
--
-- Channel activity counts what the customer did, not what was sent or shown to them:
--   email = email_opens + email_clicks, ads = ad_clicks, web = web_visits, purchase = orders.
-- Emails sent and ad views are exposures: counting them would make email the primary channel of
-- everyone on the mailing list. A customer with exposures only has a row (its rates say it ignored
-- them) with active_channels 0 and no primary channel or mix.
--   active_channels = channels with activity > 0;
--   primary_channel = the channel with the most activity; ties go to purchase, then web, then email,
--     then ads (the channel closer to revenue wins);
--   channel_mix = '<channel>:<share>' for each active channel, joined by ';', in the primary-channel
--     order; share = channel activity / total activity rounded to 2 decimals (the shares may not add
--     up to exactly 1.00).
with interactions as (
    select
        customer_id,
        event_type,
        event_at
    from stage.interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

orders as (
    select
        customer_id,
        ordered_at,
        channel,
        total_amount,
        is_revenue
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

events_in_window as (
    select
        customer_id,
        event_type
    from interactions
    where event_type in ('email_sent', 'email_open', 'email_click', 'ad_view', 'ad_click', 'web_visit')
        and event_at >= cast({{ run_date }} as timestamp) + interval '1' day
            - interval '1' day * {{ engagement_window_days }}
        and event_at < cast({{ run_date }} as timestamp) + interval '1' day
),

revenue_orders_in_window as (
    select
        customer_id,
        channel,
        total_amount
    from orders
    where is_revenue
        and ordered_at >= cast({{ run_date }} as timestamp) + interval '1' day
            - interval '1' day * {{ engagement_window_days }}
        and ordered_at < cast({{ run_date }} as timestamp) + interval '1' day
),

event_counts as (
    select
        customer_id,
        count(*) filter (where event_type = 'email_sent') as emails_sent,
        count(*) filter (where event_type = 'email_open') as email_opens,
        count(*) filter (where event_type = 'email_click') as email_clicks,
        count(*) filter (where event_type = 'ad_view') as ad_views,
        count(*) filter (where event_type = 'ad_click') as ad_clicks,
        count(*) filter (where event_type = 'web_visit') as web_visits
    from events_in_window
    group by customer_id
),

order_counts as (
    select
        customer_id,
        count(*) as orders,
        sum(total_amount) as spend,
        count(*) filter (where channel = 'web') as web_orders,
        count(*) filter (where channel = 'mobile') as mobile_orders,
        count(*) filter (where channel = 'store') as store_orders
    from revenue_orders_in_window
    group by customer_id
),

-- a customer may be in either source only: full outer join, zeros for the missing side
customer_activity as (
    select
        coalesce(event_counts.customer_id, order_counts.customer_id) as customer_id,
        coalesce(event_counts.emails_sent, 0) as emails_sent,
        coalesce(event_counts.email_opens, 0) as email_opens,
        coalesce(event_counts.email_clicks, 0) as email_clicks,
        coalesce(event_counts.ad_views, 0) as ad_views,
        coalesce(event_counts.ad_clicks, 0) as ad_clicks,
        coalesce(event_counts.web_visits, 0) as web_visits,
        coalesce(order_counts.orders, 0) as orders,
        coalesce(order_counts.spend, 0) as spend,
        coalesce(order_counts.web_orders, 0) as web_orders,
        coalesce(order_counts.mobile_orders, 0) as mobile_orders,
        coalesce(order_counts.store_orders, 0) as store_orders
    from event_counts
    full outer join order_counts
        on event_counts.customer_id = order_counts.customer_id
),

-- one row per customer and channel; tie_rank orders channels on equal activity
channel_activity as (
    select
        customer_id,
        'purchase' as channel,
        1 as tie_rank,
        orders as activity
    from customer_activity
    union all
    select
        customer_id,
        'web' as channel,
        2 as tie_rank,
        web_visits as activity
    from customer_activity
    union all
    select
        customer_id,
        'email' as channel,
        3 as tie_rank,
        email_opens + email_clicks as activity
    from customer_activity
    union all
    select
        customer_id,
        'ads' as channel,
        4 as tie_rank,
        ad_clicks as activity
    from customer_activity
),

ranked_channels as (
    select
        customer_id,
        channel,
        row_number() over (partition by customer_id order by activity desc, tie_rank) as position,
        -- cast to double first: integer division truncates on Trino
        channel || ':' || cast(
            cast(round(cast(activity as double) / sum(activity) over (partition by customer_id), 2) as decimal(3, 2))
            as varchar
        ) as channel_share
    from channel_activity
    where activity > 0
),

channel_summary as (
    select
        customer_id,
        count(*) as active_channels,
        max(case when position = 1 then channel end) as primary_channel,
        concat_ws(
            ';',
            max(case when position = 1 then channel_share end),
            max(case when position = 2 then channel_share end),
            max(case when position = 3 then channel_share end),
            max(case when position = 4 then channel_share end)
        ) as channel_mix
    from ranked_channels
    group by customer_id
),

final as (
    select
        customer_activity.customer_id,
        cast(customer_activity.emails_sent as integer) as emails_sent,
        cast(customer_activity.email_opens as integer) as email_opens,
        cast(customer_activity.email_clicks as integer) as email_clicks,
        cast(customer_activity.ad_views as integer) as ad_views,
        cast(customer_activity.ad_clicks as integer) as ad_clicks,
        cast(customer_activity.web_visits as integer) as web_visits,
        cast(customer_activity.orders as integer) as orders,
        cast(customer_activity.spend as decimal(14, 2)) as spend,
        cast(customer_activity.web_orders as integer) as web_orders,
        cast(customer_activity.mobile_orders as integer) as mobile_orders,
        cast(customer_activity.store_orders as integer) as store_orders,
        -- case, not nullif: a zero denominator must give null on both engines, never an error
        case
            when customer_activity.emails_sent > 0
                then cast(customer_activity.email_opens as double) / customer_activity.emails_sent
        end as email_open_rate,
        case
            when customer_activity.emails_sent > 0
                then cast(customer_activity.email_clicks as double) / customer_activity.emails_sent
        end as email_click_rate,
        case
            when customer_activity.ad_views > 0
                then cast(customer_activity.ad_clicks as double) / customer_activity.ad_views
        end as ad_click_rate,
        case
            when customer_activity.web_visits > 0
                then cast(customer_activity.web_orders + customer_activity.mobile_orders as double)
                    / customer_activity.web_visits
        end as visit_conversion_rate,
        cast(coalesce(channel_summary.active_channels, 0) as integer) as active_channels,
        channel_summary.primary_channel,
        channel_summary.channel_mix
    from customer_activity
    left join channel_summary
        on customer_activity.customer_id = channel_summary.customer_id
)

select * from final
