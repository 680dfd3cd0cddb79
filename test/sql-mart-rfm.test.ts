import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rfm } from '../lib/schema/marts/rfm.js';
import { stageOrders } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow, stageOrder } from './helpers/lake.js';

/*
 * The rfm mart on hand-made stage orders. Run date 2024-06-30.
 *
 * Window edges: with rfmWindowDays = 91 (the 91 calendar days ending with the run date) the window is
 *   ordered_at >= 2024-04-01 00:00:00 (2024-07-01 minus 91 days; this edge is IN)
 *   ordered_at <  2024-07-01 00:00:00 (the day after the run date; this edge is OUT),
 * so an order at 2024-04-01 00:00:00 counts, one at 2024-03-31 23:59:59 does not, one at
 * 2024-06-30 23:59:59 counts and one at 2024-07-01 00:00:00 does not.
 *
 * Scores: score = 1 + floor(5 x (rank - 1) / n), rank() from worst to best, so tied values share a
 * score (see sql/marts/rfm.sql).
 */
const RUN_DATE = '2024-06-30';
const WINDOW = { analysis: { rfmWindowDays: 91 } };

const order = (customer_id: number, ordered_at: string, total_amount: number, status = 'delivered') =>
  stageOrder(customer_id, ordered_at, total_amount, { status });

describe('rfm mart: window edges, revenue orders only, tied scores', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageOrders, RUN_DATE, [
      // 1: one order exactly on the lower edge (in), one a second before it (out).
      order(1, '2024-04-01 00:00:00', 100),
      order(1, '2024-03-31 23:59:59', 500),
      // 2: one order on the last second of the run date (in), one exactly on the upper edge (out;
      // staging quarantines such future dates, and the mart must not count one either).
      order(2, '2024-06-30 23:59:59', 40),
      order(2, '2024-07-01 00:00:00', 1000),
      // 3: a revenue order, then a cancelled and a refunded one that are neither purchases nor spend.
      order(3, '2024-06-01 10:00:00', 60),
      order(3, '2024-06-10 10:00:00', 200, 'cancelled'),
      order(3, '2024-06-20 10:00:00', -60, 'refunded'),
      // 4: a revenue order before the window and a cancelled one inside it: no row.
      order(4, '2024-01-10 10:00:00', 80),
      order(4, '2024-06-15 10:00:00', 80, 'cancelled'),
      // 5 and 6: different orders, identical recency (5 days), frequency (3) and spend (150).
      order(5, '2024-05-01 10:00:00', 50),
      order(5, '2024-06-01 10:00:00', 50),
      order(5, '2024-06-25 10:00:00', 50),
      order(6, '2024-05-10 09:00:00', 70),
      order(6, '2024-06-05 09:00:00', 30),
      order(6, '2024-06-25 18:00:00', 50),
      // 7: one recent small order.
      order(7, '2024-06-28 12:00:00', 20),
    ]);
    await lake.run('rfm', RUN_DATE, WINDOW);
  });

  afterAll(() => lake?.close());

  it('computes recency, frequency and spend from revenue orders inside the window', async () => {
    const rows = await lake.read(rfm, RUN_DATE, 'customer_id');
    expect(
      rows.map((r) => [r.customer_id, r.last_order_at, r.recency_days, r.frequency, r.monetary]),
    ).toEqual([
      // 1: only the 2024-04-01 00:00:00 order (lower edge in); 2024-04-01 to 2024-06-30 is 90 days.
      ['1', '2024-04-01 00:00:00', 90, 1, '100.00'],
      // 2: only the 23:59:59 order on the run date (recency 0); the 1000 on 2024-07-01 is out.
      ['2', '2024-06-30 23:59:59', 0, 1, '40.00'],
      // 3: the delivered 60 on 2024-06-01 only (29 days); the later cancelled 200 and refunded -60
      // move neither the last order nor the frequency nor the spend.
      ['3', '2024-06-01 10:00:00', 29, 1, '60.00'],
      // 4 is absent: no revenue order in the window.
      ['5', '2024-06-25 10:00:00', 5, 3, '150.00'], // 50 + 50 + 50
      ['6', '2024-06-25 18:00:00', 5, 3, '150.00'], // 70 + 30 + 50
      ['7', '2024-06-28 12:00:00', 2, 1, '20.00'],
    ]);
  });

  it('scores by quintile of rank with ties sharing a score, and names the segment', async () => {
    const rows = await lake.read(rfm, RUN_DATE, 'customer_id');
    /*
     * n = 6 customers; score = 1 + floor(5 x (rank - 1) / 6): rank 1 -> 1, 2 -> 1, 3 -> 2, 4 -> 3,
     * 5 -> 4, 6 -> 5.
     * R, worst (oldest) first: 1 (90 days) rank 1, 3 (29) rank 2, 5 and 6 (5, tied) rank 3,
     *   7 (2) rank 5, 2 (0) rank 6 -> R = 1, 1, 2, 2, 4, 5.
     * F, fewest first: 1, 2, 3, 7 (1 order, tied) rank 1 -> F 1; 5, 6 (3 orders, tied) rank 5 -> F 4.
     * M, lowest first: 7 (20) rank 1 -> 1, 2 (40) rank 2 -> 1, 3 (60) rank 3 -> 2, 1 (100) rank 4 -> 3,
     *   5 and 6 (150, tied) rank 5 -> 4.
     * ntile(5) by customer_id would have given 5 and 6 different R scores (2 and 3).
     * Segments by (R, F): (1,1) Lost, (5,1) New, (2,4) At Risk, (4,1) Promising.
     */
    expect(rows.map((r) => [r.customer_id, r.r_score, r.f_score, r.m_score, r.rfm_score, r.segment])).toEqual(
      [
        ['1', 1, 1, 3, '113', 'Lost'],
        ['2', 5, 1, 1, '511', 'New'],
        ['3', 1, 1, 2, '112', 'Lost'],
        ['5', 2, 4, 4, '244', 'At Risk'],
        ['6', 2, 4, 4, '244', 'At Risk'],
        ['7', 4, 1, 1, '411', 'Promising'],
      ],
    );
  });

  it('is idempotent: a rerun of the date gives identical rows, ties included', async () => {
    const before = await lake.read(rfm, RUN_DATE, 'customer_id');
    await lake.run('rfm', RUN_DATE, WINDOW);
    expect(await lake.read(rfm, RUN_DATE, 'customer_id')).toEqual(before);
  });

  it('takes the window from configuration: one day more brings in the order of 2024-03-31', async () => {
    // 92 days: the lower edge is 2024-03-31 00:00:00, so customer 1's 500 at 23:59:59 that day is in:
    // frequency 2, spend 100 + 500 = 600; the last order (and recency 90) is unchanged.
    await lake.run('rfm', RUN_DATE, { analysis: { rfmWindowDays: 92 } });
    const rows = await lake.read(rfm, RUN_DATE, 'customer_id');
    expect(rows.find((r) => r.customer_id === '1')).toMatchObject({
      last_order_at: '2024-04-01 00:00:00',
      recency_days: 90,
      frequency: 2,
      monetary: '600.00',
    });
    await lake.run('rfm', RUN_DATE, WINDOW);
  });
});

