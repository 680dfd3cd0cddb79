-- MySQL orders as of the run date: the latest extracted version of each order, typed.
with source as (
    select *
    from raw.mysql_orders
    where ingest_date <= {{ run_date }}
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
        order_at as ordered_at_raw,
        try_cast(order_at as timestamp) as ordered_at,
        lower(status) as status,
        lower(channel) as channel,
        lower(payment_method) as payment_method,
        upper(currency) as currency,
        total_amount,
        discount_amount,
        try_cast(updated_at as timestamp) as updated_at
    from ranked
    where version_rank = 1 or order_id is null
)

select * from final
