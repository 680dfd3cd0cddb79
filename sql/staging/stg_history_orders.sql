-- Legacy order rows as of the run date, typed with the configured date format. A file landed again
-- after a change replaces its earlier landing (latest ingest wins per file).
with source as (
    select *
    from raw.history_orders
    where ingest_date <= {{ run_date }}
),

latest_landing as (
    select
        source_file,
        max(ingested_at) as ingested_at
    from source
    group by source_file
),

current_rows as (
    select source.*
    from source
    inner join latest_landing
        on source.source_file = latest_landing.source_file
        and source.ingested_at = latest_landing.ingested_at
),

final as (
    select
        source_file,
        line_number,
        order_ref as order_ref_raw,
        coalesce(order_ref, source_file || '#' || cast(line_number as varchar)) as order_ref,
        trim(customer_ref) as customer_ref,
        case
            when {{ history_customer_key }} = 'email' or strpos(customer_ref, '@') > 0 then 'email'
            else 'legacy_id'
        end as customer_ref_type,
        order_date as order_date_raw,
        cast(try(date_parse(trim(order_date), {{ history_date_format }})) as timestamp) as ordered_at,
        amount as amount_raw,
        try_cast(trim(amount) as decimal(12, 2)) as total_amount,
        quantity as quantity_raw,
        -- whole numbers only: DuckDB would round '2.5' where Athena refuses it
        case
            when quantity is null then 1
            when regexp_like(trim(quantity), '^[+-]?[0-9]+$') then try_cast(trim(quantity) as integer)
        end as item_quantity
    from current_rows
)

select * from final
