-- Identity resolution of this run, as stage.identity_resolution materialized it in the first stage
-- wave (see that model for the rules and checks).
with resolution as (
    select
        source,
        source_key_type,
        source_key,
        customer_id,
        match_rule,
        unresolved_reason
    from stage.identity_resolution
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
)

select * from resolution
