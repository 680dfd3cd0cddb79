import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customer360 } from '../lib/schema/marts/customer-360.js';
import { fraudFlags } from '../lib/schema/marts/fraud-flags.js';
import { alertCandidates, segmentFigures } from '../lib/schema/marts/summaries.js';
import { FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * segment_figures and alert_candidates on hand-made customer_360 and fraud_flags rows; expected values
 * worked by hand below. Run 2024-06-30 builds on the published run of 2024-06-29 (its snapshot base).
 */
const RUN_DATE = '2024-06-30';
const PREVIOUS = { date: '2024-06-29', runId: 'previous-run' };

const customer = (customer_id: number, extra: FixtureRow): FixtureRow => ({
  customer_id,
  lifetime_orders: 1,
  lifetime_revenue: 100,
  days_since_last_order: 10,
  is_churn_risk: false,
  lifecycle_stage: 'Prospect',
  ...extra,
});

describe('notification inputs: aggregate segment figures and bounded alert candidates', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(customer360, RUN_DATE, [
      customer(1, {
        rfm_segment: 'Champions',
        lifecycle_stage: 'Champions',
        kmeans_segment: 'frequent high spenders, recently active',
        lifetime_value: 500,
        churn_probability: 0.2,
        primary_channel: 'web',
        is_churn_model_trustworthy: true,
        is_clv_trustworthy: true,
      }),
      customer(2, {
        rfm_segment: 'Champions',
        lifecycle_stage: 'Champions',
        kmeans_segment: 'frequent high spenders, recently active',
        lifetime_value: 300,
        churn_probability: 0.6,
        days_since_last_order: 30,
        is_churn_risk: true,
        primary_channel: 'purchase',
        is_churn_model_trustworthy: true,
        is_clv_trustworthy: true,
      }),
      customer(3, {
        lifecycle_stage: 'Lapsed',
        lifetime_value: 150,
        churn_probability: 0.9,
        is_churn_model_trustworthy: true,
        is_clv_trustworthy: true,
      }),
      customer(4, { lifetime_orders: 0, lifetime_revenue: 0, days_since_last_order: null }),
    ]);
    await lake.write(
      customer360,
      PREVIOUS.date,
      [
        customer(1, {
          rfm_segment: 'Champions',
          lifecycle_stage: 'Champions',
          lifetime_value: 400,
          churn_probability: 0.1,
        }),
      ],
      PREVIOUS.runId,
    );
    await lake.write(fraudFlags, RUN_DATE, [
      {
        customer_id: 2,
        is_flagged: true,
        flag_reasons: 'distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00',
      },
      { customer_id: 3, is_flagged: false, flag_reasons: 'distinct_ips 6 > 5' },
    ]);
    const config = { alerts: { highValue: { minChurnProbability: 0.5, minLifetimeValue: 200 } } };
    await lake.run('alert_candidates', RUN_DATE, config);
    await lake.runWithSnapshot('segment_figures', RUN_DATE, PREVIOUS);
  });

  afterAll(() => lake?.close());

  it('sums each segment from the run, with the previous run beside it', async () => {
    const rows = await lake.read(segmentFigures, RUN_DATE, 'segment_type, segment');
    expect(
      rows.map((r) => [
        r.segment_type,
        r.segment,
        r.customers,
        r.share,
        r.avg_lifetime_value,
        r.avg_churn_probability,
        r.churn_risk_share,
        r.primary_channel_mix,
        r.previous_customers,
        r.previous_avg_lifetime_value,
      ]),
    ).toEqual([
      // 2 of 4 customers; (500 + 300) / 2 = 400; (0.2 + 0.6) / 2 = 0.4; one of two at risk; one web,
      // one purchase (ties by name); not in the previous run
      [
        'kmeans_segment',
        'frequent high spenders, recently active',
        '2',
        0.5,
        400,
        0.4,
        0.5,
        'purchase:0.50;web:0.50',
        '0',
        null,
      ],
      ['lifecycle_stage', 'Lapsed', '1', 0.25, 150, 0.9, 0, 'none:1.00', '0', null],
      ['lifecycle_stage', 'Prospect', '1', 0.25, null, null, 0, 'none:1.00', '0', null],
      // the previous run had customer 1 alone in Champions, valued 400
      ['rfm_segment', 'Champions', '2', 0.5, 400, 0.4, 0.5, 'purchase:0.50;web:0.50', '1', 400],
    ]);
  });

  it('lists fraud-flagged customers and the most valuable at-risk ones, ids and figures only', async () => {
    const rows = await lake.read(alertCandidates, RUN_DATE, 'kind, customer_id');
    expect(
      rows.map((r) => [r.kind, r.customer_id, r.reasons, r.churn_probability, r.lifetime_value]),
    ).toEqual([
      // churn risk: 2 (0.6 >= 0.5, 300 >= 200); 3 is at risk but worth 150 < 200; 1 is not at risk
      ['churn_risk', '2', null, 0.6, 300],
      // fraud: only the flagged customer 2
      ['fraud', '2', 'distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00', 0.6, 300],
    ]);
  });
});
