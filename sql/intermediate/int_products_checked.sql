-- Products, each with the first reason it must be quarantined (null when fit).
with final as (
    select
        'mysql.products' as source,
        coalesce(cast(product_id as varchar), product_name) as record_key,
        product_id,
        product_name,
        category,
        brand,
        list_price,
        updated_at,
        case
            when product_id is null then 'missing_key'
            when list_price < 0 then 'negative_amount'
        end as reject_reason,
        cast(list_price as varchar) as reject_detail,
        json_format(cast(map(
            array['product_id', 'name', 'price'],
            array[cast(product_id as varchar), product_name, cast(list_price as varchar)]
        ) as json)) as record_json
    from stg_mysql_products
)

select * from final
