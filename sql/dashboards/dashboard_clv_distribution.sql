-- Lifetime value in bands of money that widen as values grow (a long right tail would leave equal-width
-- bands empty but one): [0, 25), [25, 50), [50, 100), [100, 250), [250, 500), [500, 1000),
-- [1000, 2500), [2500, 5000), [5000, no limit). Withheld CLV (null) is left out; a negative value
-- cannot occur (expected purchases and spend are both >= 0), and would fall in the first band.
with customers as (
    select lifetime_value
    from analytics.customer_360_latest
    where lifetime_value is not null
),

bands as (
    select * from (
        values
            (0, 0.0e0, 25.0e0),
            (1, 25.0e0, 50.0e0),
            (2, 50.0e0, 100.0e0),
            (3, 100.0e0, 250.0e0),
            (4, 250.0e0, 500.0e0),
            (5, 500.0e0, 1000.0e0),
            (6, 1000.0e0, 2500.0e0),
            (7, 2500.0e0, 5000.0e0),
            (8, 5000.0e0, cast(null as double))
    ) as t (band_index, value_from, value_to)
),

banded as (
    select
        case
            when lifetime_value < 25 then 0
            when lifetime_value < 50 then 1
            when lifetime_value < 100 then 2
            when lifetime_value < 250 then 3
            when lifetime_value < 500 then 4
            when lifetime_value < 1000 then 5
            when lifetime_value < 2500 then 6
            when lifetime_value < 5000 then 7
            else 8
        end as band_index,
        lifetime_value
    from customers
),

by_band as (
    select
        band_index,
        count(*) as customers,
        sum(lifetime_value) as lifetime_value
    from banded
    group by band_index
),

final as (
    select
        cast(bands.band_index as integer) as band_index,
        case
            when bands.value_to is null then cast(cast(bands.value_from as bigint) as varchar) || '+'
            else cast(cast(bands.value_from as bigint) as varchar) || '-' || cast(cast(bands.value_to as bigint) as varchar)
        end as band_label,
        bands.value_from,
        bands.value_to,
        by_band.customers,
        cast(by_band.lifetime_value as decimal(38, 2)) as lifetime_value
    from by_band
    inner join bands
        on by_band.band_index = bands.band_index
)

select * from final
