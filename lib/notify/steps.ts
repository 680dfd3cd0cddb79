import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { sendDigest } from '../alerts/digest.js';
import { type AtRiskCustomer, type FraudFlag, raiseAlerts } from '../alerts/raise.js';
import type { Customer360Config } from '../config/schema.js';
import { type ObjectStore, type Row, readRows, writeRows } from '../models/parquet.js';
import { dataQuality } from '../schema/marts/data-quality.js';
import { alertCandidates, segmentFigures, segmentSummaries } from '../schema/marts/summaries.js';
import type { TableSchema } from '../schema/types.js';
import { type SegmentFigures, segmentFiguresSchema } from '../summaries/figures.js';
import { summarizeSegments } from '../summaries/summarize.js';

/*
 * The three notification steps of a run, each the core of one Lambda. They read the run's own output
 * (small, bounded tables SQL wrote for them: segment_figures, alert_candidates, data_quality) from its
 * location in S3 rather than querying Athena: the files are there, already bounded, and a Lambda reading
 * Parquet costs no query, no wait and no scan.
 */

export const runKeysSchema = z.strictObject({
  runDate: z.iso.date({ message: 'expected runDate as YYYY-MM-DD' }),
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected a run id of 1-80 letters, digits, - or _'),
});
export type RunKeys = z.infer<typeof runKeysSchema>;

export interface RunOutput {
  readonly config: Customer360Config;
  readonly store: ObjectStore;
  readonly analyticsBucket: string;
}

const at = (table: TableSchema, run: RunKeys) =>
  `${table.location}run_date=${run.runDate}/run_id=${run.runId}/`;

const nullableNumber = (value: Row[string] | undefined): number | null =>
  value === null || value === undefined ? null : Number(value);

/** segment_figures rows as the summaries' input, checked by its schema (aggregates only). */
export function toSegmentFigures(row: Row): SegmentFigures {
  const mix = Object.fromEntries(
    String(row.primary_channel_mix ?? '')
      .split(';')
      .filter((pair) => pair.includes(':'))
      .map((pair) => {
        const [channel = '', share = '0'] = pair.split(':');
        return [channel, Number(share)];
      }),
  );
  const previousCustomers = nullableNumber(row.previous_customers);
  return segmentFiguresSchema.parse({
    segmentType: row.segment_type,
    segment: row.segment,
    customers: Number(row.customers),
    share: Number(row.share ?? 0),
    avgRecencyDays: nullableNumber(row.avg_recency_days),
    avgPurchaseDays: nullableNumber(row.avg_lifetime_orders),
    avgLifetimeRevenue: nullableNumber(row.avg_lifetime_revenue),
    avgLifetimeValue: nullableNumber(row.avg_lifetime_value),
    avgChurnProbability: nullableNumber(row.avg_churn_probability),
    churnRiskShare: nullableNumber(row.churn_risk_share),
    primaryChannelMix: mix,
    previous:
      previousCustomers === null
        ? null
        : {
            customers: previousCustomers,
            avgLifetimeValue: nullableNumber(row.previous_avg_lifetime_value),
            avgChurnProbability: nullableNumber(row.previous_avg_churn_probability),
          },
  });
}

export interface SummariesResult {
  readonly segments: number;
  readonly fromBedrock: number;
  readonly fallbacks: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly estimatedCostUsd: number;
}

/**
 * Writes segment_summaries into the run's own location (before publishing, like the marts): Bedrock's
 * summary of each segment's figures when `bedrock.enabled` and a client is given, else the template.
 */
export async function writeSegmentSummaries(
  run: RunKeys,
  deps: RunOutput & { readonly bedrock: BedrockRuntimeClient | undefined },
): Promise<SummariesResult> {
  const rows = await readRows(deps.store, deps.analyticsBucket, at(segmentFigures, run));
  const figures = rows
    .map(toSegmentFigures)
    .sort((a, b) => `${a.segmentType}/${a.segment}`.localeCompare(`${b.segmentType}/${b.segment}`));
  const { summaries, usage } = await summarizeSegments(figures, {
    bedrock: deps.config.bedrock.enabled ? deps.bedrock : undefined,
    modelId: deps.config.bedrock.modelId,
  });
  const prefix = at(segmentSummaries, run);
  await deps.store.deletePrefix(deps.analyticsBucket, prefix);
  await deps.store.put(
    deps.analyticsBucket,
    `${prefix}part-0.parquet`,
    writeRows(
      segmentSummaries,
      summaries.map((s) => ({
        segment_type: s.segmentType,
        segment: s.segment,
        headline: s.headline,
        description: s.description,
        recommended_actions: s.recommendedActions.join('\n'),
        source: s.source,
        fallback_reason: s.fallbackReason,
        model_id: s.modelId,
        input_tokens: s.inputTokens,
        output_tokens: s.outputTokens,
      })),
    ),
  );
  return {
    segments: summaries.length,
    fromBedrock: summaries.filter((s) => s.source === 'bedrock').length,
    fallbacks: summaries.filter((s) => s.fallbackReason !== null).length,
    ...usage,
  };
}

