-- Snapshot of raw.mysql_products as of the run date: the latest extracted version of each product
-- (and every row without a key), which the next run starts from.
-- A daily run reads the published snapshot it starts from (its rows landed before raw_from_date) and
-- only the raw partitions landed since; a rebuild names this run's own, still empty, location as the
-- snapshot and reads raw from 1970-01-01. Both give the same rows (test/incremental-runs.test.ts).
with previous_snapshot as (
    select
        product_id,
        name,
        category,
        brand,
        price,
        updated_at,
        ingested_at,
        ingest_date
    from stage.snapshot_mysql_products
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        -- the snapshot's own date is read again from raw below: files may have landed after it ran
        and ingest_date < {{ raw_from_date }}
),

landed_since as (
    select
        product_id,
        name,
        category,
        brand,
        price,
        updated_at,
        ingested_at,
        ingest_date
    from raw.mysql_products
    where ingest_date >= {{ raw_from_date }}
        and ingest_date <= {{ run_date }}
),

source as (
    select * from previous_snapshot
    union all
    select * from landed_since
),

-- Most rows have one version. Only keys with several are looked at, on their keys and times alone:
-- ranking every wide row would sort all of them. The keys are read again from the tables, not from
-- source: a second reference to a CTE makes DuckDB materialize it whole. The latest version is the
-- latest updated_at (text, as the source stores it; a missing one counts as oldest), then the latest
-- reading of it (ingested_at): one extraction reads a key once.
version_times as (
    select
        product_id,
        coalesce(updated_at, '') as version_updated_at,
        ingested_at
    from stage.snapshot_mysql_products
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and ingest_date < {{ raw_from_date }}

    union all

    select
        product_id,
        coalesce(updated_at, '') as version_updated_at,
        ingested_at
    from raw.mysql_products
    where ingest_date >= {{ raw_from_date }}
        and ingest_date <= {{ run_date }}
),

rewritten_keys as (
    select
        product_id,
        max(version_updated_at) as latest_updated_at
    from version_times
    where product_id is not null
    group by product_id
    having count(*) > 1
),

latest_readings as (
    select
        version_times.product_id,
        rewritten_keys.latest_updated_at,
        max(version_times.ingested_at) as latest_ingested_at
    from version_times
    inner join rewritten_keys
        on version_times.product_id = rewritten_keys.product_id
        and version_times.version_updated_at = rewritten_keys.latest_updated_at
    group by version_times.product_id, rewritten_keys.latest_updated_at
),

latest_versions as (
    select source.*
    from source
    left join latest_readings
        on source.product_id = latest_readings.product_id
    -- one version, or no key (kept so that it is quarantined, not lost)
    where latest_readings.product_id is null
        or (
            coalesce(source.updated_at, '') = latest_readings.latest_updated_at
            and source.ingested_at = latest_readings.latest_ingested_at
        )
),

-- Hard deletes (docs/sources.md): the latest key scan among the raw partitions the run reads lists
-- every key the table had when it started. A key it lacks was deleted at the source, provided its
-- latest version was read before that scan began (a version read later is newer than the deletion
-- the scan saw: lib/local/extract-mysql.ts, scanKeys, gives the argument). Scans older than
-- raw_from_date were applied by the snapshot this run starts from. No scan (max of nothing is null):
-- nothing is dropped.
latest_key_scan as (
    select max(ingested_at) as scanned_at
    from raw.mysql_keys
    where source_table = 'products'
        and ingest_date >= {{ raw_from_date }}
        and ingest_date <= {{ run_date }}
),

scanned_keys as (
    select
        mysql_keys.product_id
    from raw.mysql_keys
    inner join latest_key_scan
        on mysql_keys.ingested_at = latest_key_scan.scanned_at
    where mysql_keys.source_table = 'products'
        and mysql_keys.ingest_date >= {{ raw_from_date }}
        and mysql_keys.ingest_date <= {{ run_date }}
),

surviving_versions as (
    select latest_versions.*
    from latest_versions
    cross join latest_key_scan
    left join scanned_keys
        on latest_versions.product_id = scanned_keys.product_id
    where scanned_keys.product_id is not null
        or latest_key_scan.scanned_at is null
        or latest_versions.ingested_at >= latest_key_scan.scanned_at
        -- no key: kept to be quarantined
        or latest_versions.product_id is null
),

final as (
    select
        product_id,
        name,
        category,
        brand,
        price,
        updated_at,
        ingested_at,
        ingest_date
    from surviving_versions
)

select * from final
