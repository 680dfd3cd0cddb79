-- Every source identity with the customer the first matching rule gives it, or the reason it cannot
-- be resolved; int_identity_map then checks the result. Rules, in order: a MySQL customer id; a
-- visitor id through the latest `identify` event; a normalized email (the MySQL customer with that
-- email, else one new customer per email shared across sources); a legacy history id (the migrated
-- MySQL customer, else one new customer per id). Placeholder emails on the block list never merge
-- anyone.
--
-- A new customer's id is -1 minus the low 63 bits of the xxHash64 of its new_customer_key
-- ('email:<address>' or 'legacy:<id>'): negative, so never a MySQL id; the same from run to run and on
-- Athena and DuckDB (lib/sql/compat.ts). Two keys landing on one id are caught in int_identity_map.
--
-- Each lookup joins on one key column that is null unless the identity is of that type: a key-type
-- filter inside the join condition, beside the key match, makes DuckDB plan a nested-loop join.
with mysql_customers as (
    select
        customer_id,
        email_normalized
    from stg_mysql_customers
    where customer_id is not null
),

mysql_email_owners as (
    select
        email_normalized,
        min(customer_id) as customer_id
    from mysql_customers
    where email_normalized is not null
        -- an empty block list renders as NULL, and NOT IN (NULL) would exclude every email
        and coalesce(email_normalized not in ({{ blocked_emails }}), true)
    group by email_normalized
),

identify_events as (
    select
        coalesce(
            visitor_id,
            case when customer_key like 'visitor#%' then substr(customer_key, strpos(customer_key, '#') + 1) end
        ) as visitor_id,
        customer_id,
        event_at,
        event_id
    from stg_dynamodb_interactions
    where event_type = 'identify'
        and (visitor_id is not null or customer_key like 'visitor#%')
        and customer_id is not null
),

latest_identify as (
    select
        visitor_id,
        customer_id,
        row_number() over (partition by visitor_id order by event_at desc, event_id desc) as recency_rank
    from identify_events
),

visitor_map as (
    select
        visitor_id,
        customer_id
    from latest_identify
    where recency_rank = 1
),

dynamodb_keys as (
    select distinct
        customer_key as source_key,
        split_part(customer_key, '#', 1) as key_type,
        -- emails are matched trimmed and lower-cased, whichever source they come from
        case
            when split_part(customer_key, '#', 1) = 'email'
                then lower(trim(substr(customer_key, strpos(customer_key, '#') + 1)))
            else substr(customer_key, strpos(customer_key, '#') + 1)
        end as key_value
    from stg_dynamodb_interactions
    where customer_key is not null
),

dynamodb_lookups as (
    select
        source_key,
        key_type,
        key_value,
        case when key_type = 'customer' then try_cast(key_value as bigint) end as customer_id_key,
        case when key_type = 'visitor' then key_value end as visitor_key,
        case when key_type = 'email' then key_value end as email_key
    from dynamodb_keys
),

history_keys as (
    select distinct
        customer_ref as source_key,
        customer_ref_type as key_type,
        case when customer_ref_type = 'email' then lower(trim(customer_ref)) else customer_ref end as key_value
    from stg_history_orders
    -- a legacy id seen only on rows that will be quarantined would become a customer with nothing to show
    where customer_ref is not null and customer_ref <> ''
        and ordered_at >= timestamp '1990-01-01 00:00:00'
        and ordered_at < {{ run_date }} + interval '1' day
        and total_amount >= 0
        and item_quantity >= 0
),

history_lookups as (
    select
        source_key,
        key_type,
        key_value,
        case when key_type = 'email' then key_value end as email_key,
        -- a migrated customer's legacy id encodes their MySQL id (sources.history.legacyIdPattern)
        case
            when key_type = 'legacy_id'
                then try_cast(regexp_extract(key_value, {{ history_legacy_id_pattern }}, 1) as bigint)
        end as migrated_customer_id_key
    from history_keys
),

rules as (
    select
        'mysql' as source,
        'customer_id' as source_key_type,
        cast(customer_id as varchar) as source_key,
        customer_id as known_customer_id,
        cast(null as varchar) as new_customer_key,
        'mysql_id' as match_rule,
        cast(null as varchar) as unresolved_reason
    from mysql_customers

    union all

    select
        'dynamodb' as source,
        case
            when keys.key_type = 'customer' then 'customer_id'
            when keys.key_type = 'visitor' then 'visitor_id'
            when keys.key_type = 'email' then 'email'
            else 'unknown'
        end as source_key_type,
        keys.source_key,
        case
            when keys.key_type = 'customer' then known.customer_id
            when keys.key_type = 'visitor' then visitor_owner.customer_id
            when keys.key_type = 'email' then email_owner.customer_id
        end as known_customer_id,
        case
            when keys.key_type = 'email' and keys.key_value in ({{ blocked_emails }}) then null
            when keys.key_type = 'email' and email_owner.customer_id is null then 'email:' || keys.key_value
        end as new_customer_key,
        case
            when keys.key_type = 'customer' then 'mysql_id'
            when keys.key_type = 'visitor' then 'visitor_map'
            when keys.key_type = 'email' then 'normalized_email'
        end as match_rule,
        case
            when keys.key_type = 'customer' and known.customer_id is null then 'unknown_customer'
            when keys.key_type = 'visitor' and visitor_map.customer_id is null then 'anonymous_visitor'
            when keys.key_type = 'visitor' and visitor_owner.customer_id is null then 'unknown_customer'
            when keys.key_type = 'email' and keys.key_value in ({{ blocked_emails }}) then 'blocked_identifier'
            when keys.key_type not in ('customer', 'visitor', 'email') then 'missing_key'
        end as unresolved_reason
    from dynamodb_lookups as keys
    left join mysql_customers as known
        on known.customer_id = keys.customer_id_key
    left join visitor_map
        on visitor_map.visitor_id = keys.visitor_key
    left join mysql_customers as visitor_owner
        on visitor_owner.customer_id = visitor_map.customer_id
    left join mysql_email_owners as email_owner
        on email_owner.email_normalized = keys.email_key

    union all

    select
        'history' as source,
        keys.key_type as source_key_type,
        keys.source_key,
        case
            when keys.key_type = 'email' then email_owner.customer_id
            else migrated.customer_id
        end as known_customer_id,
        case
            when keys.key_type = 'email' and keys.key_value in ({{ blocked_emails }}) then null
            when keys.key_type = 'email'
                then case when email_owner.customer_id is null then 'email:' || keys.key_value end
            when migrated.customer_id is null then 'legacy:' || keys.key_value
        end as new_customer_key,
        case when keys.key_type = 'email' then 'normalized_email' else 'legacy_id' end as match_rule,
        case
            when keys.key_type = 'email' and keys.key_value in ({{ blocked_emails }}) then 'blocked_identifier'
        end as unresolved_reason
    from history_lookups as keys
    left join mysql_email_owners as email_owner
        on email_owner.email_normalized = keys.email_key
    left join mysql_customers as migrated
        on migrated.customer_id = keys.migrated_customer_id_key
),

final as (
    select
        source,
        source_key_type,
        source_key,
        case
            -- bitwise_and keeps the low 63 bits, so the id spans -1 .. -2^63 and never overflows a
            -- bigint (abs of the smallest bigint would)
            when new_customer_key is not null
                then -1 - bitwise_and(from_big_endian_64(xxhash64(to_utf8(new_customer_key))), 9223372036854775807)
            else known_customer_id
        end as customer_id,
        new_customer_key,
        match_rule,
        unresolved_reason
    from rules
)

select * from final
