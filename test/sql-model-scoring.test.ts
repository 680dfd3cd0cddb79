import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogisticModel } from '../lib/models/logistic.js';
import { linearScore, predictProbability } from '../lib/models/logistic.js';
import { churnRisk } from '../lib/schema/marts/churn-risk.js';
import {
  clv,
  modelClvByTriple,
  modelFeatures,
  modelParameters,
  modelRuns,
  segments,
} from '../lib/schema/marts/models.js';
import { stageOrders } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow, stageOrder } from './helpers/lake.js';

/*
 * The scoring marts on hand-written model outputs: what the Fit models Lambda would have written
 * (model_runs, model_parameters, model_clv_by_triple) and the features SQL computed. Expected values
 * are worked by hand below, or, for the churn probability, computed by the TypeScript model the Lambda
 * fits (lib/models/logistic.ts), so the SQL and the Lambda are checked against each other.
 */
const OK_DATE = '2024-06-30';
const DEGENERATE_DATE = '2024-07-01';

const features = (runDate: string, customer_id: number, extra: FixtureRow): FixtureRow => ({
  cutoff_role: 'score',
  cutoff_date: runDate,
  customer_id,
  sample_hash: customer_id,
  purchase_days: 1,
  repeat_purchases: 0,
  recency_units: 0,
  age_units: 10,
  days_since_last_purchase: 10,
  total_spend: 10,
  engagement_events: 0,
  f_log_recency_days: 0,
  f_log_purchase_days: 0,
  f_log_recent_purchase_days: 0,
  f_log_engagement_events: 0,
  f_log_support_tickets: 0,
  f_log_loyalty_balance: 0,
  f_log_mean_spend: 0,
  ...extra,
});

const run = (model: string, status: string, cutoff_role = 'score'): FixtureRow => ({
  model,
  cutoff_role,
  cutoff_date: OK_DATE,
  status,
  is_trustworthy: status === 'ok',
  fitted_rows: 10,
  customers: 10,
});

const parameter = (
  model: string,
  name: string,
  value: number | null,
  extra: FixtureRow = {},
): FixtureRow => ({
  model,
  parameter: name,
  value,
  ...extra,
});

// Gamma-Gamma on CDNOW (Fader and Hardie 2013): p 6.25, q 3.74, v 15.44; population mean
// p v / (q - 1) = 96.5 / 2.74 = 35.2189781...
const GAMMA_GAMMA = [
  parameter('gamma_gamma', 'p', 6.25),
  parameter('gamma_gamma', 'q', 3.74),
  parameter('gamma_gamma', 'v', 15.44),
  parameter('gamma_gamma', 'population_mean_spend', 96.5 / 2.74),
];

// A churn model as fitLogistic returns it, written as Fit models writes it (writeLogistic).
const CHURN: LogisticModel = {
  featureNames: [
    'f_log_recency_days',
    'f_log_purchase_days',
    'f_log_recent_purchase_days',
    'f_log_engagement_events',
    'f_log_support_tickets',
    'f_log_loyalty_balance',
    'f_log_expected_purchases',
  ],
  means: [4, 1, 0.3, 1, 0.1, 2, 0.5],
  scales: [1.5, 0.5, 0.4, 1.2, 0.3, 2.5, 0.6],
  intercept: 0.8,
  coefficients: [0.9, -0.4, -0.7, -0.2, 0.1, -0.05, -0.6],
  l2: 1,
  iterations: 6,
  converged: true,
  warnings: [],
};

