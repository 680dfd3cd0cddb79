-- MySQL customers as of the run date: the latest extracted version of each customer, typed. A
-- customer erased on request (stage.suppressed_keys) is dropped here, before identity resolution and
-- quarantine, so a later extraction of a row the source still holds never brings them back.
with source as (
    select *
    from stage.snapshot_mysql_customers
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

suppressed_customers as (
    select distinct try_cast(key_value as bigint) as customer_id
    from stage.suppressed_keys
    where key_type = 'mysql_customer_id'
),

kept as (
    select source.*
    from source
    left join suppressed_customers
        on source.customer_id = suppressed_customers.customer_id
    where suppressed_customers.customer_id is null
),

final as (
    select
        customer_id,
        email as email_raw,
        lower(trim(email)) as email_normalized,
        first_name,
        last_name,
        phone,
        gender,
        birth_date as birth_date_raw,
        try_cast(birth_date as date) as birth_date,
        city,
        state,
        country,
        signup_at as signup_at_raw,
        try_cast(signup_at as timestamp) as signup_at,
        loyalty_tier,
        marketing_opt_in as is_marketing_opt_in,
        try_cast(updated_at as timestamp) as updated_at
    from kept
)

select * from final