/*
 * Every cell of the R/F segment map. 25 customers, id 1000 + 10 x r + f, for r and f in 1..5:
 * - f revenue orders of 10.00 each, one day apart, the last on 2024-06-30 minus 10 x (5 - r) days,
 *   so recency is 40, 30, 20, 10 or 0 days for r = 1..5;
 * - five customers share each recency and each frequency, so rank() puts each group at rank
 *   5 x (k - 1) + 1 and score = 1 + floor(5 x 5 (k - 1) / 25) = k: R = r, F = f and M = f.
 * The expected map (rows R 1..5, columns F 1..5) is the one documented in sql/marts/rfm.sql.
 */
const SEGMENT_MAP: readonly (readonly string[])[] = [
  ['Lost', 'Hibernating', 'At Risk', 'At Risk', "Can't Lose Them"],
  ['Hibernating', 'Hibernating', 'At Risk', 'At Risk', "Can't Lose Them"],
  ['About to Sleep', 'About to Sleep', 'Need Attention', 'Loyal', 'Loyal'],
  ['Promising', 'Potential Loyalist', 'Potential Loyalist', 'Loyal', 'Loyal'],
  ['New', 'Potential Loyalist', 'Potential Loyalist', 'Champions', 'Champions'],
];

const daysBefore = (date: string, days: number): string => {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
};

