-- Recency, frequency and monetary value per customer over the RFM window, 1-5 scores and a named
-- segment. Only revenue orders count (cancelled and refunded orders are in no frequency or spend), and
-- a customer without a revenue order in the window has no row.
--
-- Window: the rfm_window_days calendar days ending with the run date, as every windowed mart uses:
-- ordered_at >= run_date + 1 day - rfm_window_days (00:00:00, included) and < run_date + 1 day.
-- Recency is in calendar days from the date of the last order to the run date (0 = ordered on it);
-- both sides are cast to date so Trino (whole elapsed days) and DuckDB (boundaries) agree.
--
-- Scores: score = 1 + floor(5 x (rank - 1) / customers), with rank() ordering customers from worst
-- to best (oldest last order, fewest orders, lowest spend). It is 1 + the fifth of customers strictly
-- worse than this one, so equal values always share a score and the result depends on the values
-- alone, never on row order or customer ids; without ties it places customers in quintiles as
-- ntile(5) would. ntile(5) with customer_id as a tie-breaker was rejected: most customers order once,
-- and it would split identical one-order customers across F scores 1-3 by the accident of their ids.
-- A consequence: a tie at the top shares the score of its lowest position (it may be 4, not 5).
--
-- Segments, from the common R/F score map (R = r_score, F = f_score; M is not used):
--   Champions           R 5,   F 4-5
--   Loyal               R 3-4, F 4-5
--   Potential Loyalist  R 4-5, F 2-3
--   New                 R 5,   F 1, first purchase at most new_customer_max_days before the run date
--   Returning           R 5,   F 1, first purchase older and before the window: came back after a gap
--   Promising           R 5,   F 1, first purchase older but in the window (and R 4, F 1)
--   Promising           R 4,   F 1
--   Need Attention      R 3,   F 3
--   About to Sleep      R 3,   F 1-2
--   At Risk             R 1-2, F 3-4
--   Can't Lose Them     R 1-2, F 5
--   Lost                R 1,   F 1
--   Hibernating         R 1-2, F 1-2 (but not Lost)
-- The 25 (R, F) cells are covered exactly once. R 5 and F 1 alone say "bought recently, not often in
-- the window", not "new": on real data every such customer had first bought 15-18 months earlier, so
-- "New" also needs the first purchase (lifetime, not in the window) to be recent.
with revenue_orders_in_window as (
    select * from int_revenue_orders_in_rfm_window
),

first_purchases as (
    select
        customer_id,
        min(ordered_at) as first_order_at
    from stage.orders
    where run_date = {{ run_date }}
        and run_id = {{ run_id }}
        and is_revenue
        and ordered_at < cast({{ run_date }} as timestamp) + interval '1' day
    group by customer_id
),

customer_totals as (
    select
        customer_id,
        max(ordered_at) as last_order_at,
        count(*) as frequency,
        sum(total_amount) as monetary
    from revenue_orders_in_window
    group by customer_id
),

with_recency as (
    select
        customer_totals.*,
        first_purchases.first_order_at,
        date_diff('day', cast(customer_totals.last_order_at as date), {{ run_date }}) as recency_days,
        date_diff('day', cast(first_purchases.first_order_at as date), {{ run_date }}) as first_order_days
    from customer_totals
    inner join first_purchases
        on customer_totals.customer_id = first_purchases.customer_id
),

ranked as (
    select
        *,
        -- worst first: rank 1 is the oldest last order, the fewest orders, the lowest spend
        rank() over (order by recency_days desc) as recency_rank,
        rank() over (order by frequency) as frequency_rank,
        rank() over (order by monetary) as monetary_rank,
        count(*) over () as customer_count
    from with_recency
),

scored as (
    select
        *,
        -- cast to double first: integer division truncates on Trino
        1 + cast(floor(5 * cast(recency_rank - 1 as double) / customer_count) as integer) as r_score,
        1 + cast(floor(5 * cast(frequency_rank - 1 as double) / customer_count) as integer) as f_score,
        1 + cast(floor(5 * cast(monetary_rank - 1 as double) / customer_count) as integer) as m_score
    from ranked
),

segmented as (
    select
        *,
        case
            when r_score = 5 and f_score >= 4 then 'Champions'
            when r_score between 3 and 4 and f_score >= 4 then 'Loyal'
            when r_score >= 4 and f_score between 2 and 3 then 'Potential Loyalist'
            when r_score = 5 and f_score = 1 and first_order_days <= {{ new_customer_max_days }} then 'New'
            when r_score = 5 and f_score = 1
                and first_order_at < cast({{ run_date }} as timestamp) + interval '1' day
                    - interval '1' day * {{ rfm_window_days }}
                then 'Returning'
            when r_score = 5 and f_score = 1 then 'Promising'
            when r_score = 4 and f_score = 1 then 'Promising'
            when r_score = 3 and f_score = 3 then 'Need Attention'
            when r_score = 3 and f_score <= 2 then 'About to Sleep'
            when r_score <= 2 and f_score between 3 and 4 then 'At Risk'
            when r_score <= 2 and f_score = 5 then 'Can''t Lose Them'
            when r_score = 1 and f_score = 1 then 'Lost'
            when r_score <= 2 and f_score <= 2 then 'Hibernating'
        end as segment
    from scored
),

final as (
    select
        customer_id,
        last_order_at,
        cast(recency_days as integer) as recency_days,
        cast(frequency as integer) as frequency,
        cast(monetary as decimal(14, 2)) as monetary,
        r_score,
        f_score,
        m_score,
        cast(r_score as varchar) || cast(f_score as varchar) || cast(m_score as varchar) as rfm_score,
        segment
    from segmented
)

select * from final
