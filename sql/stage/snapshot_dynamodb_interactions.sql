-- Snapshot of raw.dynamodb_interactions as of the run date: the latest write of each item (per
-- customer_key and event_key), which the next run starts from; an item whose latest write is its
-- removal is left out. An extraction reads an item once, so two versions of one item never share an
-- ingested_at.
-- A daily run reads the published snapshot it starts from (its rows landed before raw_from_date) and
-- only the raw partitions landed since; a rebuild names this run's own, still empty, location as the
-- snapshot and reads raw from 1970-01-01. Both give the same rows (test/incremental-runs.test.ts).
with previous_snapshot as (
    select
        customer_key,
        event_key,
        event_id,
        event_type,
        event_at,
        customer_id,
        visitor_id,
        email,
        campaign_id,
        device,
        traffic_source,
        ip_address,
        success,
        ticket_category,
        resolution_minutes,
        satisfaction,
        product_id,
        rating,
        points,
        cost,
        ingested_at,
        ingest_date,
        -- a snapshot holds no removed item
        false as is_deleted
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        -- the snapshot's own date is read again from raw below: files may have landed after it ran
        and ingest_date < {{ raw_from_date }}
),

landed_since as (
    select
        customer_key,
        event_key,
        event_id,
        event_type,
        event_at,
        customer_id,
        visitor_id,
        email,
        campaign_id,
        device,
        traffic_source,
        ip_address,
        success,
        ticket_category,
        resolution_minutes,
        satisfaction,
        product_id,
        rating,
        points,
        cost,
        ingested_at,
        ingest_date,
        -- null in partitions landed before removals were kept: those hold none
        coalesce(is_deleted, false) as is_deleted
    from raw.dynamodb_interactions
    where ingest_date >= {{ raw_from_date }}
        and ingest_date <= {{ run_date }}
),

source as (
    select * from previous_snapshot
    union all
    select * from landed_since
),

-- Most items are written once. Only keys with several versions are looked at, on their keys and
-- times alone: ranking every wide row would sort all of them. The keys are read again
-- from the tables, not from source: a second reference to a CTE makes DuckDB materialize it whole.
version_times as (
    select
        customer_key,
        event_key,
        ingested_at
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and ingest_date < {{ raw_from_date }}

    union all

    select
        customer_key,
        event_key,
        ingested_at
    from raw.dynamodb_interactions
    where ingest_date >= {{ raw_from_date }}
        and ingest_date <= {{ run_date }}
),

rewritten_items as (
    select
        customer_key,
        event_key,
        max(ingested_at) as latest_ingested_at
    from version_times
    group by customer_key, event_key
    having count(*) > 1
),

latest_versions as (
    select source.*
    from source
    left join rewritten_items
        on source.customer_key = rewritten_items.customer_key
        and source.event_key = rewritten_items.event_key
    -- the table's keys are never null in DynamoDB; a row without them would be kept, to be quarantined
    where rewritten_items.customer_key is null
        or source.ingested_at = rewritten_items.latest_ingested_at
),

-- A removal (an export record without NewImage) is the item's latest write when nothing wrote the
-- key again after it: the item is gone from the table, so from the snapshot. Ingest dates follow
-- extraction times, so no raw partition the next run reads holds a write older than this removal,
-- and the removal need not be kept to outrank one.
live_versions as (
    select *
    from latest_versions
    where not is_deleted
),

final as (
    select
        customer_key,
        event_key,
        event_id,
        event_type,
        event_at,
        customer_id,
        visitor_id,
        email,
        campaign_id,
        device,
        traffic_source,
        ip_address,
        success,
        ticket_category,
        resolution_minutes,
        satisfaction,
        product_id,
        rating,
        points,
        cost,
        ingested_at,
        ingest_date
    from live_versions
)

select * from final
