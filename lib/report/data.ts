import type { DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';

/*
 * What the local report shows, read only from the views BI tools read: the `dashboard_*` views, the
 * `_latest` views and `analytics.published_runs`. Every query casts money to double and counts to
 * integers, so the rows are plain JSON the browser can chart; each row is checked against its shape
 * here, so a view that changes shape fails with the view and column named, not with an empty chart.
 */

/** No run has been published in this workspace yet: there is nothing to report on. */
export class NoPublishedRunError extends Error {
  constructor() {
    super('no published run yet: run `npx c360 demo` or `npx c360 run` first');
    this.name = 'NoPublishedRunError';
  }
}

// DuckDB's JSON rows give BIGINT and DECIMAL as strings; only a numeric string is taken as a number.
const num = z.union(
  [
    z.number(),
    z
      .string()
      .regex(/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i)
      .transform(Number),
  ],
  { error: 'expected a number' },
);
const optNum = num.nullable();
const str = z.string({ error: 'expected text' });
const optStr = str.nullable();
const bool = z.boolean({ error: 'expected true or false' });
const optBool = bool.nullable();
/** A DATE as DuckDB writes it: YYYY-MM-DD. */
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');

const publishedRun = z.object({
  run_date: date,
  run_id: str,
  execution_id: str,
  published_at: str,
  is_forced: bool,
});

const segmentOverview = z.object({
  lifecycle_stage: str,
  rfm_segment: optStr,
  customers: num,
  share: optNum,
  lifetime_revenue: optNum,
  avg_lifetime_value: optNum,
  expected_lifetime_value: optNum,
  avg_churn_probability: optNum,
  churn_risk_customers: optNum,
});

const rfmCell = z.object({
  r_score: num,
  f_score: num,
  customers: num,
  share: optNum,
  avg_monetary: optNum,
  segment: optStr,
});

const churnBand = z.object({
  band_index: num,
  band_label: str,
  probability_from: num,
  probability_to: num,
  customers: num,
  churn_risk_customers: optNum,
  lifetime_value: optNum,
});

const atRiskCustomer = z.object({
  risk_rank: num,
  customer_id: num,
  value_at_risk: num,
  lifetime_value: num,
  churn_probability: num,
  rfm_segment: optStr,
  lifecycle_stage: optStr,
  days_since_last_order: optNum,
  lifetime_revenue: optNum,
  primary_channel: optStr,
});

const clvBand = z.object({
  band_index: num,
  band_label: str,
  value_from: num,
  value_to: optNum,
  customers: num,
  lifetime_value: optNum,
});

const kmeansProfile = z.object({
  kmeans_segment: str,
  kmeans_cluster: optNum,
  customers: num,
  share: optNum,
  avg_days_since_last_purchase: optNum,
  avg_purchase_days: optNum,
  avg_mean_spend: optNum,
  avg_engagement_events: optNum,
  avg_lifetime_value: optNum,
  avg_churn_probability: optNum,
  is_trustworthy: optBool,
});

const fraudSignal = z.object({
  signal: str,
  signal_group: str,
  customers: num,
  flagged_customers: num,
});

const flaggedCustomer = z.object({
  customer_id: num,
  orders_in_window: optNum,
  max_order_total: optNum,
  window_spend: optNum,
  flag_reasons: optStr,
});

const revenueMonth = z.object({
  month: date,
  revenue: optNum,
  orders: optNum,
  customers: optNum,
  avg_order_value: optNum,
  is_peak: optBool,
  is_partial_month: optBool,
  previous_year_revenue: optNum,
  year_over_year_change: optNum,
});

const productMonth = z.object({
  month: date,
  product_id: num,
  product_name: optStr,
  category: optStr,
  revenue: optNum,
  units: optNum,
  overall_rank: num,
});

const channelEngagement = z.object({
  channel: str,
  active_customers: num,
  primary_customers: num,
  exposures: optNum,
  actions: num,
  action_rate: optNum,
});

const qualityCheck = z.object({
  check_name: str,
  subject: str,
  metric_value: optNum,
  threshold: optNum,
  is_passed: bool,
  is_blocking: bool,
  detail: optStr,
});

const segmentSummary = z.object({
  segment_type: str,
  segment: str,
  customers: optNum,
  headline: str,
  description: str,
  recommended_actions: str,
  source: str,
  fallback_reason: optStr,
  model_id: optStr,
});

export type PublishedRun = z.infer<typeof publishedRun>;
export type SegmentOverviewRow = z.infer<typeof segmentOverview>;
export type RfmCell = z.infer<typeof rfmCell>;
export type ChurnBand = z.infer<typeof churnBand>;
export type AtRiskCustomer = z.infer<typeof atRiskCustomer>;
export type ClvBand = z.infer<typeof clvBand>;
export type KmeansProfile = z.infer<typeof kmeansProfile>;
export type FraudSignal = z.infer<typeof fraudSignal>;
export type FlaggedCustomer = z.infer<typeof flaggedCustomer>;
export type RevenueMonth = z.infer<typeof revenueMonth>;
export type ProductMonth = z.infer<typeof productMonth>;
export type ChannelEngagement = z.infer<typeof channelEngagement>;
export type QualityCheck = z.infer<typeof qualityCheck>;
export type SegmentSummary = z.infer<typeof segmentSummary>;

/** Rows shown in the at-risk and flagged-customer tables (the views keep more). */
export const TABLE_ROWS = 20;

/** Everything the report shows, for the latest published run. */
export interface ReportData {
  readonly run: PublishedRun;
  /**
   * The one currency of the run's revenue orders, as the `mixed_currency` data-quality check found
   * it; null when it names none (for example a history-only run, whose files carry no currency).
   */
  readonly currency: string | null;
  readonly segmentOverview: readonly SegmentOverviewRow[];
  readonly rfmGrid: readonly RfmCell[];
  readonly churnDistribution: readonly ChurnBand[];
  readonly atRiskCustomers: readonly AtRiskCustomer[];
  /** Customers the at-risk view ranks (it keeps at most 100; the table shows TABLE_ROWS). */
  readonly atRiskRanked: number;
  readonly clvDistribution: readonly ClvBand[];
  readonly kmeansProfiles: readonly KmeansProfile[];
  readonly fraudSignals: readonly FraudSignal[];
  readonly flaggedCustomers: readonly FlaggedCustomer[];
  /** All customers flagged for fraud (the table shows the TABLE_ROWS with the most spend). */
  readonly flaggedTotal: number;
  readonly revenueByMonth: readonly RevenueMonth[];
  readonly topProducts: readonly ProductMonth[];
  readonly engagementByChannel: readonly ChannelEngagement[];
  readonly dataQuality: readonly QualityCheck[];
  readonly segmentSummaries: readonly SegmentSummary[];
}

/** The report's sections that hold rows, by the ReportData field that holds them. */
export type SectionRows = Exclude<keyof ReportData, 'run' | 'currency' | 'atRiskRanked' | 'flaggedTotal'>;

async function read<T extends z.ZodType>(
  connection: DuckDBConnection,
  source: string,
  schema: T,
  sql: string,
): Promise<z.infer<T>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJson().map((row, index) => {
    const parsed = schema.safeParse(row);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(row[String(i.path[0])])})`)
        .join('; ');
      throw new Error(`${source} row ${index + 1} does not have the shape the report expects: ${issues}`);
    }
    return parsed.data;
  });
}

const count = async (connection: DuckDBConnection, sql: string): Promise<number> => {
  const reader = await connection.runAndReadAll(sql);
  return Number(reader.getRows()[0]?.[0] ?? 0);
};

/** Reads the report's rows for the latest published run; NoPublishedRunError before the first publish. */
export async function loadReportData(connection: DuckDBConnection): Promise<ReportData> {
  // The latest publish is what the `_latest` views point at: publishing writes its row after them.
  const [run] = await read(
    connection,
    'analytics.published_runs',
    publishedRun,
    `select
        cast(run_date as varchar) as run_date,
        run_id,
        execution_id,
        strftime(published_at, '%Y-%m-%d %H:%M:%S') as published_at,
        is_forced
    from analytics.published_runs
    order by published_at desc, run_date desc
    limit 1`,
  );
  if (!run) throw new NoPublishedRunError();

  const dataQuality = await read(
    connection,
    'analytics.data_quality_latest',
    qualityCheck,
    `select check_name, subject, metric_value, threshold, is_passed, is_blocking, detail
    from analytics.data_quality_latest
    order by is_passed, is_blocking desc, check_name, subject`,
  );
  const currencyCheck = dataQuality.find((c) => c.check_name === 'mixed_currency' && c.is_passed);
  // data_quality.sql words a single currency as 'revenue orders all in <code>'.
  const currency = /\ball in ([A-Z]{3})$/.exec(currencyCheck?.detail ?? '')?.[1] ?? null;

  return {
    run,
    currency,
    segmentOverview: await read(
      connection,
      'analytics.dashboard_segment_overview',
      segmentOverview,
      `select
        lifecycle_stage,
        rfm_segment,
        customers,
        share,
        cast(lifetime_revenue as double) as lifetime_revenue,
        avg_lifetime_value,
        cast(expected_lifetime_value as double) as expected_lifetime_value,
        avg_churn_probability,
        churn_risk_customers
      from analytics.dashboard_segment_overview
      order by customers desc, lifecycle_stage, rfm_segment`,
    ),
    rfmGrid: await read(
      connection,
      'analytics.dashboard_rfm_grid',
      rfmCell,
      `select r_score, f_score, customers, share, avg_monetary, segment
      from analytics.dashboard_rfm_grid
      order by r_score desc, f_score`,
    ),
    churnDistribution: await read(
      connection,
      'analytics.dashboard_churn_distribution',
      churnBand,
      `select
        band_index,
        band_label,
        probability_from,
        probability_to,
        customers,
        churn_risk_customers,
        cast(lifetime_value as double) as lifetime_value
      from analytics.dashboard_churn_distribution
      order by band_index`,
    ),
    atRiskCustomers: await read(
      connection,
      'analytics.dashboard_at_risk_customers',
      atRiskCustomer,
      `select
        risk_rank,
        customer_id,
        value_at_risk,
        cast(lifetime_value as double) as lifetime_value,
        churn_probability,
        rfm_segment,
        lifecycle_stage,
        days_since_last_order,
        cast(lifetime_revenue as double) as lifetime_revenue,
        primary_channel
      from analytics.dashboard_at_risk_customers
      order by risk_rank
      limit ${TABLE_ROWS}`,
    ),
    atRiskRanked: await count(connection, 'select count(*) from analytics.dashboard_at_risk_customers'),
    clvDistribution: await read(
      connection,
      'analytics.dashboard_clv_distribution',
      clvBand,
      `select
        band_index,
        band_label,
        value_from,
        value_to,
        customers,
        cast(lifetime_value as double) as lifetime_value
      from analytics.dashboard_clv_distribution
      order by band_index`,
    ),
    kmeansProfiles: await read(
      connection,
      'analytics.dashboard_kmeans_profiles',
      kmeansProfile,
      `select
        kmeans_segment,
        kmeans_cluster,
        customers,
        share,
        avg_days_since_last_purchase,
        avg_purchase_days,
        avg_mean_spend,
        avg_engagement_events,
        avg_lifetime_value,
        avg_churn_probability,
        is_trustworthy
      from analytics.dashboard_kmeans_profiles
      order by customers desc, kmeans_segment`,
    ),
    fraudSignals: await read(
      connection,
      'analytics.dashboard_fraud_signals',
      fraudSignal,
      `select signal, signal_group, customers, flagged_customers
      from analytics.dashboard_fraud_signals
      order by signal_group, customers desc, signal`,
    ),
    // The flagged customers with the most spend in the fraud window first: the money at stake.
    flaggedCustomers: await read(
      connection,
      'analytics.fraud_flags_latest',
      flaggedCustomer,
      `select
        customer_id,
        orders_in_window,
        cast(max_order_total as double) as max_order_total,
        cast(window_spend as double) as window_spend,
        flag_reasons
      from analytics.fraud_flags_latest
      where is_flagged
      order by window_spend desc nulls last, customer_id
      limit ${TABLE_ROWS}`,
    ),
    flaggedTotal: await count(
      connection,
      'select count(*) from analytics.fraud_flags_latest where is_flagged',
    ),
    revenueByMonth: await read(
      connection,
      'analytics.dashboard_revenue_by_month',
      revenueMonth,
      `select
        cast(month as varchar) as month,
        cast(revenue as double) as revenue,
        orders,
        customers,
        cast(avg_order_value as double) as avg_order_value,
        is_peak,
        is_partial_month,
        cast(previous_year_revenue as double) as previous_year_revenue,
        year_over_year_change
      from analytics.dashboard_revenue_by_month
      order by month`,
    ),
    topProducts: await read(
      connection,
      'analytics.dashboard_top_products',
      productMonth,
      `select
        cast(month as varchar) as month,
        product_id,
        product_name,
        category,
        cast(revenue as double) as revenue,
        units,
        overall_rank
      from analytics.dashboard_top_products
      order by overall_rank, month`,
    ),
    engagementByChannel: await read(
      connection,
      'analytics.dashboard_engagement_by_channel',
      channelEngagement,
      `select channel, active_customers, primary_customers, exposures, actions, action_rate
      from analytics.dashboard_engagement_by_channel
      order by active_customers desc, channel`,
    ),
    dataQuality,
    // Largest segments first; the figures' customer counts come from the same run as the text.
    segmentSummaries: await read(
      connection,
      'analytics.segment_summaries_latest',
      segmentSummary,
      `with summaries as (
        select segment_type, segment, headline, description, recommended_actions, source, fallback_reason, model_id
        from analytics.segment_summaries_latest
      ),

      figures as (
        select segment_type, segment, customers
        from analytics.segment_figures_latest
      ),

      final as (
        select
          summaries.segment_type,
          summaries.segment,
          figures.customers,
          summaries.headline,
          summaries.description,
          summaries.recommended_actions,
          summaries.source,
          summaries.fallback_reason,
          summaries.model_id
        from summaries
        left join figures
          on summaries.segment_type = figures.segment_type
          and summaries.segment = figures.segment
      )

      select * from final
      order by
        case segment_type when 'rfm_segment' then 0 when 'lifecycle_stage' then 1 else 2 end,
        customers desc nulls last,
        segment`,
    ),
  };
}
