-- MySQL and legacy history orders on one grain, each with the first reason it must be quarantined
-- (null when it is fit for the marts). Refunds may carry a negative total; nothing else may.
-- An order dated after the run date but not after its own extraction is out of scope for the run
-- (is_out_of_scope; stage leaves it out without a reject): an as-of run over history extracted later
-- sees orders that had not happened yet on its date, which is no fault of the data. Dated after its
-- extraction, an order cannot be right (clock skew, a typo) and stays a future_date reject.
with mysql_customers as (
    select customer_id
    from stg_mysql_customers
    where customer_id is not null
),

mysql_orders as (
    select
        orders.*,
        count(*) over (partition by orders.order_id) as copies,
        mysql_customers.customer_id as known_customer_id
    from stg_mysql_orders as orders
    left join mysql_customers
        on orders.customer_id = mysql_customers.customer_id
),

order_quantities as (
    select
        order_id,
        sum(quantity) as item_quantity
    from stg_mysql_order_items
    where order_id is not null and quantity > 0
    group by order_id
),

mysql_checked as (
    select
        'mysql.orders' as source,
        cast(mysql_orders.order_id as varchar) as record_key,
        'm-' || cast(mysql_orders.order_id as varchar) as order_id,
        mysql_orders.customer_id,
        mysql_orders.ordered_at,
        mysql_orders.status,
        mysql_orders.channel,
        mysql_orders.payment_method,
        mysql_orders.currency,
        mysql_orders.total_amount,
        mysql_orders.discount_amount,
        cast(coalesce(order_quantities.item_quantity, 0) as integer) as item_quantity,
        case
            when mysql_orders.order_id is null or mysql_orders.customer_id is null then 'missing_key'
            when mysql_orders.ordered_at is null then 'unparseable_date'
            when mysql_orders.ordered_at >= {{ run_date }} + interval '1' day
                and mysql_orders.ordered_at <= mysql_orders.ingested_at then 'out_of_scope'
            when mysql_orders.ordered_at >= {{ run_date }} + interval '1' day then 'future_date'
            when mysql_orders.ordered_at < timestamp '1990-01-01 00:00:00' then 'date_before_1990'
            when mysql_orders.total_amount is null then 'missing_amount'
            when mysql_orders.total_amount < 0 and mysql_orders.status <> 'refunded' then 'negative_amount'
            when mysql_orders.known_customer_id is null then 'unknown_customer'
        end as reject_reason,
        case
            when mysql_orders.ordered_at is null then mysql_orders.ordered_at_raw
            else cast(mysql_orders.total_amount as varchar)
        end as reject_detail,
        json_format(cast(map(
            array['order_id', 'customer_id', 'order_at', 'status', 'total_amount'],
            array[
                cast(mysql_orders.order_id as varchar),
                cast(mysql_orders.customer_id as varchar),
                mysql_orders.ordered_at_raw,
                mysql_orders.status,
                cast(mysql_orders.total_amount as varchar)
            ]
        ) as json)) as record_json
    from mysql_orders
    left join order_quantities
        on mysql_orders.order_id = order_quantities.order_id
),

history_identities as (
    select
        source_key,
        customer_id,
        unresolved_reason
    from int_identity_map
    where source = 'history'
),

history_ranked as (
    select
        history.*,
        -- a legacy order is a duplicate when its order id repeats. Without order ids, identical rows
        -- are separate purchases (a transaction log lists two identical CDs bought on one day as two
        -- rows), unless sources.history.identicalRowsAreDuplicates says the source re-delivers rows:
        -- then the same customer, date, amount and quantity repeated is a copy. A row missing any of
        -- those has a fault of its own and ranks alone, so it neither is nor makes a duplicate. The
        -- prefixes keep an order id from ever equalling a file#line or a row's values.
        row_number() over (
            partition by case
                when history.read_error is not null
                    or history.customer_ref is null or history.customer_ref = ''
                    or history.order_date_raw is null or trim(history.order_date_raw) = ''
                    or history.amount_raw is null or trim(history.amount_raw) = ''
                    then 'line|' || history.source_file || '#' || coalesce(cast(history.line_number as varchar), '')
                when history.order_ref_raw is not null then 'order|' || history.order_ref_raw
                when {{ history_identical_rows_are_duplicates }}
                    then 'row|' || history.customer_ref || '|' || history.order_date_raw || '|' || history.amount_raw
                    || '|' || coalesce(history.quantity_raw, '')
                else 'line|' || history.source_file || '#' || coalesce(cast(history.line_number as varchar), '')
            end
            order by history.source_file, history.line_number
        ) as copy_number
    from stg_history_orders as history
),

