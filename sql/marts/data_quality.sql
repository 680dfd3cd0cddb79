-- The run's data-quality report: one row per check. It runs after the stage tables are built and
-- before any mart; the quality gate stops the run when a row is is_blocking and not is_passed.
--
-- Checks (check_name / subject):
--   row_count / raw.<table>        raw rows visible to the run (ingest_date <= run_date); information
--   rows_ingested / raw.<table>    raw rows landed by the run date's extract (ingest_date = run_date)
--   row_count / stage.<table>      rows of the stage table's run_date partition; information
--   rejects / <source>/<reason>    stage.rejects by source and reason (only pairs that occur); information
--   reject_share / <source>        rejects (anonymous_visitor excluded) / (rejects + accepted rows) of a source, blocking when it
--                                  exceeds max_reject_share (strictly). Accepted rows per source:
--                                    mysql.customers       stage.customers with source 'mysql'
--                                    mysql.products        stage.products
--                                    mysql.orders          stage.orders with source 'mysql'
--                                    history.orders        stage.orders with source 'history'
--                                    mysql.order_items     stage.order_items
--                                    dynamodb.interactions stage.interactions
--                                  A source with no record at all has a null share and passes.
--   orders_loaded / stage.orders   stage.orders rows > 0; blocking
--   freshness_days / mysql         days from the newest parseable updated_at in raw.mysql_orders and
--                                  raw.mysql_customers to the run date; blocking when it exceeds
--                                  max_source_staleness_days (strictly)
--   freshness_days / dynamodb      the same with the newest parseable event_at of
--                                  raw.dynamodb_interactions (the legacy history is not checked)
--   source_disabled / <source>     mysql or dynamodb switched off (sources.<source>.enabled false):
--                                  information; such a source has no freshness check
--   out_of_scope_rows / <source>   mysql.orders and history.orders rows dated after the run date but
--                                  not after their own extraction (ingested_at): orders the source
--                                  already had, for a later date than an as-of run. They are out of
--                                  scope for the run, not bad data: not rejects, not in reject_share;
--                                  information. Rows dated after their extraction stay future_date
--                                  rejects (clock skew, typos). History dates parse with the
--                                  configured sources.history.dateFormat, as staging does.
--   mixed_currency / stage.orders  distinct currencies of the run's revenue orders (null currency,
--                                  history rows, not counted); blocking when more than one: revenue,
--                                  CLV, thresholds and trends add amounts and would add across
--                                  currencies. detail names them.
--   identity_group_cap / stage.rejects  rejects with reason identity_group_too_large; a warning
--                                  (fails when above 0, never blocking)
--   identity_hash_collision / stage.rejects  rejects with reason identity_hash_collision (two
--                                  identities whose new-customer ids collide); a warning, as above
--   source_deletes / <source>      rows of the base run's snapshot deleted at the source by this run
--                                  (stage.source_deletes), for mysql.customers, mysql.products,
--                                  mysql.orders, mysql.order_items and dynamodb.interactions; information
--   deleted_share / mysql.<table>  those deletions / the rows (with a key) of the base run's snapshot
--                                  of the table; blocking when it exceeds max_deleted_share (strictly),
--                                  so a wrong key scan cannot wipe a table. No base (first run,
--                                  rebuild): null, passes. DynamoDB removals are explicit records, not
--                                  inferred from a listing, and are not limited.
--   erased_rows_suppressed / <source>  rows of customers erased on request (stage.suppressed_keys)
--                                  that the run's snapshot still held (the source had not deleted
--                                  them yet) and staging dropped: neither staged nor rejected. A count
--                                  only, never a key; a row only for a source where it is above 0;
--                                  information
-- Freshness reads raw rows with ingest_date <= run_date and ignores times after the run date: a row
-- changed after the run date cannot have been seen as of it, and a garbled future time must not hide
-- a source that stopped. A source with no parseable time at all is stale (null days, failed).
-- Thresholds hold the configured limits (0 for orders_loaded and the identity checks); informational
-- rows have a null threshold, always pass and never block.
with raw_row_counts as (
    -- count(case ...), not count_if: count_if of no rows is null on DuckDB (0 on Trino)
    select
        'raw.mysql_customers' as subject,
        count(*) as visible_rows,
        count(case when ingest_date = {{ run_date }} then 1 end) as ingested_rows
    from raw.mysql_customers
    where ingest_date <= {{ run_date }}

    union all

    select
        'raw.mysql_products' as subject,
        count(*) as visible_rows,
        count(case when ingest_date = {{ run_date }} then 1 end) as ingested_rows
    from raw.mysql_products
    where ingest_date <= {{ run_date }}

    union all

    select
        'raw.mysql_orders' as subject,
        count(*) as visible_rows,
        count(case when ingest_date = {{ run_date }} then 1 end) as ingested_rows
    from raw.mysql_orders
    where ingest_date <= {{ run_date }}

    union all

    select
        'raw.mysql_order_items' as subject,
        count(*) as visible_rows,
        count(case when ingest_date = {{ run_date }} then 1 end) as ingested_rows
    from raw.mysql_order_items
    where ingest_date <= {{ run_date }}

    union all

    select
        'raw.dynamodb_interactions' as subject,
        count(*) as visible_rows,
        count(case when ingest_date = {{ run_date }} then 1 end) as ingested_rows
    from raw.dynamodb_interactions
    where ingest_date <= {{ run_date }}

    union all

    select
        'raw.history_orders' as subject,
        count(*) as visible_rows,
        count(case when ingest_date = {{ run_date }} then 1 end) as ingested_rows
    from raw.history_orders
    where ingest_date <= {{ run_date }}
),

