-- MySQL order lines as of the run date: the latest extracted version of each line.
with source as (
    select *
    from stage.snapshot_mysql_order_items
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
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
    from source
)

select * from final
