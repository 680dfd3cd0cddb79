-- MySQL order lines as of the run date: the latest extracted version of each line.
with source as (
    select *
    from raw.mysql_order_items
    where ingest_date <= {{ run_date }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by order_id, line_number
            order by updated_at desc, ingested_at desc
        ) as version_rank
    from source
),

final as (
    select
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        try_cast(updated_at as timestamp) as updated_at
    from ranked
    where version_rank = 1 or order_id is null or line_number is null
)

select * from final
