import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnRisk } from '../lib/schema/marts/churn-risk.js';
import { stageOrders } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * The churn_risk mart on hand-made stage orders. Run date 2024-06-30: orders count up to
 * 2024-06-30 23:59:59 (ordered_at < 2024-07-01 00:00:00). Gaps and days since the last purchase are
 * calendar days between purchase days (distinct order dates); threshold = k x mean gap; at risk when
 * days since > threshold. One-time buyers (one purchase day) are compared with k x the median, over
 * repeat buyers, of the days from first to second purchase day.
 *
 * That baseline here, by hand: the repeat buyers' first-to-second purchase gaps are 2: 30, 3: 10,
 * 4: 40, 5: 40, 6: 20, 9: 10, 11: 10; sorted 10, 10, 10, 20, 30, 40, 40: n = 7, median 20. With the
 * default one-time multiplier 2 the one-time threshold is 40 days.
 */
const RUN_DATE = '2024-06-30';

let orderSequence = 0;
const order = (customer_id: number, ordered_at: string, status = 'delivered'): FixtureRow => ({
  order_id: `m-${++orderSequence}`,
  customer_id,
  ordered_at,
  status,
  channel: 'web',
  payment_method: 'card',
  currency: 'USD',
  total_amount: status === 'refunded' ? -25 : 25,
  discount_amount: 0,
  item_quantity: 1,
  is_revenue: status !== 'cancelled' && status !== 'refunded',
  source: 'mysql',
});

const columns = (r: Record<string, unknown>) => [
  r.customer_id,
  r.order_count,
  r.purchase_days,
  r.first_order_at,
  r.last_order_at,
  r.days_since_last_order,
  r.avg_gap_days,
  r.max_gap_days,
  r.stddev_gap_days,
  r.baseline_gap_days,
  r.gap_multiplier,
  r.threshold_days,
  r.is_churn_risk,
  r.risk_reason,
];

