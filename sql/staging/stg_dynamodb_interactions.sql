-- DynamoDB interaction events as of the run date, typed. An item rewritten under the same keys is
-- one event (latest write wins); the same event_id under different keys is a duplicate, kept here
-- and quarantined downstream.
--
-- Events of an erased customer (stage.suppressed_keys) are dropped: keyed by one of their customer or
-- visitor keys, by one of their emails (matched by its SHA-256, the only form the list keeps), or
-- carrying their MySQL id (an identify event of a visitor id seen after the erasure).
with source as (
    select *
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

suppressed_keys as (
    select distinct key_value as customer_key
    from stage.suppressed_keys
    where key_type = 'dynamodb_customer_key'
),

suppressed_emails as (
    select distinct key_value as email_sha256
    from stage.suppressed_keys
    where key_type = 'email_sha256'
),

suppressed_customers as (
    select distinct try_cast(key_value as bigint) as customer_id
    from stage.suppressed_keys
    where key_type = 'mysql_customer_id'
),

typed as (
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
        ingest_date,
        -- the address as identity resolution normalizes it, hashed only for the email-keyed events
        case
            when split_part(customer_key, '#', 1) = 'email'
                then lower(to_hex(sha256(to_utf8(lower(trim(substr(customer_key, strpos(customer_key, '#') + 1)))))))
        end as customer_key_email_sha256
    from source
),

kept as (
    select typed.*
    from typed
    left join suppressed_keys
        on typed.customer_key = suppressed_keys.customer_key
    left join suppressed_emails
        on typed.customer_key_email_sha256 = suppressed_emails.email_sha256
    left join suppressed_customers
        on typed.customer_id = suppressed_customers.customer_id
    where suppressed_keys.customer_key is null
        and suppressed_emails.email_sha256 is null
        and suppressed_customers.customer_id is null
),

final as (
    select
        customer_key,
        event_key,
        event_id,
        event_type,
        event_at_raw,
        event_at,
        customer_id,
        customer_id_raw,
        visitor_id,
        email_normalized,
        campaign_id,
        device,
        traffic_source,
        ip_address,
        is_success,
        ticket_category,
        resolution_minutes,
        satisfaction,
        product_id,
        rating,
        points,
        cost,
        ingest_date
    from kept
)

select * from final
