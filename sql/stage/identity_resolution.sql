-- Every source identity and the customer it resolves to, with the rule that matched, or the reason
-- it could not be resolved. The rules are int_identity_candidates; two checks follow.
--
-- Materialized once per run, in the first stage wave: every other stage model reads it (through
-- int_identity_map) instead of resolving identities again over all of the raw zone.
--
-- Hash collisions: new customers get hashed ids (63 bits), so two distinct identities could land on
-- one id and be merged silently. Every identity whose id was hashed from more than one distinct key
-- is left unresolved as identity_hash_collision instead. The check reads only the (key, id) pairs of
-- int_identity_candidates, so a test can feed it a forced duplicate.
--
-- Group cap: a customer that would gather more linked identities than the cap is not merged at all
-- (the links are reported instead).
with candidates as (
    select
        source,
        source_key_type,
        source_key,
        customer_id,
        new_customer_key,
        match_rule,
        unresolved_reason
    from int_identity_candidates
),

hashed_ids as (
    select distinct
        new_customer_key,
        customer_id
    from candidates
    where new_customer_key is not null
),

hash_collisions as (
    select customer_id
    from hashed_ids
    group by customer_id
    having count(*) > 1
),

collision_checked as (
    select
        candidates.source,
        candidates.source_key_type,
        candidates.source_key,
        case when hash_collisions.customer_id is null then candidates.customer_id end as customer_id,
        candidates.match_rule,
        case
            when candidates.unresolved_reason is not null then candidates.unresolved_reason
            when hash_collisions.customer_id is not null then 'identity_hash_collision'
        end as unresolved_reason
    from candidates
    left join hash_collisions
        on candidates.customer_id = hash_collisions.customer_id
),

linked_counts as (
    select
        customer_id,
        count(*) as linked_identities
    from collision_checked
    where unresolved_reason is null
        and match_rule <> 'mysql_id'
    group by customer_id
),

final as (
    select
        identities.source,
        identities.source_key_type,
        identities.source_key,
        case
            when identities.unresolved_reason is not null then null
            when identities.match_rule <> 'mysql_id'
                and linked_counts.linked_identities > {{ max_source_ids_per_customer }} then null
            else identities.customer_id
        end as customer_id,
        identities.match_rule,
        case
            when identities.unresolved_reason is not null then identities.unresolved_reason
            when identities.match_rule <> 'mysql_id'
                and linked_counts.linked_identities > {{ max_source_ids_per_customer }} then 'identity_group_too_large'
        end as unresolved_reason
    from collision_checked as identities
    left join linked_counts
        on identities.customer_id = linked_counts.customer_id
)

select * from final