describe('churn_risk mart: order gaps against k x the mean gap', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageOrders, RUN_DATE, [
      // 1: a single order.
      order(1, '2024-03-01 10:00:00'),
      // 2: a steady buyer, gaps 30 and 31 days.
      order(2, '2024-04-01 10:00:00'),
      order(2, '2024-05-01 10:00:00'),
      order(2, '2024-06-01 10:00:00'),
      // 3: bought every 10-20 days in January, silent since. Written out of order: LAG sorts by time.
      order(3, '2024-01-31 10:00:00'),
      order(3, '2024-01-01 10:00:00'),
      order(3, '2024-01-11 10:00:00'),
      // 4: two revenue orders 40 days apart; a cancelled one between them and a refunded one after
      // them make no gap and do not move the last order.
      order(4, '2024-05-01 10:00:00'),
      order(4, '2024-05-20 10:00:00', 'cancelled'),
      order(4, '2024-06-10 10:00:00'),
      order(4, '2024-06-25 10:00:00', 'refunded'),
      // 5: one gap of 40 days, 81 days since: at risk with k = 2 (80), not with k = 2.5 (100).
      order(5, '2024-03-01 10:00:00'),
      order(5, '2024-04-10 10:00:00'),
      // 6: one gap of 20 days, exactly 40 days since: on the k = 2 threshold, which is not beyond it.
      order(6, '2024-05-01 10:00:00'),
      order(6, '2024-05-21 10:00:00'),
      // 7: only cancelled orders: no row.
      order(7, '2024-06-01 10:00:00', 'cancelled'),
      // 8: an order after the run date (exactly on the exclusive edge) is ignored: a single order.
      order(8, '2024-06-01 10:00:00'),
      order(8, '2024-07-01 00:00:00'),
      // 9: an order on the last second of the run date counts.
      order(9, '2024-06-20 10:00:00'),
      order(9, '2024-06-30 23:59:59'),
      // 10: three orders on one day, two days ago: one purchase day, a one-time buyer (on main: gaps
      // of 0, a zero threshold, at risk two days after buying).
      order(10, '2024-06-28 09:00:00'),
      order(10, '2024-06-28 12:00:00'),
      order(10, '2024-06-28 18:00:00'),
      // 11: two orders on Jun 1 and one on Jun 11: one gap of 10 days between purchase days (on main:
      // gaps 0 and 10, mean 5, threshold 10, at risk 19 days later).
      order(11, '2024-06-01 09:00:00'),
      order(11, '2024-06-01 15:00:00'),
      order(11, '2024-06-11 10:00:00'),
    ]);
    await lake.run('churn_risk', RUN_DATE, { analysis: { churnGapMultiplier: 2 } });
  });

  afterAll(() => lake?.close());

  it('computes gap statistics, the threshold and the flag for every customer with a revenue order', async () => {
    const rows = await lake.read(churnRisk, RUN_DATE, 'customer_id');
    // columns: id, orders, purchase days, first, last, days since, avg gap, max gap, stddev gap,
    // baseline, k, threshold, risk, reason
    expect(rows.map(columns)).toEqual([
      // 1: one purchase day; 2024-03-01 to 2024-06-30 is 121 days > 2 x the baseline 20 = 40: overdue.
      [
        '1',
        1,
        1,
        '2024-03-01 10:00:00',
        '2024-03-01 10:00:00',
        121,
        null,
        null,
        null,
        20,
        2,
        40,
        true,
        'one_time_overdue',
      ],
      // 2: gaps 30 (Apr 1 - May 1) and 31 (May 1 - Jun 1): mean 30.5, max 31,
      // sample stddev sqrt((0.5^2 + 0.5^2) / 1) = sqrt(0.5); 29 days since <= 2 x 30.5 = 61.
      [
        '2',
        3,
        3,
        '2024-04-01 10:00:00',
        '2024-06-01 10:00:00',
        29,
        30.5,
        31,
        Math.sqrt(0.5),
        null,
        2,
        61,
        false,
        'within_gap',
      ],
      // 3: gaps 10 and 20: mean 15, max 20, stddev sqrt((5^2 + 5^2) / 1) = sqrt(50);
      // Jan 31 to Jun 30 is 151 days > 2 x 15 = 30.
      [
        '3',
        3,
        3,
        '2024-01-01 10:00:00',
        '2024-01-31 10:00:00',
        151,
        15,
        20,
        Math.sqrt(50),
        null,
        2,
        30,
        true,
        'gap_exceeded',
      ],
      // 4: revenue orders May 1 and Jun 10 only: one gap of 40 (stddev needs two gaps: null);
      // 20 days since Jun 10 <= 80. Counting the cancelled and refunded orders would have given
      // 4 orders, gaps 19, 21 and 15, and a last order on Jun 25.
      [
        '4',
        2,
        2,
        '2024-05-01 10:00:00',
        '2024-06-10 10:00:00',
        20,
        40,
        40,
        null,
        null,
        2,
        80,
        false,
        'within_gap',
      ],
      // 5: Apr 10 to Jun 30 is 81 days > 2 x 40 = 80.
      [
        '5',
        2,
        2,
        '2024-03-01 10:00:00',
        '2024-04-10 10:00:00',
        81,
        40,
        40,
        null,
        null,
        2,
        80,
        true,
        'gap_exceeded',
      ],
      // 6: May 21 to Jun 30 is 40 days, not > 2 x 20 = 40.
      [
        '6',
        2,
        2,
        '2024-05-01 10:00:00',
        '2024-05-21 10:00:00',
        40,
        20,
        20,
        null,
        null,
        2,
        40,
        false,
        'within_gap',
      ],
      // 7 is absent: no revenue order.
      // 8: the 2024-07-01 00:00:00 order is after the run date; Jun 1 to Jun 30 is 29 days <= 40.
      [
        '8',
        1,
        1,
        '2024-06-01 10:00:00',
        '2024-06-01 10:00:00',
        29,
        null,
        null,
        null,
        20,
        2,
        40,
        false,
        'one_time_within',
      ],
      // 9: gap Jun 20 to Jun 30 = 10 days; last order on the run date itself: 0 days since.
      [
        '9',
        2,
        2,
        '2024-06-20 10:00:00',
        '2024-06-30 23:59:59',
        0,
        10,
        10,
        null,
        null,
        2,
        20,
        false,
        'within_gap',
      ],
      // 10: three orders, one purchase day; Jun 28 to Jun 30 is 2 days <= 40: not at risk.
      [
        '10',
        3,
        1,
        '2024-06-28 09:00:00',
        '2024-06-28 18:00:00',
        2,
        null,
        null,
        null,
        20,
        2,
        40,
        false,
        'one_time_within',
      ],
      // 11: one gap of 10 between purchase days; Jun 11 to Jun 30 is 19 days <= 2 x 10 = 20.
      [
        '11',
        3,
        2,
        '2024-06-01 09:00:00',
        '2024-06-11 10:00:00',
        19,
        10,
        10,
        null,
        null,
        2,
        20,
        false,
        'within_gap',
      ],
    ]);
  });

  it('takes k from configuration: a larger multiplier lifts customer 5 out of risk', async () => {
    await lake.run('churn_risk', RUN_DATE, { analysis: { churnGapMultiplier: 2.5 } });
    const rows = await lake.read(churnRisk, RUN_DATE, 'customer_id');
    const byId = Object.fromEntries(rows.map((r) => [r.customer_id, r]));
    // 5: threshold 2.5 x 40 = 100; 81 days since is within it now.
    expect(byId['5']).toMatchObject({
      gap_multiplier: 2.5,
      threshold_days: 100,
      is_churn_risk: false,
      risk_reason: 'within_gap',
    });
    // 3: 151 days since is still beyond 2.5 x 15 = 37.5.
    expect(byId['3']).toMatchObject({
      threshold_days: 37.5,
      is_churn_risk: true,
      risk_reason: 'gap_exceeded',
    });
    // 1 is a one-time buyer, judged by oneTimeBuyerGapMultiplier (still 2: 121 > 40).
    expect(rows.filter((r) => r.is_churn_risk).map((r) => r.customer_id)).toEqual(['1', '3']);
  });

  it('is idempotent: a rerun of the date with the same configuration gives identical rows', async () => {
    await lake.run('churn_risk', RUN_DATE, { analysis: { churnGapMultiplier: 2 } });
    const before = await lake.read(churnRisk, RUN_DATE, 'customer_id');
    await lake.run('churn_risk', RUN_DATE, { analysis: { churnGapMultiplier: 2 } });
    expect(await lake.read(churnRisk, RUN_DATE, 'customer_id')).toEqual(before);
    expect(before.filter((r) => r.is_churn_risk).map((r) => r.customer_id)).toEqual(['1', '3', '5']);
  });

  it('takes the one-time buyers multiplier from analysis.oneTimeBuyerGapMultiplier', async () => {
    // 6 x 20 = 120 days: customer 1's 121 days are still beyond it; 6.1 x 20 = 122 is not.
    await lake.run('churn_risk', RUN_DATE, { analysis: { oneTimeBuyerGapMultiplier: 6 } });
    let byId = Object.fromEntries(
      (await lake.read(churnRisk, RUN_DATE, 'customer_id')).map((r) => [r.customer_id, r]),
    );
    expect(byId['1']).toMatchObject({ gap_multiplier: 6, threshold_days: 120, is_churn_risk: true });
    await lake.run('churn_risk', RUN_DATE, { analysis: { oneTimeBuyerGapMultiplier: 6.1 } });
    byId = Object.fromEntries(
      (await lake.read(churnRisk, RUN_DATE, 'customer_id')).map((r) => [r.customer_id, r]),
    );
    expect(byId['1']).toMatchObject({ is_churn_risk: false, risk_reason: 'one_time_within' });
    // repeat buyers keep churnGapMultiplier (default 2)
    expect(byId['3']).toMatchObject({ gap_multiplier: 2, threshold_days: 30 });
  });
});

