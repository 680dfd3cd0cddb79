import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelBgnbdInputs, modelFeatures, modelSamples } from '../lib/schema/marts/models.js';
import { stageInteractions, stageOrders } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow, stageOrder } from './helpers/lake.js';

/*
 * model_features, model_bgnbd_inputs and model_samples on hand-made stage rows. Run date D = 2024-06-30,
 * H = 90 days, so the cutoffs are: score 2024-06-30, evaluate 2024-04-01 (D - 90), train 2024-01-02
 * (D - 180; 2024 is a leap year). Day counts below are calendar days, worked by hand (and checked with
 * Python's date arithmetic).
 */
const RUN_DATE = '2024-06-30';

let eventSequence = 0;
const event = (
  customer_id: number,
  event_type: string,
  event_at: string,
  points: number | null = null,
): FixtureRow => ({
  event_id: `e-${++eventSequence}`,
  customer_id,
  event_type,
  event_at,
  points,
});

const pick = (r: Record<string, unknown>) => ({
  role: r.cutoff_role,
  cutoff: r.cutoff_date,
  customer: r.customer_id,
  purchaseDays: r.purchase_days,
  x: r.repeat_purchases,
  tx: r.recency_units,
  T: r.age_units,
  since: r.days_since_last_purchase,
  spend: r.total_spend,
  repeatSpend: r.mean_repeat_spend,
  recent: r.recent_purchase_days,
  engagement: r.engagement_events,
  tickets: r.support_tickets,
  loyalty: r.loyalty_points_balance,
  lastEvent: r.last_feature_event_at,
  churned: r.is_churned,
  next: r.next_purchase_days,
});

