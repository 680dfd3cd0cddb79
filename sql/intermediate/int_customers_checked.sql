-- Unified customers: every MySQL customer, plus one customer per identity known only to DynamoDB
-- (by email) or to the legacy history (by email or legacy id). A customer whose profile holds a
-- garbled date is kept with that field empty: dropping them would orphan all their orders.
with mysql_customers as (
    select
        'mysql.customers' as source,
        coalesce(cast(customer_id as varchar), email_raw) as record_key,
        customer_id,
        email_normalized,
        first_name,
        last_name,
        phone,
        gender,
        case when birth_date >= date '1900-01-01' and birth_date <= {{ run_date }} then birth_date end as birth_date,
        city,
        state,
        country,
        signup_at,
        loyalty_tier,
        is_marketing_opt_in,
        'mysql' as origin,
        updated_at,
        case when customer_id is null then 'missing_key' end as reject_reason,
        email_raw as reject_detail,
        json_format(cast(map(
            array['customer_id', 'email', 'signup_at'],
            array[cast(customer_id as varchar), email_raw, signup_at_raw]
        ) as json)) as record_json
    from stg_mysql_customers
),

identity_only as (
    select
        customer_id,
        min(source) as origin,
        min(case when source_key_type = 'email' then lower(trim(
            case when strpos(source_key, '#') > 0 then substr(source_key, strpos(source_key, '#') + 1) else source_key end
        )) end) as email_normalized
    from int_identity_map
    where customer_id < 0
    group by customer_id
),

new_customers as (
    select
        'identity' as source,
        cast(customer_id as varchar) as record_key,
        customer_id,
        email_normalized,
        cast(null as varchar) as first_name,
        cast(null as varchar) as last_name,
        cast(null as varchar) as phone,
        cast(null as varchar) as gender,
        cast(null as date) as birth_date,
        cast(null as varchar) as city,
        cast(null as varchar) as state,
        cast(null as varchar) as country,
        cast(null as timestamp) as signup_at,
        cast(null as varchar) as loyalty_tier,
        cast(null as boolean) as is_marketing_opt_in,
        origin,
        cast(null as timestamp) as updated_at,
        cast(null as varchar) as reject_reason,
        cast(null as varchar) as reject_detail,
        cast(null as varchar) as record_json
    from identity_only
),

final as (
    select * from mysql_customers
    union all
    select * from new_customers
)

select * from final