describe('scoring marts: the fitted models joined back in SQL', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    for (const date of [OK_DATE, DEGENERATE_DATE]) {
      await lake.write(stageOrders, date, [
        stageOrder(1, '2024-01-01 10:00:00', 20),
        stageOrder(1, '2024-03-01 10:00:00', 30),
        stageOrder(1, '2024-05-01 10:00:00', 35),
        stageOrder(2, '2024-06-01 10:00:00', 10),
      ]);
      await lake.write(modelFeatures, date, [
        features(date, 1, {
          purchase_days: 3,
          repeat_purchases: 2,
          recency_units: 121,
          age_units: 181,
          days_since_last_purchase: 60,
          total_spend: 85,
          mean_repeat_spend: 32.5,
          engagement_events: 4,
          f_log_recency_days: Math.log(61),
          f_log_purchase_days: Math.log(4),
          f_log_recent_purchase_days: Math.log(2),
          f_log_engagement_events: Math.log(5),
          f_log_support_tickets: Math.log(2),
          f_log_loyalty_balance: Math.log(121),
          f_log_mean_spend: Math.log(1 + 85 / 3),
        }),
        features(date, 2, { days_since_last_purchase: 29, age_units: 29, f_log_recency_days: Math.log(30) }),
      ]);
      await lake.write(modelClvByTriple, date, [
        {
          repeat_purchases: 2,
          recency_units: 121,
          age_units: 181,
          p_alive: 0.9,
          expected_purchases_short: 0.4,
          expected_purchases_long: 1.6,
          expected_purchases_churn_horizon: 0.4,
          discounted_expected_purchases: 1.5,
        },
        {
          repeat_purchases: 0,
          recency_units: 0,
          age_units: 29,
          p_alive: 1,
          expected_purchases_short: 0.2,
          expected_purchases_long: 0.9,
          expected_purchases_churn_horizon: 0.2,
          discounted_expected_purchases: 0.8,
        },
      ]);
    }
    const churnParameters = [
      parameter('churn', 'intercept', CHURN.intercept),
      ...CHURN.featureNames.flatMap((feature, i) => [
        parameter('churn', 'coefficient', CHURN.coefficients[i] ?? 0, { feature }),
        parameter('churn', 'mean', CHURN.means[i] ?? 0, { feature }),
        parameter('churn', 'scale', CHURN.scales[i] ?? 1, { feature }),
      ]),
    ];
    // Two clusters on the four K-Means features; recency's scale is 2, the others 1 (means 0).
    const kmeansFeatures = [
      'f_log_recency_days',
      'f_log_purchase_days',
      'f_log_mean_spend',
      'f_log_engagement_events',
    ];
    const kmeansParameters = [
      ...kmeansFeatures.flatMap((feature) => [
        parameter('kmeans', 'mean', 0, { feature }),
        parameter('kmeans', 'scale', feature === 'f_log_recency_days' ? 2 : 1, { feature }),
      ]),
      ...kmeansFeatures.map((feature) => parameter('kmeans', 'centroid', 0, { feature, cluster: 0 })),
      ...kmeansFeatures.map((feature) => parameter('kmeans', 'centroid', 2, { feature, cluster: 1 })),
      parameter('kmeans', 'name', null, { cluster: 0, label: 'occasional low spenders, recently active' }),
      parameter('kmeans', 'name', null, { cluster: 1, label: 'frequent high spenders, lapsing' }),
    ];
    await lake.write(modelParameters, OK_DATE, [...GAMMA_GAMMA, ...churnParameters, ...kmeansParameters]);
    await lake.write(modelRuns, OK_DATE, [
      run('bgnbd', 'ok'),
      run('gamma_gamma', 'ok'),
      run('churn', 'underperforms_baseline', 'evaluate'),
      run('kmeans', 'ok'),
    ]);
    // The same customers, but the run's BG/NBD fit reached the edge of its domain.
    await lake.write(modelParameters, DEGENERATE_DATE, GAMMA_GAMMA);
    await lake.write(modelRuns, DEGENERATE_DATE, [run('bgnbd', 'degenerate'), run('gamma_gamma', 'ok')]);
    for (const date of [OK_DATE, DEGENERATE_DATE])
      for (const model of ['clv', 'segments', 'churn_risk']) await lake.run(model, date);
  });

  afterAll(() => lake?.close());

  it('values a repeat buyer with Gamma-Gamma and a one-time buyer with the population mean', async () => {
    const rows = await lake.read(clv, OK_DATE, 'customer_id');
    expect(
      rows.map((r) => [
        r.customer_id,
        r.p_alive,
        r.expected_avg_spend,
        r.is_spend_population_mean,
        r.lifetime_value,
        r.score_status,
      ]),
    ).toEqual([
      // (p v + p x m_x) / (p x + q - 1) = (96.5 + 6.25 x 2 x 32.5) / (12.5 + 2.74) = 502.75 / 15.24
      // = 32.98884...; x 1.5 discounted purchases = 49.48327...
      ['1', 0.9, '32.99', false, '49.48', 'ok'],
      // one-time buyer: 35.21898... x 0.8 = 28.17518...
      ['2', 1, '35.22', true, '28.18', 'ok'],
    ]);
    // t_x and T in weeks: 121 / 7 and 181 / 7 days
    expect(rows[0]?.recency_weeks).toBeCloseTo(121 / 7, 12);
    expect(rows[0]?.age_weeks).toBeCloseTo(181 / 7, 12);
  });

  it('withholds every BG/NBD figure when the fit is degenerate, and says why', async () => {
    const rows = await lake.read(clv, DEGENERATE_DATE, 'customer_id');
    for (const row of rows) {
      expect(row).toMatchObject({
        p_alive: null,
        expected_purchases_short: null,
        expected_purchases_long: null,
        discounted_expected_purchases: null,
        lifetime_value: null,
        is_trustworthy: false,
        score_status: 'withheld: BG/NBD fit degenerate',
      });
    }
    expect(rows).toHaveLength(2);
  });

  it('computes the churn probability exactly as the fitted TypeScript model does', async () => {
    const rows = await lake.read(churnRisk, OK_DATE, 'customer_id');
    const vectors = [
      [Math.log(61), Math.log(4), Math.log(2), Math.log(5), Math.log(2), Math.log(121), Math.log(1.4)],
      [Math.log(30), 0, 0, 0, 0, 0, Math.log(1.2)],
    ];
    expect(rows.map((r) => r.churn_probability as number)).toEqual([
      expect.closeTo(predictProbability(CHURN, vectors[0] ?? []), 12),
      expect.closeTo(predictProbability(CHURN, vectors[1] ?? []), 12),
    ]);
    // customer 1 by hand: 0.8 + 0.9 (ln 61 - 4) / 1.5 - 0.4 (ln 4 - 1) / 0.5 - 0.7 (ln 2 - 0.3) / 0.4
    // - 0.2 (ln 5 - 1) / 1.2 + 0.1 (ln 2 - 0.1) / 0.3 - 0.05 (ln 121 - 2) / 2.5 - 0.6 (ln 1.4 - 0.5) / 0.6
    const byHand =
      0.8 +
      (0.9 * (Math.log(61) - 4)) / 1.5 -
      (0.4 * (Math.log(4) - 1)) / 0.5 -
      (0.7 * (Math.log(2) - 0.3)) / 0.4 -
      (0.2 * (Math.log(5) - 1)) / 1.2 +
      (0.1 * (Math.log(2) - 0.1)) / 0.3 -
      (0.05 * (Math.log(121) - 2)) / 2.5 -
      (0.6 * (Math.log(1.4) - 0.5)) / 0.6;
    expect(linearScore(CHURN, vectors[0] ?? [])).toBeCloseTo(byHand, 12);
    // the model's status travels with every score: this one did not beat recency alone
    expect(
      rows.map((r) => [r.churn_model_status, r.is_churn_model_trustworthy, r.churn_horizon_days]),
    ).toEqual([
      ['underperforms_baseline', false, 90],
      ['underperforms_baseline', false, 90],
    ]);
  });

  it('assigns each buyer to the nearest standardized centroid and names the segment', async () => {
    const rows = await lake.read(segments, OK_DATE, 'customer_id');
    // customer 1: z = (ln 61 / 2, ln 4, ln(1 + 85/3), ln 5) = (2.0555, 1.3863, 3.3787, 1.6094): squared
    // distance to (0,0,0,0) = 4.2251 + 1.9218 + 11.4157 + 2.5903 = 20.153; to (2,2,2,2) = 0.0031 +
    // 0.3766 + 1.9008 + 0.1526 = 2.433: cluster 1.
    // customer 2: z = (ln 30 / 2, 0, 0, 0) = (1.7006, 0, 0, 0): 2.892 against 0.0896 + 12 = 12.09: cluster 0.
    expect(rows.map((r) => [r.customer_id, r.kmeans_cluster, r.kmeans_segment])).toEqual([
      ['1', 1, 'frequent high spenders, lapsing'],
      ['2', 0, 'occasional low spenders, recently active'],
    ]);
    expect(rows[0]?.distance_to_centroid).toBeCloseTo(Math.sqrt(2.4331), 3);
    expect(rows[1]?.distance_to_centroid).toBeCloseTo(Math.log(30) / 2, 12);
  });
});
