-- Every resolved source identity, the customer it belongs to and the rule that linked it.
with identities as (
    select * from int_identity_map
),

final as (
    select
        source,
        source_key_type,
        source_key,
        customer_id,
        match_rule
    from identities
    where customer_id is not null
)

select * from final
