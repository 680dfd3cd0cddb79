-- Interaction events resolved to customers, each with the first reason it must be quarantined.
with identities as (
    select
        source_key,
        customer_id,
        unresolved_reason
    from int_identity_map
    where source = 'dynamodb'
),

events as (
    select
        *,
        row_number() over (partition by event_id order by customer_key, event_key) as copy_number
    from stg_dynamodb_interactions
),

final as (
    select
        'dynamodb.interactions' as source,
        coalesce(events.event_id, events.customer_key || '|' || events.event_key) as record_key,
        events.event_id,
        identities.customer_id,
        events.event_type,
        events.event_at,
        events.campaign_id,
        events.device,
        events.traffic_source,
        events.ip_address,
        events.is_success,
        events.ticket_category,
        events.resolution_minutes,
        events.satisfaction,
        events.product_id,
        events.rating,
        events.points,
        events.cost,
        case
            when events.event_id is null or events.customer_key is null or events.event_type is null then 'missing_key'
            when events.copy_number > 1 then 'duplicate_id'
            when events.event_at is null then 'unparseable_date'
            when events.event_at >= {{ run_date }} + interval '1' day then 'future_date'
            when events.event_at < timestamp '1990-01-01 00:00:00' then 'date_before_1990'
            when events.rating is not null and (events.rating < 1 or events.rating > 5) then 'impossible_value'
            when events.satisfaction is not null and (events.satisfaction < 1 or events.satisfaction > 5) then 'impossible_value'
            when events.resolution_minutes < 0 or events.cost < 0 then 'impossible_value'
            when identities.unresolved_reason is not null then identities.unresolved_reason
            when identities.customer_id is null then 'unknown_customer'
        end as reject_reason,
        case
            when events.event_at is null then events.event_at_raw
            else events.customer_key
        end as reject_detail,
        events.item_json as record_json
    from events
    left join identities
        on events.customer_key = identities.source_key
)

select * from final
