-- MySQL customers as of the run date: the latest extracted version of each customer, typed.
with source as (
    select *
    from stage.snapshot_mysql_customers
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
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
    from source
)

select * from final
