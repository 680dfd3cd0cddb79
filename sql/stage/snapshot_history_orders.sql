-- Snapshot of raw.history_orders as of the run date: every row of the latest landing of each history
-- file (a file landed again after a change replaces its earlier landing), which the next run starts from.
-- A daily run reads the published snapshot it starts from (its rows landed before raw_from_date) and
-- only the raw partitions landed since; a rebuild names this run's own, still empty, location as the
-- snapshot and reads raw from 1970-01-01. Both give the same rows (test/incremental-runs.test.ts).
with previous_snapshot as (
    select
        source_file,
        line_number,
        order_ref,
        customer_ref,
        order_date,
        amount,
        quantity,
        ingested_at,
        read_error,
        read_error_detail,
        ingest_date
    from stage.snapshot_history_orders
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        -- the snapshot's own date is read again from raw below: files may have landed after it ran
        and ingest_date < {{ raw_from_date }}
),

landed_since as (
    select
        source_file,
        line_number,
        order_ref,
        customer_ref,
        order_date,
        amount,
        quantity,
        ingested_at,
        read_error,
        read_error_detail,
        ingest_date
    from raw.history_orders
    where ingest_date >= {{ raw_from_date }}
        and ingest_date <= {{ run_date }}
),

source as (
    select * from previous_snapshot
    union all
    select * from landed_since
),

latest_landing as (
    select
        source_file,
        max(ingested_at) as ingested_at
    from source
    group by source_file
),

final as (
    select
        source.source_file,
        source.line_number,
        source.order_ref,
        source.customer_ref,
        source.order_date,
        source.amount,
        source.quantity,
        source.ingested_at,
        source.read_error,
        source.read_error_detail,
        source.ingest_date
    from source
    inner join latest_landing
        on source.source_file = latest_landing.source_file
        and source.ingested_at = latest_landing.ingested_at
)

select * from final
