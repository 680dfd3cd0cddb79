-- Legacy order rows as of the run date, typed with the configured date format. A file landed again
-- after a change replaces its earlier landing (latest ingest wins per file). A line the landing could
-- not read (read_error: a field count that differs from the header, bytes that are not UTF-8, an
-- empty file, ...) arrives with its file, line and reason and no values; int_orders_checked
-- quarantines it with that reason. Amounts are exact text: a number with more than two decimals is
-- never rounded into a total (total_amount stays null, and amount_has_sub_cents says why).
--
-- Rows of an erased customer (stage.suppressed_keys) are dropped: by their legacy id, or by their
-- email's SHA-256 (the only form the list keeps), normalized as identity resolution normalizes it.
with source as (
    select *
    from stage.snapshot_history_orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

suppressed_legacy_ids as (
    select distinct key_value as customer_ref
    from stage.suppressed_keys
    where key_type = 'legacy_id'
),

suppressed_emails as (
    select distinct key_value as email_sha256
    from stage.suppressed_keys
    where key_type = 'email_sha256'
),

keyed as (
    select
        source.*,
        case
            when {{ history_customer_key }} = 'email' or strpos(customer_ref, '@') > 0
                then lower(to_hex(sha256(to_utf8(lower(trim(customer_ref))))))
        end as customer_ref_email_sha256
    from source
),

kept as (
    select keyed.*
    from keyed
    left join suppressed_legacy_ids
        on trim(keyed.customer_ref) = suppressed_legacy_ids.customer_ref
    left join suppressed_emails
        on keyed.customer_ref_email_sha256 = suppressed_emails.email_sha256
    where suppressed_legacy_ids.customer_ref is null
        and suppressed_emails.email_sha256 is null
),

final as (
    select
        source_file,
        line_number,
        -- an empty order id (a file with an order id column, a blank cell) is no id: every blank
        -- would otherwise be one order
        nullif(trim(order_ref), '') as order_ref_raw,
        coalesce(nullif(trim(order_ref), ''), source_file || '#' || cast(line_number as varchar)) as order_ref,
        trim(customer_ref) as customer_ref,
        case
            when {{ history_customer_key }} = 'email' or strpos(customer_ref, '@') > 0 then 'email'
            else 'legacy_id'
        end as customer_ref_type,
        order_date as order_date_raw,
        cast(try(date_parse(trim(order_date), {{ history_date_format }})) as timestamp) as ordered_at,
        amount as amount_raw,
        -- plain decimals only, at most two places: both engines would round '12.345' to 12.35
        case
            when regexp_like(trim(amount), '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$')
                and not regexp_like(trim(amount), '^[+-]?[0-9]*\.[0-9]{2}0*[1-9][0-9]*$')
                then try_cast(trim(amount) as decimal(12, 2))
        end as total_amount,
        coalesce(regexp_like(trim(amount), '^[+-]?[0-9]*\.[0-9]{2}0*[1-9][0-9]*$'), false) as amount_has_sub_cents,
        quantity as quantity_raw,
        -- whole numbers only: DuckDB would round '2.5' where Athena refuses it. Files without a
        -- quantity column count one unit per order; an empty value in a file that has one is missing.
        case
            when not {{ history_has_quantity }} then 1
            when regexp_like(trim(quantity), '^[+-]?[0-9]+$') then try_cast(trim(quantity) as integer)
        end as item_quantity,
        ingested_at,
        read_error,
        read_error_detail
    from kept
)

select * from final
