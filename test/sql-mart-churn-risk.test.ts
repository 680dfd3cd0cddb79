import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnRisk } from '../lib/schema/marts/churn-risk.js';
import { stageOrders } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * The churn_risk mart on hand-made stage orders. Run date 2024-06-30: orders count up to
 * 2024-06-30 23:59:59 (ordered_at < 2024-07-01 00:00:00). Gaps and days since the last order are
 * calendar days between order dates; threshold = k x mean gap; at risk when days since > threshold.
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
  r.first_order_at,
  r.last_order_at,
  r.days_since_last_order,
  r.avg_gap_days,
  r.max_gap_days,
  r.stddev_gap_days,
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
    ]);
    await lake.run('churn_risk', RUN_DATE, { analysis: { churnGapMultiplier: 2 } });
  });

  afterAll(() => lake?.close());

  it('computes gap statistics, the threshold and the flag for every customer with a revenue order', async () => {
    const rows = await lake.read(churnRisk, RUN_DATE, 'customer_id');
    // columns: id, orders, first, last, days since, avg gap, max gap, stddev gap, k, threshold, risk, reason
    expect(rows.map(columns)).toEqual([
      // 1: no gap, so no statistics and no threshold; 2024-03-01 to 2024-06-30 is 121 days.
      [
        '1',
        1,
        '2024-03-01 10:00:00',
        '2024-03-01 10:00:00',
        121,
        null,
        null,
        null,
        2,
        null,
        false,
        'single_order',
      ],
      // 2: gaps 30 (Apr 1 - May 1) and 31 (May 1 - Jun 1): mean 30.5, max 31,
      // sample stddev sqrt((0.5^2 + 0.5^2) / 1) = sqrt(0.5); 29 days since <= 2 x 30.5 = 61.
      [
        '2',
        3,
        '2024-04-01 10:00:00',
        '2024-06-01 10:00:00',
        29,
        30.5,
        31,
        Math.sqrt(0.5),
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
        '2024-01-01 10:00:00',
        '2024-01-31 10:00:00',
        151,
        15,
        20,
        Math.sqrt(50),
        2,
        30,
        true,
        'gap_exceeded',
      ],
      // 4: revenue orders May 1 and Jun 10 only: one gap of 40 (stddev needs two gaps: null);
      // 20 days since Jun 10 <= 80. Counting the cancelled and refunded orders would have given
      // 4 orders, gaps 19, 21 and 15, and a last order on Jun 25.
      ['4', 2, '2024-05-01 10:00:00', '2024-06-10 10:00:00', 20, 40, 40, null, 2, 80, false, 'within_gap'],
      // 5: Apr 10 to Jun 30 is 81 days > 2 x 40 = 80.
      ['5', 2, '2024-03-01 10:00:00', '2024-04-10 10:00:00', 81, 40, 40, null, 2, 80, true, 'gap_exceeded'],
      // 6: May 21 to Jun 30 is 40 days, not > 2 x 20 = 40.
      ['6', 2, '2024-05-01 10:00:00', '2024-05-21 10:00:00', 40, 20, 20, null, 2, 40, false, 'within_gap'],
      // 7 is absent: no revenue order.
      // 8: the 2024-07-01 00:00:00 order is after the run date; Jun 1 to Jun 30 is 29 days.
      [
        '8',
        1,
        '2024-06-01 10:00:00',
        '2024-06-01 10:00:00',
        29,
        null,
        null,
        null,
        2,
        null,
        false,
        'single_order',
      ],
      // 9: gap Jun 20 to Jun 30 = 10 days; last order on the run date itself: 0 days since.
      ['9', 2, '2024-06-20 10:00:00', '2024-06-30 23:59:59', 0, 10, 10, null, 2, 20, false, 'within_gap'],
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
    expect(rows.filter((r) => r.is_churn_risk).map((r) => r.customer_id)).toEqual(['3']);
  });

  it('is idempotent: a rerun of the date with the same configuration gives identical rows', async () => {
    await lake.run('churn_risk', RUN_DATE, { analysis: { churnGapMultiplier: 2 } });
    const before = await lake.read(churnRisk, RUN_DATE, 'customer_id');
    await lake.run('churn_risk', RUN_DATE, { analysis: { churnGapMultiplier: 2 } });
    expect(await lake.read(churnRisk, RUN_DATE, 'customer_id')).toEqual(before);
    expect(before.filter((r) => r.is_churn_risk).map((r) => r.customer_id)).toEqual(['3', '5']);
  });
});