describe('model features: as of each cutoff, labels only after it', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageOrders, RUN_DATE, [
      // 1: purchase days 2023-12-01 (two orders, 50 + 30 = 80), 2024-02-15 (40), 2024-05-10 (25);
      // a cancelled order on 2024-06-01 is no purchase.
      stageOrder(1, '2023-12-01 09:00:00', 50),
      stageOrder(1, '2023-12-01 18:00:00', 30),
      stageOrder(1, '2024-02-15 10:00:00', 40),
      stageOrder(1, '2024-05-10 10:00:00', 25),
      stageOrder(1, '2024-06-01 10:00:00', 60, { status: 'cancelled' }),
      // 2: one purchase on 2024-03-20, nothing after.
      stageOrder(2, '2024-03-20 10:00:00', 100),
      // 3: an order after the run date only: no row at any cutoff.
      stageOrder(3, '2024-07-01 00:00:00', 70),
    ]);
    await lake.write(stageInteractions, RUN_DATE, [
      event(2, 'support_ticket', '2024-02-01 10:00:00'),
      event(2, 'loyalty_earn', '2024-03-21 10:00:00', 100),
      event(2, 'web_visit', '2024-03-25 10:00:00'),
      // an email sent is an exposure, not engagement
      event(2, 'email_sent', '2024-03-30 10:00:00'),
      event(2, 'loyalty_redeem', '2024-05-01 10:00:00', -30),
      event(2, 'login', '2024-06-29 10:00:00'),
      // after the run date: read by nothing
      event(2, 'web_visit', '2024-07-02 10:00:00'),
    ]);
    const config = { models: { churn: { horizonDays: 90 } } };
    await lake.run('model_features', RUN_DATE, config);
    await lake.run('model_bgnbd_inputs', RUN_DATE, config);
    await lake.run('model_samples', RUN_DATE, config);
  });

  afterAll(() => lake?.close());

  it('summarizes purchases per cutoff from orders on or before it, and labels from the H days after', async () => {
    const rows = (await lake.read(modelFeatures, RUN_DATE, 'customer_id, cutoff_date')).map(pick);
    expect(rows).toEqual([
      // 1 as of 2024-01-02: only 2023-12-01 (80), x 0, T = 32 days; 2024-02-15 falls in
      // (2024-01-02, 2024-04-01]: not churned, one purchase day next.
      {
        role: 'train',
        cutoff: '2024-01-02',
        customer: '1',
        purchaseDays: 1,
        x: 0,
        tx: 0,
        T: 32,
        since: 32,
        spend: 80,
        repeatSpend: null,
        recent: 1,
        engagement: 0,
        tickets: 0,
        loyalty: 0,
        lastEvent: '2023-12-01 18:00:00',
        churned: false,
        next: 1,
      },
      // 1 as of 2024-04-01: 2023-12-01 and 2024-02-15: x 1, t_x 76, T 122, 46 days since; repeat
      // spend 40; 2024-02-15 is within (2024-01-02, 2024-04-01]: 1 recent day; 2024-05-10 follows.
      {
        role: 'evaluate',
        cutoff: '2024-04-01',
        customer: '1',
        purchaseDays: 2,
        x: 1,
        tx: 76,
        T: 122,
        since: 46,
        spend: 120,
        repeatSpend: 40,
        recent: 1,
        engagement: 0,
        tickets: 0,
        loyalty: 0,
        lastEvent: '2024-02-15 10:00:00',
        churned: false,
        next: 1,
      },
      // 1 as of D: three purchase days, x 2, t_x 161, T 212, 51 days since; repeat spend
      // (40 + 25) / 2 = 32.5; the cancelled order counts nowhere; no label at the run date.
      {
        role: 'score',
        cutoff: '2024-06-30',
        customer: '1',
        purchaseDays: 3,
        x: 2,
        tx: 161,
        T: 212,
        since: 51,
        spend: 145,
        repeatSpend: 32.5,
        recent: 1,
        engagement: 0,
        tickets: 0,
        loyalty: 0,
        lastEvent: '2024-05-10 10:00:00',
        churned: null,
        next: null,
      },
      // 2 as of 2024-04-01 (no row as of 2024-01-02: no purchase yet): the web visit of 03-25 is in
      // the 90-day window, the email sent is not engagement; the ticket and the 100 points earned are
      // before the cutoff, the redemption and the login after it. Nothing bought in (04-01, 06-30]:
      // churned.
      {
        role: 'evaluate',
        cutoff: '2024-04-01',
        customer: '2',
        purchaseDays: 1,
        x: 0,
        tx: 0,
        T: 12,
        since: 12,
        spend: 100,
        repeatSpend: null,
        recent: 1,
        engagement: 1,
        tickets: 1,
        loyalty: 100,
        lastEvent: '2024-03-30 10:00:00',
        churned: true,
        next: 0,
      },
      // 2 as of D: the window (04-01, 06-30] holds the login only; 100 - 30 = 70 points; the visit
      // of 07-02 is after the run date and read by nothing.
      {
        role: 'score',
        cutoff: '2024-06-30',
        customer: '2',
        purchaseDays: 1,
        x: 0,
        tx: 0,
        T: 102,
        since: 102,
        spend: 100,
        repeatSpend: null,
        recent: 0,
        engagement: 1,
        tickets: 1,
        loyalty: 70,
        lastEvent: '2024-06-29 10:00:00',
        churned: null,
        next: null,
      },
    ]);
  });

  it('computes the log features from the summary', async () => {
    const [row] = await lake.read(modelFeatures, RUN_DATE, 'customer_id, cutoff_date DESC');
    // customer 1 as of D: ln(1 + 51), ln(1 + 3), ln(1 + 212), ln(1 + 145 / 3)
    expect(row?.f_log_recency_days).toBeCloseTo(Math.log(52), 12);
    expect(row?.f_log_purchase_days).toBeCloseTo(Math.log(4), 12);
    expect(row?.f_log_tenure_days).toBeCloseTo(Math.log(213), 12);
    expect(row?.f_log_mean_spend).toBeCloseTo(Math.log(1 + 145 / 3), 12);
  });

  it('groups customers by (x, t_x, T) per cutoff with counts for the BG/NBD fit', async () => {
    const rows = await lake.read(modelBgnbdInputs, RUN_DATE, 'cutoff_date, repeat_purchases, age_units');
    expect(
      rows.map((r) => [
        r.cutoff_role,
        r.repeat_purchases,
        r.recency_units,
        r.age_units,
        r.customers,
        r.fit_customers,
      ]),
    ).toEqual([
      ['train', 0, 0, 32, '1', '1'],
      ['evaluate', 0, 0, 12, '1', '1'],
      ['evaluate', 1, 76, 122, '1', '1'],
      ['score', 0, 0, 102, '1', '1'],
      ['score', 2, 161, 212, '1', '1'],
    ]);
  });

  it('fits BG/NBD on a hashed sample per cutoff, but keeps every triple of the run date for scoring', async () => {
    const sampled = await FixtureLake.open();
    try {
      // 1,200 one-time buyers, each on a day of their own before the run date: 1,200 distinct triples.
      const orders: FixtureRow[] = [];
      for (let id = 1; id <= 1200; id += 1) {
        const day = new Date(Date.parse(`${RUN_DATE}T00:00:00Z`) - id * 86_400_000)
          .toISOString()
          .slice(0, 10);
        orders.push(stageOrder(id, `${day} 10:00:00`, 10));
      }
      await sampled.write(stageOrders, RUN_DATE, orders);
      await sampled.write(stageInteractions, RUN_DATE, []);
      const config = { models: { clv: { fitSampleSize: 1000 } } };
      await sampled.run('model_features', RUN_DATE, config);
      await sampled.run('model_bgnbd_inputs', RUN_DATE, config);
      const rows = await sampled.read(modelBgnbdInputs, RUN_DATE);
      const score = rows.filter((r) => r.cutoff_role === 'score');
      const total = (list: typeof rows, key: string) => list.reduce((n, r) => n + Number(r[key]), 0);
      // Every triple of the run date is kept for scoring; 1,000 of the 1,200 customers are fitted on.
      expect([score.length, total(score, 'customers'), total(score, 'fit_customers')]).toEqual([
        1200, 1200, 1000,
      ]);
      // They are the 1,000 smallest hashes (each customer has a T of their own here).
      const features = await sampled.read(modelFeatures, RUN_DATE, 'sample_hash');
      const smallest = new Set(
        features
          .filter((r) => r.cutoff_role === 'score')
          .slice(0, 1000)
          .map((r) => r.age_units),
      );
      expect(new Set(score.filter((r) => r.fit_customers === '1').map((r) => r.age_units))).toEqual(smallest);
      // At D - 2H (2024-01-02) 1,021 customers had bought; only the 1,000 sampled triples are kept.
      const train = rows.filter((r) => r.cutoff_role === 'train');
      expect([train.length, total(train, 'fit_customers')]).toEqual([1000, 1000]);
    } finally {
      sampled.close();
    }
  });

  it('in whole weeks, floors t_x and T to weeks', async () => {
    const weekly = await FixtureLake.open();
    try {
      await weekly.write(stageOrders, RUN_DATE, [
        stageOrder(1, '2023-12-01 09:00:00', 50),
        stageOrder(1, '2024-05-10 10:00:00', 25),
      ]);
      await weekly.write(stageInteractions, RUN_DATE, []);
      await weekly.run('model_features', RUN_DATE, { models: { clv: { timeResolution: 'week' } } });
      const rows = await weekly.read(modelFeatures, RUN_DATE, 'cutoff_date');
      const score = rows.find((r) => r.cutoff_role === 'score');
      // t_x 161 days = 23 weeks exactly; T 212 days = 30 weeks and 2 days: 30
      expect([score?.recency_units, score?.age_units]).toEqual([23, 30]);
    } finally {
      weekly.close();
    }
  });

  it('samples by hash: training on even hashes as of D - 2H, evaluation on odd ones as of D - H', async () => {
    const rows = await lake.read(modelSamples, RUN_DATE, 'purpose, customer_id');
    for (const row of rows) {
      const even = BigInt(String(row.sample_hash)) % 2n === 0n;
      if (row.purpose === 'churn_train') expect([row.cutoff_role, even]).toEqual(['train', true]);
      if (row.purpose === 'churn_evaluate') expect([row.cutoff_role, even]).toEqual(['evaluate', false]);
      if (row.purpose === 'churn_refit') expect(row.cutoff_role).toBe('evaluate');
      if (row.purpose === 'spend')
        expect([row.cutoff_role, Number(row.repeat_purchases) > 0]).toEqual(['score', true]);
      if (row.purpose === 'kmeans') expect(row.cutoff_role).toBe('score');
    }
    // Both evaluate rows are in the refit sample, and both buyers as of D in the K-Means one; only
    // customer 1 is a repeat buyer at D.
    const customers = (purpose: string) =>
      rows.filter((r) => r.purpose === purpose).map((r) => r.customer_id);
    expect(customers('churn_refit')).toEqual(['1', '2']);
    expect(customers('kmeans')).toEqual(['1', '2']);
    expect(customers('spend')).toEqual(['1']);
  });

  it('caps each sample at its configured size, smallest hashes first', async () => {
    const capped = await FixtureLake.open();
    try {
      const orders: FixtureRow[] = [];
      for (let id = 1; id <= 300; id += 1) orders.push(stageOrder(id, '2024-06-01 10:00:00', 10));
      await capped.write(stageOrders, RUN_DATE, orders);
      await capped.write(stageInteractions, RUN_DATE, []);
      const config = { models: { kmeans: { sampleSize: 120 } } };
      await capped.run('model_features', RUN_DATE, config);
      await capped.run('model_samples', RUN_DATE, config);
      const all = await capped.read(modelFeatures, RUN_DATE, 'sample_hash');
      const sampled = await capped.read(modelSamples, RUN_DATE, 'sample_hash');
      const kmeans = sampled.filter((r) => r.purpose === 'kmeans').map((r) => r.customer_id);
      expect(kmeans).toEqual(all.slice(0, 120).map((r) => r.customer_id));
    } finally {
      capped.close();
    }
  });
});
