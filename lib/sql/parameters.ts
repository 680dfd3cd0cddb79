import type { Customer360Config } from '../config/schema.js';
import { ALL_OF_RAW, type SnapshotBase } from '../pipeline/run-control.js';
import type { ParameterValue } from './models.js';

/**
 * Every `{{ parameter }}` the SQL files may use, from the configuration, the run date and the run id.
 * A model reads stage and analytics tables only through `run_date = {{ run_date }} and run_id =
 * {{ run_id }}`: the run's own location, never whatever else shares the date. The stage snapshot models
 * also read the snapshot they start from (`snapshot_run_date`, `snapshot_run_id`, `raw_from_date`).
 */
export function pipelineParameters(
  config: Customer360Config,
  runDate: string,
  runId: string,
  // Without a base, the snapshots are rebuilt from all of raw: slower, never wrong.
  snapshot: SnapshotBase = { runDate, runId, rawFromDate: ALL_OF_RAW },
): Record<string, ParameterValue> {
  const { analysis, identity, sources, models, alerts } = config;
  return {
    run_date: { date: runDate },
    run_id: runId,
    snapshot_run_date: { date: snapshot.runDate },
    snapshot_run_id: snapshot.runId,
    raw_from_date: { date: snapshot.rawFromDate },
    churn_gap_multiplier: analysis.churnGapMultiplier,
    one_time_buyer_gap_multiplier: analysis.oneTimeBuyerGapMultiplier,
    new_customer_max_days: analysis.newCustomerMaxDays,
    rfm_window_days: analysis.rfmWindowDays,
    engagement_window_days: analysis.engagementWindowDays,
    fraud_window_days: analysis.fraudWindowDays,
    fraud_max_distinct_ips: analysis.fraud.maxDistinctIps,
    fraud_max_login_attempts: analysis.fraud.maxLoginAttempts,
    fraud_max_failed_logins: analysis.fraud.maxFailedLogins,
    fraud_high_value_order_total: analysis.fraud.highValueOrderTotal,
    fraud_max_orders_in_window: analysis.fraud.maxOrdersInWindow,
    top_n: analysis.topN,
    alert_min_churn_probability: alerts.highValue.minChurnProbability,
    alert_min_lifetime_value: alerts.highValue.minLifetimeValue,
    alert_max_at_risk: alerts.highValue.maxCustomers,
    churn_horizon_days: models.churn.horizonDays,
    churn_sample_size: models.churn.sampleSize,
    churn_threshold: models.churn.threshold,
    time_unit_days: models.clv.timeResolution === 'week' ? 7 : 1,
    spend_sample_size: models.clv.spendSampleSize,
    bgnbd_sample_size: models.clv.fitSampleSize,
    kmeans_sample_size: models.kmeans.sampleSize,
    clv_short_horizon_days: models.clv.shortHorizonDays,
    clv_long_horizon_days: models.clv.longHorizonDays,
    clv_lifetime_horizon_days: models.clv.lifetimeHorizonDays,
    clv_annual_discount_rate: models.clv.annualDiscountRate,
    max_source_staleness_days: analysis.maxSourceStalenessDays,
    max_reject_share: analysis.maxRejectShare,
    max_deleted_share: sources.mysql.deleteDetection.maxDeletedShare,
    blocked_emails: identity.blockedEmails.map((e) => e.trim().toLowerCase()),
    max_source_ids_per_customer: identity.maxSourceIdsPerCustomer,
    // A disabled source has no freshness check in data_quality.
    mysql_enabled: sources.mysql.enabled,
    dynamodb_enabled: sources.dynamodb.enabled,
    history_customer_key: sources.history.customerKey,
    history_date_format: sources.history.dateFormat,
    // Without a quantity column every legacy order counts one unit; with one, an empty value is missing.
    history_has_quantity: sources.history.columns.quantity != null,
    // Without an order id column, identical rows are separate purchases unless the source re-delivers.
    history_identical_rows_are_duplicates: sources.history.identicalRowsAreDuplicates,
    // A pattern that can never match (valid for RE2 on DuckDB and Joni on Athena) stands for
    // "legacy ids carry no MySQL id".
    history_legacy_id_pattern: sources.history.legacyIdPattern ?? '[^\\s\\S](x)',
  };
}