history_checked as (
    select
        'history.orders' as source,
        coalesce(
            history.source_file || '#' || cast(history.line_number as varchar), history.source_file
        ) as record_key,
        'h-' || history.order_ref as order_id,
        identities.customer_id,
        history.ordered_at,
        'delivered' as status,
        'legacy' as channel,
        cast(null as varchar) as payment_method,
        cast(null as varchar) as currency,
        history.total_amount,
        cast(0 as decimal(12, 2)) as discount_amount,
        history.item_quantity,
        case
            when history.read_error is not null then history.read_error
            when history.customer_ref is null or history.customer_ref = '' then 'missing_key'
            when history.order_date_raw is null or trim(history.order_date_raw) = '' then 'missing_order_date'
            when history.amount_raw is null or trim(history.amount_raw) = '' then 'missing_amount'
            when history.copy_number > 1 then 'duplicate_id'
            when history.ordered_at is null then 'unparseable_date'
            when history.ordered_at >= {{ run_date }} + interval '1' day
                and history.ordered_at <= history.ingested_at then 'out_of_scope'
            when history.ordered_at >= {{ run_date }} + interval '1' day then 'future_date'
            when history.ordered_at < timestamp '1990-01-01 00:00:00' then 'date_before_1990'
            when history.amount_has_sub_cents then 'too_many_decimals'
            when history.item_quantity is null
                and (history.quantity_raw is null or trim(history.quantity_raw) = '') then 'missing_quantity'
            when history.total_amount is null or history.item_quantity is null then 'unparseable_value'
            when history.total_amount < 0 then 'negative_amount'
            when history.item_quantity < 0 then 'negative_quantity'
            when identities.unresolved_reason is not null then identities.unresolved_reason
            when identities.customer_id is null then 'unknown_customer'
        end as reject_reason,
        case
            -- a line that could not be read is described, never quoted
            when history.read_error is not null then history.read_error_detail
            when history.ordered_at is null then history.order_date_raw
            when history.total_amount is null then history.amount_raw
            when history.item_quantity is null then history.quantity_raw
            else history.customer_ref
        end as reject_detail,
        case
            when history.read_error is not null then json_format(cast(map(
                array['source_file', 'line_number', 'read_error'],
                array[history.source_file, cast(history.line_number as varchar), history.read_error]
            ) as json))
            else json_format(cast(map(
                array['source_file', 'line_number', 'order_ref', 'customer_ref', 'order_date', 'amount', 'quantity'],
                array[
                    history.source_file,
                    cast(history.line_number as varchar),
                    history.order_ref,
                    history.customer_ref,
                    history.order_date_raw,
                    history.amount_raw,
                    history.quantity_raw
                ]
            ) as json))
        end as record_json
    from history_ranked as history
    left join history_identities as identities
        on history.customer_ref = identities.source_key
),

unioned as (
    select * from mysql_checked
    union all
    select * from history_checked
),

final as (
    select
        source,
        record_key,
        order_id,
        customer_id,
        ordered_at,
        status,
        channel,
        payment_method,
        currency,
        total_amount,
        discount_amount,
        item_quantity,
        -- out of scope is no fault: not a reject, left out of stage.orders by is_out_of_scope
        case when reject_reason <> 'out_of_scope' then reject_reason end as reject_reason,
        reject_detail,
        record_json,
        coalesce(reject_reason = 'out_of_scope', false) as is_out_of_scope,
        coalesce(status not in ('cancelled', 'refunded'), true) as is_revenue,
        case when source = 'mysql.orders' then 'mysql' else 'history' end as origin
    from unioned
)

select * from final
