import { runPartitionKeys, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

export const churnRisk: TableSchema = {
  name: 'churn_risk',
  zone: 'analytics',
  location: 'churn_risk/',
  description:
    'Order-gap churn rule per customer with orders: at risk when days since the last order exceed k times the mean gap between orders.',
  columns: [
    customerId,
    col('order_count', 'int', 'Revenue orders up to the run date.'),
    col('first_order_at', 'timestamp', 'First revenue order.'),
    col('last_order_at', 'timestamp', 'Latest revenue order.'),
    col('days_since_last_order', 'int', 'Calendar days from the last order date to the run date.'),
    col('avg_gap_days', 'double', 'Mean calendar days between consecutive orders; null with a single order.'),
    col('max_gap_days', 'double', 'Longest gap between consecutive orders; null with a single order.'),
    col('stddev_gap_days', 'double', 'Sample standard deviation of the gaps; null with fewer than two gaps.'),
    col('gap_multiplier', 'double', 'k, from configuration (analysis.churnGapMultiplier).'),
    col(
      'threshold_days',
      'double',
      'k times the mean gap: the allowance before a customer counts as at risk; null with a single order.',
    ),
    col(
      'is_churn_risk',
      'boolean',
      'Days since the last order exceed the threshold; false with a single order.',
    ),
    col(
      'risk_reason',
      'string',
      'Why the rule did or could not decide (single_order, gap_exceeded, within_gap).',
    ),
  ],
  partitionKeys: runPartitionKeys,
};
