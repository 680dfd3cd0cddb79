import { type Column, runPartitionKeys, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

/*
 * The models' tables (see docs/models.md). SQL writes the inputs (model_features, model_bgnbd_inputs,
 * model_samples) in the mart waves before `Fit models`; the Fit models Lambda reads them from the run's
 * own location and writes model_runs, model_parameters and model_clv_by_triple there; the scoring
 * marts (clv, segments, churn_risk, customer_360) join those back in SQL. All run-partitioned, so a
 * run's models are published, or not, with its marts.
 */

const cutoffRole = col(
  'cutoff_role',
  'string',
  "Which cutoff the row is as of: 'score' (the run date D), 'evaluate' (D - H) or 'train' (D - 2H), H = models.churn.horizonDays.",
  { nullable: false },
);
const cutoffDate = col('cutoff_date', 'date', 'The cutoff: features use orders and events on or before it.', {
  nullable: false,
});
const repeatPurchases = col(
  'repeat_purchases',
  'int',
  'x: purchase days after the first one (several revenue orders on one calendar day are one purchase).',
  { nullable: false },
);
const recencyUnits = col(
  'recency_units',
  'int',
  't_x: time from the first to the last purchase day, in days or whole weeks (models.clv.timeResolution).',
  { nullable: false },
);
const ageUnits = col(
  'age_units',
  'int',
  'T: time from the first purchase day to the cutoff, in days or whole weeks (models.clv.timeResolution).',
  { nullable: false },
);

/**
 * The churn model's features as SQL computes them; the Fit models Lambda adds the BG/NBD one. Left out
 * on purpose: spend (BG/NBD and Gamma-Gamma take spend to be independent of the purchase process, and
 * on the CDNOW sample it lowered the held-out AUC), tenure and P(alive) (both already inside the BG/NBD
 * expectation, and P(alive) is 1 for every one-time buyer). See docs/models.md.
 */
export const CHURN_SQL_FEATURES = [
  'f_log_recency_days',
  'f_log_purchase_days',
  'f_log_recent_purchase_days',
  'f_log_engagement_events',
  'f_log_support_tickets',
  'f_log_loyalty_balance',
] as const;
/** From the BG/NBD fit at the row's own cutoff (never a later one). */
export const CHURN_BGNBD_FEATURES = ['f_log_expected_purchases'] as const;
export const CHURN_FEATURES = [...CHURN_SQL_FEATURES, ...CHURN_BGNBD_FEATURES] as const;
/** K-Means clusters on these (standardized by the fit), named after recency, frequency, spend, engagement. */
export const KMEANS_FEATURES = [
  'f_log_recency_days',
  'f_log_purchase_days',
  'f_log_mean_spend',
  'f_log_engagement_events',
] as const;

const featureColumns: readonly Column[] = [
  col(
    'sample_hash',
    'bigint',
    'A non-negative 63-bit xxhash64 of the customer id: halves (even / odd) and capped samples (smallest first) are chosen by it, so they are the same on every run and engine.',
    { nullable: false },
  ),
  col('first_purchase_date', 'date', 'First revenue purchase day on or before the cutoff.', {
    nullable: false,
  }),
  col('last_purchase_date', 'date', 'Latest revenue purchase day on or before the cutoff.', {
    nullable: false,
  }),
  col('purchase_days', 'int', 'Distinct days with a revenue order, on or before the cutoff.', {
    nullable: false,
  }),
  repeatPurchases,
  recencyUnits,
  ageUnits,
  col('days_since_last_purchase', 'int', 'Days from the last purchase day to the cutoff.', {
    nullable: false,
  }),
  col('tenure_days', 'int', 'Days from the first purchase day to the cutoff.', { nullable: false }),
  col('total_spend', 'double', 'Revenue on or before the cutoff.', { nullable: false }),
  col(
    'mean_repeat_spend',
    'double',
    'Mean spend of the repeat purchase days (the first day excluded, as Gamma-Gamma defines it); null without a repeat purchase.',
  ),
  col('recent_purchase_days', 'int', 'Purchase days in the H days up to the cutoff (cutoff - H, cutoff].', {
    nullable: false,
  }),
  col(
    'engagement_events',
    'int',
    'Email opens and clicks, ad clicks, web visits and logins in the analysis.engagementWindowDays days up to the cutoff.',
    { nullable: false },
  ),
  col('support_tickets', 'int', 'Support tickets on or before the cutoff.', { nullable: false }),
  col('loyalty_points_balance', 'double', 'Loyalty points earned minus redeemed on or before the cutoff.', {
    nullable: false,
  }),
  col('f_log_recency_days', 'double', 'ln(1 + days_since_last_purchase).', { nullable: false }),
  col('f_log_purchase_days', 'double', 'ln(1 + purchase_days).', { nullable: false }),
  col('f_log_tenure_days', 'double', 'ln(1 + tenure_days).', { nullable: false }),
  col('f_log_mean_spend', 'double', 'ln(1 + total_spend / purchase_days).', { nullable: false }),
  col('f_log_recent_purchase_days', 'double', 'ln(1 + recent_purchase_days).', { nullable: false }),
  col('f_log_engagement_events', 'double', 'ln(1 + engagement_events).', { nullable: false }),
  col('f_log_support_tickets', 'double', 'ln(1 + support_tickets).', { nullable: false }),
  col('f_log_loyalty_balance', 'double', 'ln(1 + max(loyalty_points_balance, 0)).', { nullable: false }),
  col(
    'last_feature_event_at',
    'timestamp',
    'The latest order or event any feature of the row was computed from: Fit models refuses a row where it is after the cutoff (a leak).',
    { nullable: false },
  ),
  col(
    'is_churned',
    'boolean',
    "Label: no revenue order in the H days after the cutoff (cutoff, cutoff + H]; null for 'score' rows, whose future is unknown.",
  ),
  col('next_purchase_days', 'int', "Purchase days in (cutoff, cutoff + H]; null for 'score' rows."),
];

export const modelFeatures: TableSchema = {
  name: 'model_features',
  zone: 'analytics',
  location: 'model_features/',
  description:
    'Per customer with a revenue purchase on or before each cutoff (the run date, D - H, D - 2H): the purchase summary BG/NBD and Gamma-Gamma need, the churn and K-Means features, and the churn label. Built once, read by the model inputs and the scoring marts.',
  columns: [cutoffRole, cutoffDate, customerId, ...featureColumns],
  partitionKeys: runPartitionKeys,
};

export const modelBgnbdInputs: TableSchema = {
  name: 'model_bgnbd_inputs',
  zone: 'analytics',
  location: 'model_bgnbd_inputs/',
  description:
    'Customers grouped by their (x, t_x, T) triple at each cutoff, with counts: the compact statistics the BG/NBD fit is weighted maximum likelihood over (on a hashed sample), and every triple at the run date for scoring.',
  columns: [
    cutoffRole,
    cutoffDate,
    repeatPurchases,
    recencyUnits,
    ageUnits,
    col('customers', 'bigint', 'Customers with this triple.', { nullable: false }),
    col(
      'fit_customers',
      'bigint',
      'Of them, the customers in the fit sample (the smallest sample_hash values, at most models.clv.fitSampleSize per cutoff): the weights of the fit.',
      { nullable: false },
    ),
    col(
      'next_purchase_days',
      'bigint',
      "The fit sample's purchase days in (cutoff, cutoff + H], summed; null at the run date.",
    ),
  ],
  partitionKeys: runPartitionKeys,
};

export const modelSamples: TableSchema = {
  name: 'model_samples',
  zone: 'analytics',
  location: 'model_samples/',
  description:
    'The bounded samples the models are fitted on, chosen by sample_hash: churn_train (even half, as of D - 2H), churn_evaluate (odd half, as of D - H), churn_refit (both halves, as of D - H), spend (repeat buyers, as of D) and kmeans (buyers, as of D).',
  columns: [
    col('purpose', 'string', 'churn_train, churn_evaluate, churn_refit, spend or kmeans.', {
      nullable: false,
    }),
    cutoffRole,
    cutoffDate,
    customerId,
    ...featureColumns,
  ],
  partitionKeys: runPartitionKeys,
};

export const modelRuns: TableSchema = {
  name: 'model_runs',
  zone: 'analytics',
  location: 'model_runs/',
  description:
    'One row per model fitted by a run: its parameters, fit diagnostics, evaluation metrics and warnings, and whether its scores are to be trusted (written by the Fit models Lambda).',
  columns: [
    col('model', 'string', 'bgnbd, gamma_gamma, churn or kmeans.', { nullable: false }),
    cutoffRole,
    cutoffDate,
    col(
      'status',
      'string',
      'ok, degenerate (a parameter on the edge of its domain), not_converged, insufficient_data, or underperforms_baseline (churn: not better than recency alone).',
      { nullable: false },
    ),
    col(
      'is_trustworthy',
      'boolean',
      'Scores from this fit are published as trustworthy; false withholds (BG/NBD, Gamma-Gamma) or flags (churn, K-Means) them.',
      { nullable: false },
    ),
    col('fitted_rows', 'bigint', 'Rows the fit read: distinct triples (BG/NBD) or sampled customers.', {
      nullable: false,
    }),
    col('customers', 'bigint', 'Customers the fitted rows stand for.', { nullable: false }),
    col('parameters', 'string', 'Fitted parameters as JSON.'),
    col('diagnostics', 'string', 'Log-likelihood, convergence, iterations, boundary findings, as JSON.'),
    col(
      'metrics',
      'string',
      'Evaluation on held-out customers and period (churn: AUC, baselines, calibration), as JSON.',
    ),
    col('warnings', 'string', 'What a reader should know, joined by "; ".'),
  ],
  partitionKeys: runPartitionKeys,
};

export const modelParameters: TableSchema = {
  name: 'model_parameters',
  zone: 'analytics',
  location: 'model_parameters/',
  description:
    'The fitted parameters the scoring SQL joins in, one number per row: Gamma-Gamma p, q, v; churn intercept and per-feature coefficient, mean and scale; K-Means per-feature mean and scale and per-cluster centroid and name.',
  columns: [
    col('model', 'string', 'gamma_gamma, churn or kmeans.', { nullable: false }),
    col(
      'parameter',
      'string',
      'Parameter name (p, intercept, coefficient, mean, scale, centroid, name...).',
      {
        nullable: false,
      },
    ),
    col('cluster', 'int', 'K-Means cluster the row belongs to, else null.'),
    col('feature', 'string', 'Feature the row belongs to, else null.'),
    col('value', 'double', 'The value.'),
    col('label', 'string', 'Text value (a cluster name), else null.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const modelClvByTriple: TableSchema = {
  name: 'model_clv_by_triple',
  zone: 'analytics',
  location: 'model_clv_by_triple/',
  description:
    'BG/NBD figures per distinct (x, t_x, T) triple at the run date, computed by the Fit models Lambda (they need the Gaussian hypergeometric function, which SQL lacks); customers are scored by joining on the triple.',
  columns: [
    repeatPurchases,
    recencyUnits,
    ageUnits,
    col('p_alive', 'double', 'P(alive) at the run date.', { nullable: false }),
    col('expected_purchases_short', 'double', 'Expected purchases in models.clv.shortHorizonDays.', {
      nullable: false,
    }),
    col('expected_purchases_long', 'double', 'Expected purchases in models.clv.longHorizonDays.', {
      nullable: false,
    }),
    col('expected_purchases_churn_horizon', 'double', 'Expected purchases in models.churn.horizonDays.', {
      nullable: false,
    }),
    col(
      'discounted_expected_purchases',
      'double',
      'Expected purchases in models.clv.lifetimeHorizonDays, each discounted at models.clv.annualDiscountRate to the run date.',
      { nullable: false },
    ),
  ],
  partitionKeys: runPartitionKeys,
};

export const clv: TableSchema = {
  name: 'clv',
  zone: 'analytics',
  location: 'clv/',
  description:
    'Lifetime value per customer with a revenue purchase: BG/NBD (P(alive), expected purchases) and Gamma-Gamma (expected spend per purchase), Fader, Hardie and Lee 2005. Withheld (null) when the fit is not to be trusted.',
  columns: [
    customerId,
    repeatPurchases,
    col(
      'recency_weeks',
      'double',
      't_x in weeks (days / 7, or whole weeks with models.clv.timeResolution = week).',
    ),
    col('age_weeks', 'double', 'T in weeks.'),
    col('mean_repeat_spend', 'double', 'Mean spend of the repeat purchase days; null without one.'),
    col(
      'p_alive',
      'double',
      'Probability the customer is still active (BG/NBD); 1 for a one-time buyer by the model.',
    ),
    col('expected_purchases_short', 'double', 'Expected purchase days in the next short_horizon_days.'),
    col('short_horizon_days', 'int', 'models.clv.shortHorizonDays.'),
    col('expected_purchases_long', 'double', 'Expected purchase days in the next long_horizon_days.'),
    col('long_horizon_days', 'int', 'models.clv.longHorizonDays.'),
    col(
      'expected_avg_spend',
      'decimal(14,2)',
      'Expected spend per future purchase (Gamma-Gamma), or the population mean outside its domain.',
    ),
    col(
      'is_spend_population_mean',
      'boolean',
      'expected_avg_spend is the population mean: no repeat purchase (outside Gamma-Gamma), or its fit is not to be trusted.',
    ),
    col(
      'discounted_expected_purchases',
      'double',
      'Expected purchases over lifetime_horizon_days, discounted.',
    ),
    col('lifetime_value', 'decimal(14,2)', 'expected_avg_spend x discounted_expected_purchases.'),
    col('lifetime_horizon_days', 'int', 'models.clv.lifetimeHorizonDays.'),
    col('annual_discount_rate', 'double', 'models.clv.annualDiscountRate.'),
    col(
      'is_trustworthy',
      'boolean',
      'The BG/NBD fit of the run is ok; when false the model figures are null.',
      {
        nullable: false,
      },
    ),
    col('score_status', 'string', "ok, or why the figures are withheld (the BG/NBD fit's status).", {
      nullable: false,
    }),
  ],
  partitionKeys: runPartitionKeys,
};

export const segments: TableSchema = {
  name: 'segments',
  zone: 'analytics',
  location: 'segments/',
  description:
    'K-Means segment per customer with a revenue purchase: nearest centroid on standardized log recency, frequency, spend and engagement; named from the centroid profile. Distinct from the RFM segment.',
  columns: [
    customerId,
    col('kmeans_cluster', 'int', 'Cluster number (0-based, as fitted).', { nullable: false }),
    col(
      'kmeans_segment',
      'string',
      'Readable cluster name from its centroid, e.g. "frequent high spenders, recently active".',
      {
        nullable: false,
      },
    ),
    col('distance_to_centroid', 'double', 'Euclidean distance in standardized units.', { nullable: false }),
    col('days_since_last_purchase', 'int', 'Recency feature (before the log).', { nullable: false }),
    col('purchase_days', 'int', 'Frequency feature.', { nullable: false }),
    col('mean_spend', 'double', 'Spend per purchase day.', { nullable: false }),
    col('engagement_events', 'int', 'Engagement feature.', { nullable: false }),
    col('is_trustworthy', 'boolean', 'The K-Means fit of the run is ok.', { nullable: false }),
  ],
  partitionKeys: runPartitionKeys,
};
