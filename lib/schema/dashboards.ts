import { col } from './marts/common.js';
import type { Column } from './types.js';

/**
 * The `dashboard_*` views: shapes a chart needs that the marts do not have, each read from the
 * `_latest` views (so they follow publishing) and declared here once, like the tables: the QuickSight
 * data sets, docs and the local report derive their columns from these declarations, and a test checks
 * each view's columns on DuckDB against them. One grain per view; no personal data.
 */
export interface DashboardView {
  /** View name in the analytics database; its SELECT is `sql/dashboards/<name>.sql`. */
  readonly name: string;
  readonly description: string;
  /** What one row is. */
  readonly grain: string;
  readonly columns: readonly Column[];
}

const customers = col('customers', 'bigint', 'Customers in the row.', { nullable: false });
const bandIndex = col('band_index', 'int', 'Position of the band, lowest first (sort by it).', {
  nullable: false,
});
const bandLabel = col('band_label', 'string', 'The band as a label, for axes.', { nullable: false });

export const dashboardSegmentOverview: DashboardView = {
  name: 'dashboard_segment_overview',
  description:
    'Customers and their value by lifecycle stage and RFM segment: who the customers are and what they are worth.',
  grain: 'One row per (lifecycle_stage, rfm_segment); rfm_segment is null for Lapsed and Prospect.',
  columns: [
    col('lifecycle_stage', 'string', 'RFM segment for recent buyers, else Lapsed or Prospect.', {
      nullable: false,
    }),
    col('rfm_segment', 'string', 'RFM segment; null outside the RFM window.'),
    customers,
    col('share', 'double', 'Share of all customers (0 to 1).'),
    col('lifetime_revenue', 'decimal(38,2)', 'Revenue to date of these customers.'),
    col('avg_lifetime_value', 'double', 'Mean lifetime value over customers with a trustworthy CLV.'),
    col('expected_lifetime_value', 'decimal(38,2)', 'Sum of trustworthy lifetime values.'),
    col('avg_churn_probability', 'double', 'Mean churn model probability (trustworthy model only).'),
    col('churn_risk_customers', 'bigint', 'Customers flagged by the purchase-gap churn rule.'),
  ],
};

export const dashboardRfmGrid: DashboardView = {
  name: 'dashboard_rfm_grid',
  description: 'The RFM grid: customers by recency score and frequency score (1 to 5, 5 best).',
  grain: 'One row per (r_score, f_score) that has customers.',
  columns: [
    col('r_score', 'int', 'Recency score, 1 to 5 (5 = most recent).', { nullable: false }),
    col('f_score', 'int', 'Frequency score, 1 to 5 (5 = most frequent).', { nullable: false }),
    customers,
    col('share', 'double', 'Share of the RFM-scored customers (0 to 1).'),
    col('avg_monetary', 'double', 'Mean spend in the RFM window.'),
    col('segment', 'string', 'The RFM segment most customers of the cell fall in.'),
  ],
};

export const dashboardChurnDistribution: DashboardView = {
  name: 'dashboard_churn_distribution',
  description: 'How churn probability is spread over customers, in ten bands of 10 points.',
  grain: 'One row per probability band that has customers (customers without a probability are left out).',
  columns: [
    bandIndex,
    bandLabel,
    col('probability_from', 'double', 'Lowest probability of the band (inclusive).', { nullable: false }),
    col('probability_to', 'double', 'Highest probability of the band (exclusive, 1.0 inclusive).', {
      nullable: false,
    }),
    customers,
    col('churn_risk_customers', 'bigint', 'Of these, customers flagged by the purchase-gap rule.'),
    col('lifetime_value', 'decimal(38,2)', 'Sum of their trustworthy lifetime values.'),
  ],
};

export const dashboardAtRiskCustomers: DashboardView = {
  name: 'dashboard_at_risk_customers',
  description:
    'The 100 customers with the most lifetime value at risk (lifetime value x churn probability): who to call first.',
  grain: 'One row per customer, at most 100.',
  columns: [
    col('risk_rank', 'bigint', '1 = most value at risk; ties broken by customer id.', { nullable: false }),
    col('customer_id', 'bigint', 'Unified customer id (no name or email: look it up in the CRM).', {
      nullable: false,
    }),
    col('value_at_risk', 'double', 'lifetime_value x churn_probability.', { nullable: false }),
    col('lifetime_value', 'decimal(14,2)', 'Discounted expected lifetime value.', { nullable: false }),
    col('churn_probability', 'double', 'Churn model probability.', { nullable: false }),
    col('rfm_segment', 'string', 'RFM segment.'),
    col('lifecycle_stage', 'string', 'Lifecycle stage.'),
    col('days_since_last_order', 'int', 'Days since the last order.'),
    col('lifetime_revenue', 'decimal(14,2)', 'Revenue to date.'),
    col('primary_channel', 'string', 'Channel the customer is most active in.'),
  ],
};

export const dashboardClvDistribution: DashboardView = {
  name: 'dashboard_clv_distribution',
  description: 'How lifetime value is spread over customers, in bands of money (wider as values grow).',
  grain: 'One row per value band that has customers (withheld CLV is left out).',
  columns: [
    bandIndex,
    bandLabel,
    col('value_from', 'double', 'Lowest lifetime value of the band (inclusive).', { nullable: false }),
    col('value_to', 'double', 'Highest lifetime value of the band (exclusive); null for the top band.'),
    customers,
    col('lifetime_value', 'decimal(38,2)', 'Sum of the lifetime values in the band.'),
  ],
};

