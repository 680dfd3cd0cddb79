-- Customers grouped by their (x, t_x, T) triple at each cutoff, with counts: BG/NBD's likelihood depends
-- on a customer only through the triple, so the fit is weighted maximum likelihood over these rows and
-- its cost follows the number of distinct triples, not of customers. next_purchase_days sums the
-- purchase days after the cutoff (within H), for checking the fit against what happened.
with features as (
    select *
    from analytics.model_features
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

final as (
    select
        cutoff_role,
        cutoff_date,
        repeat_purchases,
        recency_units,
        age_units,
        count(*) as customers,
        sum(next_purchase_days) as next_purchase_days
    from features
    group by cutoff_role, cutoff_date, repeat_purchases, recency_units, age_units
)

select * from final
