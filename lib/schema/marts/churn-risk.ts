import { runPartitionKeys, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

export const churnRisk: TableSchema = {
  name: 'churn_risk',
  zone: 'analytics',
  location: 'churn_risk/',
  description:
    "Churn model probability and the purchase-gap churn rule per customer with orders. Rule: at risk when days since the last purchase exceed k times the mean gap between purchase days (one-time buyers: k times the customer base's median first-to-second purchase gap).",
  columns: [
    customerId,
    col('order_count', 'int', 'Revenue orders up to the run date.'),
    col(
      'purchase_days',
      'int',
      'Distinct days with a revenue order up to the run date; 1 for a one-time buyer.',
    ),
    col('first_order_at', 'timestamp', 'First revenue order.'),
    col('last_order_at', 'timestamp', 'Latest revenue order.'),
    col('days_since_last_order', 'int', 'Calendar days from the last order date to the run date.'),
    col(
      'avg_gap_days',
      'double',
      'Mean calendar days between consecutive purchase days; null for a one-time buyer.',
    ),
    col(
      'max_gap_days',
      'double',
      'Longest gap between consecutive purchase days; null for a one-time buyer.',
    ),
    col('stddev_gap_days', 'double', 'Sample standard deviation of the gaps; null with fewer than two gaps.'),
    col(
      'baseline_gap_days',
      'double',
      'One-time buyers only: the median, over customers with two purchase days or more, of the days from first to second purchase day.',
    ),
    col(
      'gap_multiplier',
      'double',
      'k, from configuration: analysis.churnGapMultiplier, or analysis.oneTimeBuyerGapMultiplier for a one-time buyer.',
    ),
    col(
      'threshold_days',
      'double',
      'k times the mean gap (one-time buyer: k times baseline_gap_days): the allowance before a customer counts as at risk; null without any repeat buyer.',
    ),
    col('is_churn_risk', 'boolean', 'Days since the last purchase exceed the threshold.'),
    col(
      'risk_reason',
      'string',
      'Which rule decided: gap_exceeded or within_gap (repeat buyers), one_time_overdue or one_time_within (one-time buyers), no_repeat_baseline (a one-time buyer with no repeat buyer to compare with: not at risk).',
    ),
    col(
      'churn_probability',
      'double',
      'The churn model: probability of no revenue order in the next churn_horizon_days (regularized logistic regression, trained and evaluated leak-free; see model_runs). Null when the model could not be fitted.',
    ),
    col('churn_horizon_days', 'int', 'H, models.churn.horizonDays.'),
    col('is_predicted_churn', 'boolean', 'churn_probability reaches models.churn.threshold.'),
    col(
      'churn_model_status',
      'string',
      "The model's status in model_runs: ok, underperforms_baseline (it did not beat recency alone on held-out customers), insufficient_data...",
    ),
    col('is_churn_model_trustworthy', 'boolean', 'The churn model is ok on held-out customers and period.'),
  ],
  partitionKeys: runPartitionKeys,
};
