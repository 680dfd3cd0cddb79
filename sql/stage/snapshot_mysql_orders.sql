-- Snapshot of raw.mysql_orders as of the run date: the latest extracted version of each order
-- (and every row without a key), which the next run starts from.
-- A daily run reads the published snapshot it starts from (its rows landed before raw_from_date) and
-- only the raw partitions landed since; a rebuild names this run's own, still empty, location as the
-- snapshot and reads raw from 1970-01-01. Both give the same rows (test/incremental-runs.test.ts).
with previous_snapshot as (
    select
        order_id,
        customer_id,
        order_at,
        status,
        channel,
        payment_method,
        currency,
        total_amount,
        discount_amount,
        updated_at,
        ingested_at,
        ingest_date
    from stage.snapshot_mysql_orders
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        -- the snapshot's own date is read again from raw below: files may have landed after it ran
        and ingest_date < {{ raw_from_date }}
),

landed_since as (
    select
        order_id,
        customer_id,
        order_at,
        status,
        channel,
        payment_method,
        currency,
        total_amount,
        discount_amount,
        updated_at,
        ingested_at,
        ingest_date
    from raw.mysql_orders
    where ingest_date >= {{ raw_from_date }}
        and ingest_date <= {{ run_date }}
),

source as (
    select * from previous_snapshot
    union all
    select * from landed_since
),

ranked as (
    select
        *,
        row_number() over (
            partition by order_id
            order by updated_at desc, ingested_at desc
        ) as version_rank
    from source
),

final as (
    select
        order_id,
        customer_id,
        order_at,
        status,
        channel,
        payment_method,
        currency,
        total_amount,
        discount_amount,
        updated_at,
        ingested_at,
        ingest_date
    from ranked
    -- rows without a key cannot be versioned; each is kept so that it is quarantined, not lost
    where version_rank = 1 or order_id is null
)

select * from final
