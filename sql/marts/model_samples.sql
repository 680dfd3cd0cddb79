-- The bounded samples the Fit models Lambda reads, each chosen by sample_hash (deterministic on every
-- run and engine, and independent of the customer's data):
--   churn_train     even hashes, features as of D - 2H, labels from (D - 2H, D - H];
--   churn_evaluate  odd hashes, features as of D - H, labels from (D - H, D]: customers and a period the
--                   trained model never saw;
--   churn_refit     either half, as of D - H, labels from (D - H, D]: the model that scores the run date;
--   spend           repeat buyers as of D, for Gamma-Gamma;
--   kmeans          buyers as of D.
-- Each takes the smallest hashes up to its cap, so a sample of a large base costs the same to fit as
-- the cap, whatever the customer count.
with features as (
    select *
    from analytics.model_features
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

candidates as (
    select 'churn_train' as purpose, * from features
    where cutoff_role = 'train' and bitwise_and(sample_hash, 1) = 0
    union all
    select 'churn_evaluate' as purpose, * from features
    where cutoff_role = 'evaluate' and bitwise_and(sample_hash, 1) = 1
    union all
    select 'churn_refit' as purpose, * from features
    where cutoff_role = 'evaluate'
    union all
    select 'spend' as purpose, * from features
    where cutoff_role = 'score' and repeat_purchases > 0 and mean_repeat_spend > 0
    union all
    select 'kmeans' as purpose, * from features
    where cutoff_role = 'score'
),

ranked as (
    select
        *,
        row_number() over (partition by purpose order by sample_hash, customer_id) as sample_rank
    from candidates
),

final as (
    select *
    from ranked
    where (purpose like 'churn%' and sample_rank <= {{ churn_sample_size }})
        or (purpose = 'spend' and sample_rank <= {{ spend_sample_size }})
        or (purpose = 'kmeans' and sample_rank <= {{ kmeans_sample_size }})
)

select * from final