stage_row_counts as (
    select 'stage.customers' as subject, count(*) as row_count
    from stage.customers
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'stage.products' as subject, count(*) as row_count
    from stage.products
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'stage.orders' as subject, count(*) as row_count
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'stage.order_items' as subject, count(*) as row_count
    from stage.order_items
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'stage.interactions' as subject, count(*) as row_count
    from stage.interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'stage.identity_map' as subject, count(*) as row_count
    from stage.identity_map
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'stage.rejects' as subject, count(*) as row_count
    from stage.rejects
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

rejects as (
    select
        source,
        reason
    from stage.rejects
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

rejects_by_reason as (
    select
        source,
        reason,
        count(*) as reject_count
    from rejects
    group by
        source,
        reason
),

rejects_by_source as (
    select
        source,
        count(*) as reject_count
    from rejects
    -- events of visitors never identified are ordinary anonymous traffic, not bad data: they are
    -- kept out of the marts (no customer to credit) but do not count against a source's quality
    where reason <> 'anonymous_visitor'
    group by source
),

-- the stage rows each checked source feeds: what was accepted of it
accepted_by_source as (
    select 'mysql.customers' as source, count(*) as accepted_count
    from stage.customers
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and source = 'mysql'

    union all

    select 'mysql.products' as source, count(*) as accepted_count
    from stage.products
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'mysql.orders' as source, count(*) as accepted_count
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and source = 'mysql'

    union all

    select 'history.orders' as source, count(*) as accepted_count
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and source = 'history'

    union all

    select 'mysql.order_items' as source, count(*) as accepted_count
    from stage.order_items
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select 'dynamodb.interactions' as source, count(*) as accepted_count
    from stage.interactions
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

reject_shares as (
    select
        accepted_by_source.source,
        accepted_by_source.accepted_count,
        coalesce(rejects_by_source.reject_count, 0) as reject_count,
        -- cast to double first: integer division truncates on Trino
        cast(coalesce(rejects_by_source.reject_count, 0) as double)
            / nullif(accepted_by_source.accepted_count + coalesce(rejects_by_source.reject_count, 0), 0)
            as reject_share
    from accepted_by_source
    left join rejects_by_source
        on accepted_by_source.source = rejects_by_source.source
),

mysql_changes as (
    select try_cast(updated_at as timestamp) as changed_at
    from raw.mysql_orders
    where ingest_date <= {{ run_date }}

    union all

    select try_cast(updated_at as timestamp) as changed_at
    from raw.mysql_customers
    where ingest_date <= {{ run_date }}
),

dynamodb_changes as (
    -- event_at is ISO-8601 text with a zone (2024-06-01T10:00:00.000Z), parsed as staging parses it
    select cast(try(from_iso8601_timestamp(event_at)) at time zone 'UTC' as timestamp) as changed_at
    from raw.dynamodb_interactions
    where ingest_date <= {{ run_date }}
),

newest_changes as (
    select
        'mysql' as subject,
        'raw.mysql_orders and raw.mysql_customers' as seen_in,
        max(changed_at) as newest_change_at
    from mysql_changes
    where changed_at < {{ run_date }} + interval '1' day

    union all

    select
        'dynamodb' as subject,
        'raw.dynamodb_interactions' as seen_in,
        max(changed_at) as newest_change_at
    from dynamodb_changes
    where changed_at < {{ run_date }} + interval '1' day
),

freshness as (
    select
        subject,
        seen_in,
        newest_change_at,
        -- calendar days between dates, so both engines count alike
        date_diff('day', cast(newest_change_at as date), {{ run_date }}) as staleness_days
    from newest_changes
    -- a disabled source is not extracted: it has no freshness to judge
    where (subject = 'mysql' and {{ mysql_enabled }})
        or (subject = 'dynamodb' and {{ dynamodb_enabled }})
),

disabled_sources as (
    select subject
    from (
        select 'mysql' as subject, {{ mysql_enabled }} as is_enabled
        union all
        select 'dynamodb' as subject, {{ dynamodb_enabled }} as is_enabled
    ) as switchable_sources
    where not is_enabled
),

snapshot_order_dates as (
    select
        'mysql.orders' as source,
        try_cast(order_at as timestamp) as ordered_at,
        ingested_at
    from stage.snapshot_mysql_orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}

    union all

    select
        'history.orders' as source,
        -- the same parse as sql/staging/stg_history_orders.sql
        cast(try(date_parse(trim(order_date), {{ history_date_format }})) as timestamp) as ordered_at,
        ingested_at
    from stage.snapshot_history_orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

out_of_scope as (
    select
        order_sources.source,
        count(case
            when snapshot_order_dates.ordered_at >= {{ run_date }} + interval '1' day
                and snapshot_order_dates.ordered_at <= snapshot_order_dates.ingested_at
                then 1
        end) as out_of_scope_count
    from (
        select 'mysql.orders' as source
        union all
        select 'history.orders' as source
    ) as order_sources
    left join snapshot_order_dates
        on order_sources.source = snapshot_order_dates.source
    group by order_sources.source
),

revenue_currencies as (
    select
        count(distinct currency) as currency_count,
        min(currency) as first_currency,
        max(currency) as last_currency
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and is_revenue
        and currency is not null
),

identity_cap as (
    -- count(case ...), not count_if: count_if of no rows is null on DuckDB (0 on Trino)
    select
        count(case when reason = 'identity_group_too_large' then 1 end) as capped_count,
        count(case when reason = 'identity_hash_collision' then 1 end) as collided_count
    from rejects
),

-- the rows each source table had in the base run's snapshot, which this run's deletions are a share of
snapshot_rows_before as (
    select 'mysql.customers' as source_table, count(*) as row_count
    from stage.snapshot_mysql_customers
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and customer_id is not null

    union all

    select 'mysql.products' as source_table, count(*) as row_count
    from stage.snapshot_mysql_products
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and product_id is not null

    union all

    select 'mysql.orders' as source_table, count(*) as row_count
    from stage.snapshot_mysql_orders
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and order_id is not null

    union all

    select 'mysql.order_items' as source_table, count(*) as row_count
    from stage.snapshot_mysql_order_items
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and order_id is not null
        and line_number is not null

    union all

    select 'dynamodb.interactions' as source_table, count(*) as row_count
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ snapshot_run_date }}
        and run_id = {{ snapshot_run_id }}
        and {{ snapshot_run_id }} <> {{ run_id }}
        and customer_key is not null
        and event_key is not null
),

deletes_by_source as (
    select
        source_table,
        count(*) as deleted_count
    from stage.source_deletes
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
    group by source_table
),

source_delete_counts as (
    select
        snapshot_rows_before.source_table,
        snapshot_rows_before.row_count,
        coalesce(deletes_by_source.deleted_count, 0) as deleted_count,
        -- cast to double first: integer division truncates on Trino
        cast(coalesce(deletes_by_source.deleted_count, 0) as double)
            / nullif(snapshot_rows_before.row_count, 0) as deleted_share
    from snapshot_rows_before
    left join deletes_by_source
        on snapshot_rows_before.source_table = deletes_by_source.source_table
),

suppression_counts as (
    -- staging drops the rows of erased customers and nothing else, so the snapshot's rows minus the
    -- staged ones are exactly the rows it suppressed (signed counts summed: no join of the two)
    select 'mysql.customers' as source, count(*) as row_count
    from stage.snapshot_mysql_customers
    where run_date = {{ run_date }} and run_id = {{ run_id }}
    union all
    select 'mysql.customers' as source, -count(*) as row_count from stg_mysql_customers
    union all
    select 'mysql.orders' as source, count(*) as row_count
    from stage.snapshot_mysql_orders
    where run_date = {{ run_date }} and run_id = {{ run_id }}
    union all
    select 'mysql.orders' as source, -count(*) as row_count from stg_mysql_orders
    union all
    select 'mysql.order_items' as source, count(*) as row_count
    from stage.snapshot_mysql_order_items
    where run_date = {{ run_date }} and run_id = {{ run_id }}
    union all
    select 'mysql.order_items' as source, -count(*) as row_count from stg_mysql_order_items
    union all
    select 'dynamodb.interactions' as source, count(*) as row_count
    from stage.snapshot_dynamodb_interactions
    where run_date = {{ run_date }} and run_id = {{ run_id }}
    union all
    select 'dynamodb.interactions' as source, -count(*) as row_count from stg_dynamodb_interactions
    union all
    select 'history.orders' as source, count(*) as row_count
    from stage.snapshot_history_orders
    where run_date = {{ run_date }} and run_id = {{ run_id }}
    union all
    select 'history.orders' as source, -count(*) as row_count from stg_history_orders
),

erased_rows_suppressed as (
    select
        source,
        sum(row_count) as suppressed_count
    from suppression_counts
    group by source
),

checks as (
    select
        'row_count' as check_name,
        subject,
        cast(visible_rows as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        'rows with ingest_date <= ' || cast({{ run_date }} as varchar) as detail
    from raw_row_counts

    union all

    select
        'rows_ingested' as check_name,
        subject,
        cast(ingested_rows as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        'rows with ingest_date = ' || cast({{ run_date }} as varchar) as detail
    from raw_row_counts

    union all

    select
        'row_count' as check_name,
        subject,
        cast(row_count as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        'rows in run_date = ' || cast({{ run_date }} as varchar) as detail
    from stage_row_counts

    union all

    select
        'rejects' as check_name,
        source || '/' || reason as subject,
        cast(reject_count as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        cast(reject_count as varchar) || ' ' || source || ' records quarantined as ' || reason as detail
    from rejects_by_reason

    union all

    select
        'reject_share' as check_name,
        source as subject,
        reject_share as metric_value,
        cast({{ max_reject_share }} as double) as threshold,
        coalesce(reject_share <= cast({{ max_reject_share }} as double), true) as is_passed,
        true as is_blocking,
        case
            when reject_share is null then 'no ' || source || ' records'
            else cast(reject_count as varchar) || ' rejected of '
                || cast(reject_count + accepted_count as varchar) || ' ' || source || ' records ('
                || cast(cast(round(100 * reject_share, 2) as decimal(12, 2)) as varchar) || '%), limit '
                || cast(cast(round(100 * cast({{ max_reject_share }} as double), 2) as decimal(12, 2)) as varchar)
                || '%'
        end as detail
    from reject_shares

    union all

    select
        'orders_loaded' as check_name,
        subject,
        cast(row_count as double) as metric_value,
        cast(0 as double) as threshold,
        row_count > 0 as is_passed,
        true as is_blocking,
        case
            when row_count > 0 then cast(row_count as varchar) || ' orders in stage.orders'
            else 'no orders in stage.orders for ' || cast({{ run_date }} as varchar)
        end as detail
    from stage_row_counts
    where subject = 'stage.orders'

    union all

    select
        'freshness_days' as check_name,
        subject,
        cast(staleness_days as double) as metric_value,
        cast({{ max_source_staleness_days }} as double) as threshold,
        coalesce(staleness_days <= {{ max_source_staleness_days }}, false) as is_passed,
        true as is_blocking,
        case
            when newest_change_at is null then 'no parseable change time up to the run date in ' || seen_in
            else 'newest change on ' || cast(cast(newest_change_at as date) as varchar) || ' in ' || seen_in
                || ', limit ' || cast({{ max_source_staleness_days }} as varchar) || ' days'
        end as detail
    from freshness

    union all

    select
        'source_disabled' as check_name,
        subject,
        cast(null as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        'sources.' || subject || '.enabled is false: not extracted, no freshness check' as detail
    from disabled_sources

    union all

    select
        'out_of_scope_rows' as check_name,
        source as subject,
        cast(out_of_scope_count as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        cast(out_of_scope_count as varchar) || ' ' || source
            || ' rows dated after ' || cast({{ run_date }} as varchar)
            || ' and not after their extraction: left out of this run, not rejected' as detail
    from out_of_scope

    union all

    select
        'mixed_currency' as check_name,
        'stage.orders' as subject,
        cast(currency_count as double) as metric_value,
        cast(1 as double) as threshold,
        currency_count <= 1 as is_passed,
        true as is_blocking,
        case
            when currency_count = 0 then 'no currency on the revenue orders'
            when currency_count = 1 then 'revenue orders all in ' || first_currency
            when currency_count = 2 then 'revenue orders mix 2 currencies: ' || first_currency || ' and '
                || last_currency || '; amounts would be added across currencies'
            else 'revenue orders mix ' || cast(currency_count as varchar) || ' currencies, from '
                || first_currency || ' to ' || last_currency || '; amounts would be added across currencies'
        end as detail
    from revenue_currencies

    union all

    select
        'identity_group_cap' as check_name,
        'stage.rejects' as subject,
        cast(capped_count as double) as metric_value,
        cast(0 as double) as threshold,
        capped_count = 0 as is_passed,
        false as is_blocking,
        cast(capped_count as varchar)
            || ' records not merged: their identity group exceeds identity.maxSourceIdsPerCustomer = '
            || cast({{ max_source_ids_per_customer }} as varchar) as detail
    from identity_cap

    union all

    select
        'identity_hash_collision' as check_name,
        'stage.rejects' as subject,
        cast(collided_count as double) as metric_value,
        cast(0 as double) as threshold,
        collided_count = 0 as is_passed,
        false as is_blocking,
        cast(collided_count as varchar)
            || ' records not merged: two identities hashed to one new-customer id' as detail
    from identity_cap

    union all

    select
        'source_deletes' as check_name,
        source_table as subject,
        cast(deleted_count as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        cast(deleted_count as varchar) || ' ' || source_table
            || ' rows of the base snapshot deleted at the source' as detail
    from source_delete_counts

    union all

    select
        'deleted_share' as check_name,
        source_table as subject,
        deleted_share as metric_value,
        cast({{ max_deleted_share }} as double) as threshold,
        coalesce(deleted_share <= cast({{ max_deleted_share }} as double), true) as is_passed,
        true as is_blocking,
        case
            when deleted_share is null then 'no base snapshot of ' || source_table || ' to compare with'
            else cast(deleted_count as varchar) || ' deleted of ' || cast(row_count as varchar) || ' '
                || source_table || ' rows ('
                || cast(cast(round(100 * deleted_share, 2) as decimal(12, 2)) as varchar)
                || '%), limit sources.mysql.deleteDetection.maxDeletedShare = '
                || cast(cast(round(100 * cast({{ max_deleted_share }} as double), 2) as decimal(12, 2)) as varchar)
                || '%'
        end as detail
    from source_delete_counts
    where source_table like 'mysql.%'

    union all

    select
        'erased_rows_suppressed' as check_name,
        source as subject,
        cast(suppressed_count as double) as metric_value,
        cast(null as double) as threshold,
        true as is_passed,
        false as is_blocking,
        cast(suppressed_count as varchar) || ' ' || source
            || ' rows of erased customers left out at staging (stage.suppressed_keys)' as detail
    from erased_rows_suppressed
    where suppressed_count > 0
),

final as (
    select
        check_name,
        subject,
        metric_value,
        threshold,
        is_passed,
        is_blocking,
        detail
    from checks
)

select * from final