export const dashboardKmeansProfiles: DashboardView = {
  name: 'dashboard_kmeans_profiles',
  description: 'K-Means cluster profiles: size and the mean of each clustering feature, with value and risk.',
  grain: 'One row per K-Means segment.',
  columns: [
    col('kmeans_segment', 'string', 'Cluster name.', { nullable: false }),
    col('kmeans_cluster', 'int', 'Cluster number.'),
    customers,
    col('share', 'double', 'Share of the clustered customers (0 to 1).'),
    col('avg_days_since_last_purchase', 'double', 'Mean days since the last purchase.'),
    col('avg_purchase_days', 'double', 'Mean distinct purchase days.'),
    col('avg_mean_spend', 'double', 'Mean of the mean spend per purchase day.'),
    col('avg_engagement_events', 'double', 'Mean engagement events.'),
    col('avg_lifetime_value', 'double', 'Mean trustworthy lifetime value.'),
    col('avg_churn_probability', 'double', 'Mean churn probability.'),
    col('is_trustworthy', 'boolean', 'Whether the clustering passed its checks.'),
  ],
};

export const dashboardFraudSignals: DashboardView = {
  name: 'dashboard_fraud_signals',
  description:
    'Fraud signals: for each condition of the fraud rules, the customers it triggered for, and how many of them are flagged (a login and an order anomaly together).',
  grain: 'One row per fraud signal.',
  columns: [
    col(
      'signal',
      'string',
      'distinct_ips, login_attempts, failed_logins, high_value_order or orders_in_window.',
      {
        nullable: false,
      },
    ),
    col('signal_group', 'string', 'login or order.', { nullable: false }),
    col('customers', 'bigint', 'Customers the condition triggered for.', { nullable: false }),
    col('flagged_customers', 'bigint', 'Of these, customers flagged for fraud.', { nullable: false }),
  ],
};

export const dashboardRevenueByMonth: DashboardView = {
  name: 'dashboard_revenue_by_month',
  description: 'Revenue by month with the same month of the previous year beside it, and the peak months.',
  grain: 'One row per calendar month with sales.',
  columns: [
    col('month', 'date', 'First day of the month.', { nullable: false }),
    col('revenue', 'decimal(14,2)', 'Revenue of the month.'),
    col('orders', 'int', 'Revenue orders.'),
    col('customers', 'int', 'Buying customers.'),
    col('avg_order_value', 'decimal(14,2)', 'Revenue / orders.'),
    col('is_peak', 'boolean', 'One of the peak months.'),
    col('is_partial_month', 'boolean', 'The run date falls inside the month: not yet complete.'),
    col(
      'previous_year_revenue',
      'decimal(14,2)',
      'Revenue of the same month a year earlier; null without it.',
    ),
    col(
      'year_over_year_change',
      'double',
      'revenue / previous_year_revenue - 1; null without a previous year.',
    ),
  ],
};

export const dashboardTopProducts: DashboardView = {
  name: 'dashboard_top_products',
  description:
    'Top products over time: the five products with the most revenue across all months, month by month.',
  grain: 'One row per (month, product) for the overall top five products in months they ranked.',
  columns: [
    col('month', 'date', 'First day of the month.', { nullable: false }),
    col('product_id', 'bigint', 'Product id.', { nullable: false }),
    col('product_name', 'string', 'Product name.'),
    col('category', 'string', 'Category.'),
    col('revenue', 'decimal(14,2)', 'Revenue of the product in the month.'),
    col('units', 'int', 'Units sold in the month.'),
    col('overall_rank', 'bigint', 'Rank of the product by revenue over all months (1 = most).', {
      nullable: false,
    }),
  ],
};

export const dashboardEngagementByChannel: DashboardView = {
  name: 'dashboard_engagement_by_channel',
  description:
    'Engagement by channel: how many customers each channel reaches, what they do there, and whose main channel it is.',
  grain: 'One row per channel: email, ads, web, purchase.',
  columns: [
    col('channel', 'string', 'email, ads, web or purchase.', { nullable: false }),
    col('active_customers', 'bigint', 'Customers with any activity in the channel.', { nullable: false }),
    col('primary_customers', 'bigint', 'Customers whose primary channel it is.', { nullable: false }),
    col('exposures', 'bigint', 'Emails sent or ads shown; null for web and purchase.'),
    col('actions', 'bigint', 'Email opens and clicks, ad clicks, web visits or orders.', { nullable: false }),
    col(
      'action_rate',
      'double',
      'Email clicks per email sent, ad clicks per ad view, orders per web visit (web); null for purchase.',
    ),
  ],
};

export const dashboardViews: readonly DashboardView[] = [
  dashboardSegmentOverview,
  dashboardRfmGrid,
  dashboardChurnDistribution,
  dashboardAtRiskCustomers,
  dashboardClvDistribution,
  dashboardKmeansProfiles,
  dashboardFraudSignals,
  dashboardRevenueByMonth,
  dashboardTopProducts,
  dashboardEngagementByChannel,
];