describe('churn_risk mart: one-time buyers without any repeat buyer, and an even number of repeat buyers', () => {
  let lake: FixtureLake;
  afterAll(() => lake?.close());

  it('leaves one-time buyers undecided when nobody ever bought twice', async () => {
    lake = await FixtureLake.open();
    await lake.write(stageOrders, RUN_DATE, [
      order(1, '2023-01-01 10:00:00'),
      order(2, '2024-06-01 10:00:00'),
    ]);
    await lake.run('churn_risk', RUN_DATE);
    const rows = await lake.read(churnRisk, RUN_DATE, 'customer_id');
    expect(rows.map((r) => [r.customer_id, r.threshold_days, r.is_churn_risk, r.risk_reason])).toEqual([
      ['1', null, false, 'no_repeat_baseline'],
      ['2', null, false, 'no_repeat_baseline'],
    ]);
  });

  it('takes the mean of the two middle gaps as the median of an even count', async () => {
    // Repeat buyers 2-5 with first-to-second gaps 4, 10, 30, 100 (a third purchase day of 5 does not
    // count): median (10 + 30) / 2 = 20; one-time threshold 2 x 20 = 40.
    await lake.write(stageOrders, RUN_DATE, [
      order(1, '2024-05-01 10:00:00'),
      order(2, '2024-01-01 10:00:00'),
      order(2, '2024-01-05 10:00:00'),
      order(3, '2024-01-01 10:00:00'),
      order(3, '2024-01-11 10:00:00'),
      order(4, '2024-01-01 10:00:00'),
      order(4, '2024-01-31 10:00:00'),
      order(5, '2024-01-01 10:00:00'),
      order(5, '2024-04-10 10:00:00'),
      order(5, '2024-04-11 10:00:00'),
    ]);
    await lake.run('churn_risk', RUN_DATE);
    const rows = await lake.read(churnRisk, RUN_DATE, 'customer_id');
    // 1: May 1 to Jun 30 is 60 days > 40.
    expect(rows[0]).toMatchObject({
      customer_id: '1',
      baseline_gap_days: 20,
      threshold_days: 40,
      is_churn_risk: true,
    });
  });
});
