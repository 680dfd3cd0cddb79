-- Source rows deleted since the run this one starts from: rows of the base run's snapshot (the
-- published run the snapshots were built from) that this run's snapshot no longer holds. A snapshot
-- keeps every key it ever saw except those a source deleted (MySQL keys missing from the latest key
-- scan, DynamoDB items removed), so the difference is exactly the deletions this run applied.
-- data_quality counts them per source table and blocks a run whose key scan would remove more than
-- sources.mysql.deleteDetection.maxDeletedShare of a table.
-- A run without a base (the first, or a rebuild, whose base is its own location) compares with
-- nothing and lists no row: a deletion is counted once, by the run that first drops it.
-- Each table is one equi anti-join on its key; rows without a key are quarantined, never deleted.
with customers_before as (
    select
        customer_id,
        ingested_at
    from stage.snapshot_mysql_customers
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and customer_id is not null
),

customers_now as (
    select
        customer_id
    from stage.snapshot_mysql_customers
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and customer_id is not null
),

customers_deleted as (
    select
        'mysql.customers' as source_table,
        cast(customers_before.customer_id as varchar) as record_key,
        customers_before.ingested_at
    from customers_before
    left join customers_now
        on customers_before.customer_id = customers_now.customer_id
    where customers_now.customer_id is null
),

products_before as (
    select
        product_id,
        ingested_at
    from stage.snapshot_mysql_products
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and product_id is not null
),

products_now as (
    select
        product_id
    from stage.snapshot_mysql_products
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and product_id is not null
),

products_deleted as (
    select
        'mysql.products' as source_table,
        cast(products_before.product_id as varchar) as record_key,
        products_before.ingested_at
    from products_before
    left join products_now
        on products_before.product_id = products_now.product_id
    where products_now.product_id is null
),

orders_before as (
    select
        order_id,
        ingested_at
    from stage.snapshot_mysql_orders
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and order_id is not null
),

orders_now as (
    select
        order_id
    from stage.snapshot_mysql_orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and order_id is not null
),

orders_deleted as (
    select
        'mysql.orders' as source_table,
        cast(orders_before.order_id as varchar) as record_key,
        orders_before.ingested_at
    from orders_before
    left join orders_now
        on orders_before.order_id = orders_now.order_id
    where orders_now.order_id is null
),

order_items_before as (
    select
        order_id,
        line_number,
        ingested_at
    from stage.snapshot_mysql_order_items
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and order_id is not null
        and line_number is not null
),

order_items_now as (
    select
        order_id,
        line_number
    from stage.snapshot_mysql_order_items
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and order_id is not null
        and line_number is not null
),

order_items_deleted as (
    select
        'mysql.order_items' as source_table,
        cast(order_items_before.order_id as varchar) || '|' || cast(order_items_before.line_number as varchar) as record_key,
        order_items_before.ingested_at
    from order_items_before
    left join order_items_now
        on order_items_before.order_id = order_items_now.order_id
        and order_items_before.line_number = order_items_now.line_number
    where order_items_now.order_id is null
),

interactions_before as (
    select
        customer_key,
        event_key,
        ingested_at
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and customer_key is not null
        and event_key is not null
),

interactions_now as (
    select
        customer_key,
        event_key
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and customer_key is not null
        and event_key is not null
),

interactions_deleted as (
    select
        'dynamodb.interactions' as source_table,
        cast(interactions_before.customer_key as varchar) || '|' || cast(interactions_before.event_key as varchar) as record_key,
        interactions_before.ingested_at
    from interactions_before
    left join interactions_now
        on interactions_before.customer_key = interactions_now.customer_key
        and interactions_before.event_key = interactions_now.event_key
    where interactions_now.customer_key is null
),

deleted as (
    select * from customers_deleted

    union all

    select * from products_deleted

    union all

    select * from orders_deleted

    union all

    select * from order_items_deleted

    union all

    select * from interactions_deleted
),

final as (
    select
        source_table,
        record_key,
        ingested_at
    from deleted
)

select * from final
