import { runPartitionKeys, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

const segmentType = col(
  'segment_type',
  'string',
  'rfm_segment, kmeans_segment or lifecycle_stage (the Lapsed and Prospect stages only).',
  { nullable: false },
);
const segment = col('segment', 'string', 'The segment, cluster or stage name.', { nullable: false });

export const segmentFigures: TableSchema = {
  name: 'segment_figures',
  zone: 'analytics',
  location: 'segment_figures/',
  description:
    'Aggregate figures per RFM segment, K-Means segment and the Lapsed and Prospect stages, with the previous published run beside them: all the segment summaries (and Bedrock) ever see. No customer id or row-level value.',
  columns: [
    segmentType,
    segment,
    col('customers', 'bigint', 'Customers in the segment.', { nullable: false }),
    col('share', 'double', 'Share of all customers.'),
    col('avg_recency_days', 'double', 'Mean days since the last purchase (buyers).'),
    col('avg_lifetime_orders', 'double', 'Mean revenue orders to date.'),
    col('avg_lifetime_revenue', 'double', 'Mean revenue to date.'),
    col('avg_lifetime_value', 'double', 'Mean discounted lifetime value (trustworthy CLV only).'),
    col('avg_churn_probability', 'double', 'Mean churn model probability.'),
    col('churn_risk_share', 'double', 'Share flagged by the purchase-gap churn rule.'),
    col(
      'primary_channel_mix',
      'string',
      "Share of the segment's customers by primary channel, largest first: 'web:0.40;purchase:0.35;none:0.25'.",
    ),
    col(
      'previous_customers',
      'bigint',
      'Customers in the segment in the run this one built on; null without one.',
    ),
    col('previous_avg_lifetime_value', 'double', 'Mean lifetime value then.'),
    col('previous_avg_churn_probability', 'double', 'Mean churn probability then.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const alertCandidates: TableSchema = {
  name: 'alert_candidates',
  zone: 'analytics',
  location: 'alert_candidates/',
  description:
    'What the alert and digest Lambdas read: fraud-flagged customers and the most valuable customers at risk of churning (alerts.highValue thresholds), ids and figures only.',
  columns: [
    col('kind', 'string', 'fraud or churn_risk.', { nullable: false }),
    customerId,
    col('reasons', 'string', 'Fraud: the triggered conditions (fraud_flags.flag_reasons).'),
    col('churn_probability', 'double', 'Churn model probability.'),
    col('lifetime_value', 'double', 'Discounted lifetime value.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const segmentSummaries: TableSchema = {
  name: 'segment_summaries',
  zone: 'analytics',
  location: 'segment_summaries/',
  description:
    'A plain-language summary per segment, written by Bedrock from segment_figures (aggregates only), or a deterministic template when Bedrock is off, fails or answers out of shape.',
  columns: [
    segmentType,
    segment,
    col('headline', 'string', 'One line.', { nullable: false }),
    col('description', 'string', 'A few sentences on who they are and what changed.', { nullable: false }),
    col('recommended_actions', 'string', 'Recommended actions, one per line.', { nullable: false }),
    col('source', 'string', 'bedrock, or template (deterministic text from the figures).', {
      nullable: false,
    }),
    col(
      'fallback_reason',
      'string',
      'Why a template stands where Bedrock was asked (invalid JSON, too long, personal data echoed, throttled...); null otherwise.',
    ),
    col('model_id', 'string', 'The Bedrock model or inference profile asked; null for a template.'),
    col('input_tokens', 'int', 'Tokens sent.', { nullable: false }),
    col('output_tokens', 'int', 'Tokens received.', { nullable: false }),
  ],
  partitionKeys: runPartitionKeys,
};
