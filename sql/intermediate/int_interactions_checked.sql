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
    select * from stg_dynamodb_interactions
),

-- Copies of one event_id are rare: they are numbered among themselves, not by sorting every event.
-- Read from the snapshot, not from events: a second reference to a CTE makes DuckDB materialize it
-- whole, every column of every event.
snapshot_keys as (
    select
        event_id,
        customer_key,
        event_key
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and event_id is not null
),

repeated_event_ids as (
    select event_id
    from snapshot_keys
    group by event_id
    having count(*) > 1
),

copies as (
    select
        snapshot_keys.event_id,
        snapshot_keys.customer_key,
        snapshot_keys.event_key,
        row_number() over (
            partition by snapshot_keys.event_id
            order by snapshot_keys.customer_key, snapshot_keys.event_key
        ) as copy_number
    from snapshot_keys
    inner join repeated_event_ids
        on snapshot_keys.event_id = repeated_event_ids.event_id
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
            -- customer_key and event_key are the table's keys: a copy is always matched
            when copies.copy_number > 1 then 'duplicate_id'
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
        -- the item's keys and the raw partition that holds the whole item (raw.dynamodb_interactions
        -- item_json): carrying every item's JSON through stage would double what each run reads
        json_format(cast(map(
            array['customer_key', 'event_key', 'event_id', 'event_type', 'event_at', 'customer_id', 'ingest_date'],
            array[
                events.customer_key,
                events.event_key,
                events.event_id,
                events.event_type,
                events.event_at_raw,
                events.customer_id_raw,
                cast(events.ingest_date as varchar)
            ]
        ) as json)) as record_json
    from events
    left join copies
        on events.event_id = copies.event_id
        and events.customer_key = copies.customer_key
        and events.event_key = copies.event_key
    left join identities
        on events.customer_key = identities.source_key
)

select * from final