describe('rfm mart: the segment map', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    const rows: FixtureRow[] = [];
    for (let r = 1; r <= 5; r++) {
      for (let f = 1; f <= 5; f++) {
        const last = daysBefore(RUN_DATE, 10 * (5 - r));
        for (let k = 0; k < f; k++)
          rows.push(order(1000 + 10 * r + f, `${daysBefore(last, k)} 12:00:00`, 10));
      }
    }
    await lake.write(stageOrders, RUN_DATE, rows);
    await lake.run('rfm', RUN_DATE, { analysis: { rfmWindowDays: 365 } });
  });

  afterAll(() => lake?.close());

  it('gives every (R, F) cell its named segment', async () => {
    const rows = await lake.read(rfm, RUN_DATE, 'customer_id');
    expect(rows).toHaveLength(25);
    const expected = [];
    for (let r = 1; r <= 5; r++) {
      for (let f = 1; f <= 5; f++) {
        expected.push({
          customer_id: String(1000 + 10 * r + f),
          recency_days: 10 * (5 - r),
          frequency: f,
          monetary: `${10 * f}.00`,
          r_score: r,
          f_score: f,
          m_score: f,
          rfm_score: `${r}${f}${f}`,
          segment: SEGMENT_MAP[r - 1]?.[f - 1],
        });
      }
    }
    expect(rows).toEqual(expected.map((e) => expect.objectContaining(e)));
  });
});

/*
 * "New" needs a recent first purchase, not only R 5 and F 1. Run date 2024-06-30, window 365 days
 * (orders from 2023-07-02 00:00), newCustomerMaxDays 90 (a first purchase on or after 2024-04-01).
 * Four customers whose last order is 2024-06-29 (recency 1 day):
 *   21: that order is their first ever: New.
 *   22: first bought 2022-01-10, before the window: Returning.
 *   24: first bought 2024-04-01, exactly 90 days before the run date: New (the edge is in).
 *   25: first bought 2024-03-31, 91 days before, inside the window: Promising.
 * Sixteen fillers (101-116) of two orders each, the last 5 x i days before 2024-06-29 (recency 6 to
 * 81 days). Scores, n = 20, score = 1 + floor(5 x (rank - 1) / 20):
 *   R: the fillers take ranks 1-16; 21, 22, 24 and 25 tie at rank 17 -> 1 + floor(80 / 20) = 5.
 *   F: 21 and 22 have one order in the window (rank 1 -> F 1); everyone else two (rank 3 ->
 *      1 + floor(10 / 20) = 1). So all four are R 5, F 1, which main called New whatever their past.
 */
describe('rfm mart: New only for a recent first purchase', () => {
  let lake: FixtureLake;
  const SUBJECTS = ['21', '22', '24', '25'];
  const segments = async () =>
    (await lake.read(rfm, RUN_DATE, 'customer_id'))
      .filter((r) => SUBJECTS.includes(String(r.customer_id)))
      .map((r) => [r.customer_id, r.r_score, r.f_score, r.segment]);

  beforeAll(async () => {
    lake = await FixtureLake.open();
    const fillers: FixtureRow[] = [];
    for (let i = 1; i <= 16; i++) {
      const last = daysBefore('2024-06-29', 5 * i);
      fillers.push(
        order(100 + i, `${last} 10:00:00`, 10),
        order(100 + i, `${daysBefore(last, 1)} 10:00:00`, 10),
      );
    }
    await lake.write(stageOrders, RUN_DATE, [
      ...fillers,
      order(21, '2024-06-29 10:00:00', 10),
      order(22, '2022-01-10 10:00:00', 10),
      order(22, '2024-06-29 10:00:00', 10),
      order(24, '2024-04-01 10:00:00', 10),
      order(24, '2024-06-29 10:00:00', 10),
      order(25, '2024-03-31 10:00:00', 10),
      order(25, '2024-06-29 10:00:00', 10),
    ]);
  });

  afterAll(() => lake?.close());

  it('calls an R 5, F 1 customer New only when the first purchase is recent, Returning or Promising otherwise', async () => {
    await lake.run('rfm', RUN_DATE, { analysis: { rfmWindowDays: 365, newCustomerMaxDays: 90 } });
    expect(await segments()).toEqual([
      ['21', 5, 1, 'New'],
      ['22', 5, 1, 'Returning'],
      ['24', 5, 1, 'New'],
      ['25', 5, 1, 'Promising'],
    ]);
  });

  it('takes the limit from analysis.newCustomerMaxDays', async () => {
    // 91 days: 25's first purchase of 2024-03-31 is recent enough; 22's of 2022 still is not.
    await lake.run('rfm', RUN_DATE, { analysis: { rfmWindowDays: 365, newCustomerMaxDays: 91 } });
    expect((await segments()).map((r) => r[3])).toEqual(['New', 'Returning', 'New', 'New']);
  });
});
