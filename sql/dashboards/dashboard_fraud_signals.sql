-- Fraud signals: how often each condition of the fraud rules triggered, and for how many of those
-- customers it ended in a flag (a login anomaly and an order anomaly together). The conditions are read
-- from flag_reasons, which names each triggered one as '<signal> <figure> > <threshold>' (fraud_flags.sql).
with flags as (
    select
        flag_reasons,
        is_flagged
    from analytics.fraud_flags_latest
    where flag_reasons is not null
),

signals as (
    select * from (
        values
            ('distinct_ips', 'login', 1),
            ('login_attempts', 'login', 2),
            ('failed_logins', 'login', 3),
            ('high_value_order', 'order', 4),
            ('orders_in_window', 'order', 5)
    ) as t (signal, signal_group, position)
),

by_signal as (
    select
        signals.signal,
        signals.signal_group,
        signals.position,
        count_if(strpos(flags.flag_reasons, signals.signal || ' ') > 0) as customers,
        count_if(strpos(flags.flag_reasons, signals.signal || ' ') > 0 and flags.is_flagged) as flagged_customers
    from signals
    cross join flags
    group by signals.signal, signals.signal_group, signals.position
),

final as (
    select
        signal,
        signal_group,
        cast(customers as bigint) as customers,
        cast(flagged_customers as bigint) as flagged_customers
    from by_signal
)

select * from final
