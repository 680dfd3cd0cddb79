-- DynamoDB interaction events as of the run date, typed. An item rewritten under the same keys is
-- one event (latest write wins); the same event_id under different keys is a duplicate, kept here
-- and quarantined downstream.
with source as (
    select *
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

final as (
    select
        customer_key,
        event_key,
        event_id,
        lower(event_type) as event_type,
        event_at as event_at_raw,
        cast(try(from_iso8601_timestamp(event_at)) at time zone 'UTC' as timestamp) as event_at,
        -- whole numbers only: DuckDB would accept '1.0' where Athena refuses it
        case when regexp_like(trim(customer_id), '^[+-]?[0-9]+$') then try_cast(trim(customer_id) as bigint) end
            as customer_id,
        customer_id as customer_id_raw,
        visitor_id,
        lower(trim(email)) as email_normalized,
        campaign_id,
        lower(device) as device,
        lower(traffic_source) as traffic_source,
        ip_address,
        case lower(trim(success)) when 'true' then true when 'false' then false end as is_success,
        ticket_category,
        try_cast(resolution_minutes as double) as resolution_minutes,
        try_cast(satisfaction as double) as satisfaction,
        case when regexp_like(trim(product_id), '^[+-]?[0-9]+$') then try_cast(trim(product_id) as bigint) end
            as product_id,
        try_cast(rating as double) as rating,
        try_cast(points as double) as points,
        try_cast(cost as double) as cost,
        ingest_date
    from source
)

select * from final
