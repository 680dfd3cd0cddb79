-- Customers grouped by their (x, t_x, T) triple at each cutoff, with counts: BG/NBD's likelihood depends
-- on a customer only through the triple, so the fit is weighted maximum likelihood over these rows.
--
-- The fit reads fit_customers: the customers of the triple who are in the fit sample, the smallest
-- sample_hash values up to bgnbd_sample_size per cutoff. Distinct triples grow with the customer count
-- (a million customers had 370,000 at the run date, by day), so fitting on all of them would make the
-- fit's cost follow the customer count; a hashed sample keeps it bounded, and 50,000 customers fix four
-- parameters far more tightly than the data's own variation.
-- Every triple at the run date is kept (customers counts all of them), because every customer is
-- scored through its triple; at the two earlier cutoffs only sampled triples are needed.
-- next_purchase_days sums the sampled customers' purchase days after the cutoff (within H), for
-- checking the fit against what happened.
with features as (
    select *
    from analytics.model_features
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

ranked as (
    select
        *,
        row_number() over (partition by cutoff_role order by sample_hash, customer_id) <= {{ bgnbd_sample_size }}
            as is_fit_sample
    from features
),

final as (
    select
        cutoff_role,
        cutoff_date,
        repeat_purchases,
        recency_units,
        age_units,
        count(*) as customers,
        count_if(is_fit_sample) as fit_customers,
        sum(next_purchase_days) filter (where is_fit_sample) as next_purchase_days
    from ranked
    group by cutoff_role, cutoff_date, repeat_purchases, recency_units, age_units
    having cutoff_role = 'score' or count_if(is_fit_sample) > 0
)

select * from final
