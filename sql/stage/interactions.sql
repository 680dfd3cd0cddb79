-- Conformed interaction events on unified customer ids.
with checked as (
    select * from int_interactions_checked
),

final as (
    select
        event_id,
        customer_id,
        event_type,
        event_at,
        campaign_id,
        device,
        traffic_source,
        ip_address,
        is_success,
        ticket_category,
        resolution_minutes,
        satisfaction,
        product_id,
        rating,
        points,
        cost
    from checked
    where reject_reason is null
)

select * from final