/** The run's fraud flags and high-value at-risk customers, from alert_candidates. */
async function candidates(
  run: RunKeys,
  deps: RunOutput,
): Promise<{ fraud: FraudFlag[]; atRisk: AtRiskCustomer[] }> {
  const rows = await readRows(deps.store, deps.analyticsBucket, at(alertCandidates, run));
  const fraud = rows
    .filter((r) => r.kind === 'fraud')
    .map((r) => ({ customerId: String(r.customer_id), reasons: String(r.reasons ?? '') }))
    .sort((a, b) => a.customerId.localeCompare(b.customerId));
  const atRisk = rows
    .filter((r) => r.kind === 'churn_risk')
    .map((r) => ({
      customerId: String(r.customer_id),
      churnProbability: Number(r.churn_probability),
      lifetimeValue: Number(r.lifetime_value),
    }))
    .sort((a, b) => b.lifetimeValue - a.lifetimeValue || a.customerId.localeCompare(b.customerId));
  return { fraud, atRisk };
}

export interface AlertsDeps extends RunOutput {
  readonly sns: SNSClient;
  readonly topicArn: string;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly now: () => Date;
}

/** Publishes the run's new fraud flags and high-value churn risk (each customer once per window). */
export async function raiseRunAlerts(run: RunKeys, deps: AlertsDeps) {
  const { fraud, atRisk } = await candidates(run, deps);
  const result = await raiseAlerts(
    { runDate: run.runDate, runId: run.runId, fraudFlags: fraud, atRisk },
    {
      sns: deps.sns,
      topicArn: deps.topicArn,
      dynamodb: deps.dynamodb,
      tableName: deps.tableName,
      windowDays: deps.config.alerts.dedupeWindowDays,
      fraudBatchThreshold: deps.config.alerts.fraudBatchThreshold,
      now: deps.now,
    },
  );
  return {
    messages: result.published.length,
    fraudAlerted: result.published.filter((p) => p.kind === 'fraud').flatMap((p) => p.customers).length,
    churnRiskAlerted: result.published.filter((p) => p.kind === 'churn_risk').flatMap((p) => p.customers)
      .length,
    suppressed: result.suppressed,
  };
}

export interface DigestDeps extends RunOutput {
  readonly ses: SESv2Client;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly now: () => Date;
}

/** One digest email for the run to alerts.emailRecipients, from alerts.senderEmail. */
export async function sendRunDigest(run: RunKeys, deps: DigestDeps) {
  const { alerts } = deps.config;
  if (alerts.senderEmail === undefined || alerts.emailRecipients.length === 0)
    throw new Error('Send digest needs alerts.senderEmail and alerts.emailRecipients');
  const quality = await readRows(deps.store, deps.analyticsBucket, at(dataQuality, run));
  const figures = await readRows(deps.store, deps.analyticsBucket, at(segmentFigures, run));
  const { fraud, atRisk } = await candidates(run, deps);
  const failedBlocking = quality.filter((q) => q.is_blocking === true && q.is_passed === false).length;
  const result = await sendDigest(
    {
      runDate: run.runDate,
      runId: run.runId,
      dataQuality: {
        passed: failedBlocking === 0,
        failedChecks: failedBlocking,
        warnings: quality.filter((q) => q.is_blocking !== true && q.is_passed === false).length,
      },
      segments: figures
        .filter((f) => f.segment_type !== 'kmeans_segment')
        .map((f) => ({
          segment: String(f.segment),
          customers: Number(f.customers),
          previousCustomers: nullableNumber(f.previous_customers),
        }))
        .sort((a, b) => b.customers - a.customers || a.segment.localeCompare(b.segment)),
      topAtRisk: atRisk.slice(0, 10),
      fraudFlags: fraud,
      dashboardLinks: alerts.dashboardUrl ? [{ label: 'Dashboards', url: alerts.dashboardUrl }] : [],
    },
    {
      ses: deps.ses,
      from: alerts.senderEmail,
      to: alerts.emailRecipients,
      dedupe: {
        dynamodb: deps.dynamodb,
        tableName: deps.tableName,
        windowDays: alerts.dedupeWindowDays,
        now: deps.now,
      },
    },
  );
  return { messageId: result.messageId, skipped: result.skipped ?? false };
}
