-- Conformed customers: one row per unified customer id.
with checked as (
    select * from int_customers_checked
),

final as (
    select
        customer_id,
        email_normalized,
        first_name,
        last_name,
        phone,
        gender,
        birth_date,
        city,
        state,
        country,
        signup_at,
        loyalty_tier,
        is_marketing_opt_in,
        origin as source,
        updated_at
    from checked
    where reject_reason is null
)

select * from final
