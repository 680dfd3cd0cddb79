-- Revenue orders of the RFM window: the rfm_window_days calendar days ending with the run date
-- (cancelled and refunded orders excluded). One definition for every mart that uses the window.
with orders as (
    select
        customer_id,
        ordered_at,
        total_amount,
        is_revenue
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

final as (
    select
        customer_id,
        ordered_at,
        total_amount
    from orders
    where is_revenue
        and ordered_at >= cast({{ run_date }} as timestamp) + interval '1' day
            - interval '1' day * {{ rfm_window_days }}
        and ordered_at < cast({{ run_date }} as timestamp) + interval '1' day
)

select * from final
