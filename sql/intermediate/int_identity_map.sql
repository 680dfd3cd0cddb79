-- Every source identity and the customer it resolves to, with the rule that matched, or the reason
-- it could not be resolved. Rules, in order: a MySQL customer id; a visitor id through the latest
-- `identify` event; a normalized email (the MySQL customer with that email, else one new customer per
-- email shared across sources); a legacy history id (one customer per id). Placeholder emails on the
-- block list never merge anyone, and a customer that would gather more linked identities than the
-- cap is not merged at all (the links are reported instead).
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

candidates as (
    select
        'mysql' as source,
        'customer_id' as source_key_type,
        cast(customer_id as varchar) as source_key,
        customer_id,
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
            when keys.key_type = 'email' and keys.key_value in ({{ blocked_emails }}) then null
            when keys.key_type = 'email' then coalesce(
                email_owner.customer_id,
                -1 - abs(from_big_endian_64(xxhash64(to_utf8('email:' || keys.key_value))) % 1000000000000000)
            )
        end as customer_id,
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
    from dynamodb_keys as keys
    left join mysql_customers as known
        on keys.key_type = 'customer'
        and known.customer_id = try_cast(keys.key_value as bigint)
    left join visitor_map
        on keys.key_type = 'visitor'
        and visitor_map.visitor_id = keys.key_value
    left join mysql_customers as visitor_owner
        on visitor_owner.customer_id = visitor_map.customer_id
    left join mysql_email_owners as email_owner
        on keys.key_type = 'email'
        and email_owner.email_normalized = keys.key_value

    union all

    select
        'history' as source,
        keys.key_type as source_key_type,
        keys.source_key,
        case
            when keys.key_type = 'email' and keys.key_value in ({{ blocked_emails }}) then null
            when keys.key_type = 'email' then coalesce(
                email_owner.customer_id,
                -1 - abs(from_big_endian_64(xxhash64(to_utf8('email:' || keys.key_value))) % 1000000000000000)
            )
            else coalesce(
                migrated.customer_id,
                -1 - abs(from_big_endian_64(xxhash64(to_utf8('legacy:' || keys.key_value))) % 1000000000000000)
            )
        end as customer_id,
        case when keys.key_type = 'email' then 'normalized_email' else 'legacy_id' end as match_rule,
        case
            when keys.key_type = 'email' and keys.key_value in ({{ blocked_emails }}) then 'blocked_identifier'
        end as unresolved_reason
    from history_keys as keys
    left join mysql_email_owners as email_owner
        on keys.key_type = 'email'
        and email_owner.email_normalized = keys.key_value
    -- a migrated customer's legacy id encodes their MySQL id (sources.history.legacyIdPattern)
    left join mysql_customers as migrated
        on keys.key_type = 'legacy_id'
        and migrated.customer_id = try_cast(
            regexp_extract(keys.key_value, {{ history_legacy_id_pattern }}, 1) as bigint
        )
),

linked_counts as (
    select
        customer_id,
        count(*) as linked_identities
    from candidates
    where unresolved_reason is null
        and match_rule <> 'mysql_id'
    group by customer_id
),

final as (
    select
        candidates.source,
        candidates.source_key_type,
        candidates.source_key,
        case
            when candidates.unresolved_reason is not null then null
            when candidates.match_rule <> 'mysql_id'
                and linked_counts.linked_identities > {{ max_source_ids_per_customer }} then null
            else candidates.customer_id
        end as customer_id,
        candidates.match_rule,
        case
            when candidates.unresolved_reason is not null then candidates.unresolved_reason
            when candidates.match_rule <> 'mysql_id'
                and linked_counts.linked_identities > {{ max_source_ids_per_customer }} then 'identity_group_too_large'
        end as unresolved_reason
    from candidates
    left join linked_counts
        on candidates.customer_id = linked_counts.customer_id
)

select * from final
