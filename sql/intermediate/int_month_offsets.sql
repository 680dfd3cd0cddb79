-- Month offsets 0..999 (83 years) for month spines. Orders before 1990 are quarantined at stage, so
-- this covers every span until 2073. Portable: sequence() and generate_series() are engine-specific.
with digits as (
    select digit
    from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as t (digit)
),

final as (
    select
        hundreds.digit * 100 + tens.digit * 10 + ones.digit as month_offset
    from digits as hundreds
    cross join digits as tens
    cross join digits as ones
)

select * from final
