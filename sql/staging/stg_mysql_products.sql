-- MySQL products as of the run date: the latest extracted version of each product.
with source as (
    select *
    from raw.mysql_products
    where ingest_date <= {{ run_date }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by product_id
            order by updated_at desc, ingested_at desc
        ) as version_rank
    from source
),

final as (
    select
        product_id,
        name as product_name,
        category,
        brand,
        price as list_price,
        try_cast(updated_at as timestamp) as updated_at
    from ranked
    where version_rank = 1 or product_id is null
)

select * from final
