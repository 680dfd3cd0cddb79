-- Lifetime value per customer with a revenue purchase by the run date (BG/NBD + Gamma-Gamma, Fader,
-- Hardie and Lee 2005), scored by joining the Fit models Lambda's output back in:
--   P(alive) and expected purchases come from model_clv_by_triple, keyed by the (x, t_x, T) triple:
--   they need the Gaussian hypergeometric function, which neither Athena nor DuckDB has, and a large
--   base has far fewer distinct triples than customers, so the Lambda computes each triple once;
--   expected spend per purchase is Gamma-Gamma's closed form, computed here with the fitted p, q, v:
--     E[M | x, m_x] = (p v + p x m_x) / (p x + q - 1)
--   for repeat buyers with positive mean repeat spend; everyone else (one-time buyers, outside the
--   model's domain) gets the population mean spend, flagged by is_spend_population_mean.
--   lifetime_value = expected_avg_spend x discounted_expected_purchases.
-- When the run's BG/NBD fit is not to be trusted (degenerate, not converged, too little data) the
-- model figures are withheld (null) and score_status says why: never published as if fine.
with features as (
    select *
    from analytics.model_features
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and cutoff_role = 'score'
),

by_triple as (
    select *
    from analytics.model_clv_by_triple
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

model_runs as (
    select *
    from analytics.model_runs
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

parameters as (
    select *
    from analytics.model_parameters
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
),

-- one row each, also when the fit wrote none (an aggregate without group by): joined to every customer
bgnbd_fit as (
    select
        max(status) as bgnbd_status,
        bool_or(is_trustworthy) as is_bgnbd_trustworthy
    from model_runs
    where model = 'bgnbd'
        and cutoff_role = 'score'
),

spend_fit as (
    select bool_or(is_trustworthy) as is_spend_trustworthy
    from model_runs
    where model = 'gamma_gamma'
),

spend_parameters as (
    select
        max(value) filter (where parameter = 'p') as p,
        max(value) filter (where parameter = 'q') as q,
        max(value) filter (where parameter = 'v') as v,
        max(value) filter (where parameter = 'population_mean_spend') as population_mean_spend
    from parameters
    where model = 'gamma_gamma'
),

scored as (
    select
        features.customer_id,
        features.repeat_purchases,
        -- doubles: on Trino an integer over 7.0 is a decimal division, rounded to one decimal place
        cast(features.recency_units * {{ time_unit_days }} as double) / 7 as recency_weeks,
        cast(features.age_units * {{ time_unit_days }} as double) / 7 as age_weeks,
        features.mean_repeat_spend,
        coalesce(bgnbd_fit.is_bgnbd_trustworthy, false) as is_trustworthy,
        coalesce(bgnbd_fit.bgnbd_status, 'missing') as bgnbd_status,
        by_triple.p_alive,
        by_triple.expected_purchases_short,
        by_triple.expected_purchases_long,
        by_triple.discounted_expected_purchases,
        case
            when coalesce(spend_fit.is_spend_trustworthy, false)
                and features.repeat_purchases > 0
                and features.mean_repeat_spend > 0
                then (spend_parameters.p * spend_parameters.v
                    + spend_parameters.p * features.repeat_purchases * features.mean_repeat_spend)
                    / (spend_parameters.p * features.repeat_purchases + spend_parameters.q - 1)
        end as gamma_gamma_spend,
        spend_parameters.population_mean_spend
    from features
    left join by_triple
        on features.repeat_purchases = by_triple.repeat_purchases
        and features.recency_units = by_triple.recency_units
        and features.age_units = by_triple.age_units
    cross join bgnbd_fit
    cross join spend_fit
    cross join spend_parameters
),

final as (
    select
        customer_id,
        repeat_purchases,
        recency_weeks,
        age_weeks,
        mean_repeat_spend,
        case when is_trustworthy then p_alive end as p_alive,
        case when is_trustworthy then expected_purchases_short end as expected_purchases_short,
        {{ clv_short_horizon_days }} as short_horizon_days,
        case when is_trustworthy then expected_purchases_long end as expected_purchases_long,
        {{ clv_long_horizon_days }} as long_horizon_days,
        coalesce(gamma_gamma_spend, population_mean_spend) as expected_avg_spend,
        gamma_gamma_spend is null as is_spend_population_mean,
        case when is_trustworthy then discounted_expected_purchases end as discounted_expected_purchases,
        case
            when is_trustworthy
                then coalesce(gamma_gamma_spend, population_mean_spend) * discounted_expected_purchases
        end as lifetime_value,
        {{ clv_lifetime_horizon_days }} as lifetime_horizon_days,
        {{ clv_annual_discount_rate }} as annual_discount_rate,
        is_trustworthy,
        case when is_trustworthy then 'ok' else concat('withheld: BG/NBD fit ', bgnbd_status) end as score_status
    from scored
)

select * from final
