-- The RFM grid: customers by recency score (rows) and frequency score (columns), with their mean
-- spend and the segment most of them fall in (ties to the first segment name, so the label is stable).
with scored as (
    select
        r_score,
        f_score,
        monetary,
        segment
    from analytics.rfm_latest
    where r_score is not null
        and f_score is not null
),

by_cell_segment as (
    select
        r_score,
        f_score,
        segment,
        count(*) as customers
    from scored
    group by r_score, f_score, segment
),

dominant_segment as (
    select
        r_score,
        f_score,
        segment,
        row_number() over (partition by r_score, f_score order by customers desc, segment) as position
    from by_cell_segment
),

by_cell as (
    select
        r_score,
        f_score,
        count(*) as customers,
        avg(cast(monetary as double)) as avg_monetary
    from scored
    group by r_score, f_score
),

final as (
    select
        by_cell.r_score,
        by_cell.f_score,
        by_cell.customers,
        cast(by_cell.customers as double) / sum(by_cell.customers) over () as share,
        by_cell.avg_monetary,
        dominant_segment.segment
    from by_cell
    inner join dominant_segment
        on by_cell.r_score = dominant_segment.r_score
        and by_cell.f_score = dominant_segment.f_score
    where dominant_segment.position = 1
)

select * from final
