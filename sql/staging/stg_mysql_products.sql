-- MySQL products as of the run date: the latest extracted version of each product.
with source as (
    select *
    from stage.snapshot_mysql_products
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

final as (
    select
        product_id,
        name as product_name,
        category,
        brand,
        price as list_price,
        try_cast(updated_at as timestamp) as updated_at
    from source
)

select * from final
