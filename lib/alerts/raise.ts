import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { alertKey, claim, type DedupeContext, markSent } from './dedupe.js';

/**
 * Alerts a human should act on, published to the alerts topic: fraud flags and high-value customers at
 * churn risk. Messages carry run date, run id, customer ids and figures only (never a name, email,
 * phone or IP address; principle 6 in DESIGN.md), and the message attributes `kind` and `severity` so
 * subscriptions can filter. Each customer is alerted at most once per reason within the dedupe window
 * (see dedupe.ts): a rerun, a retried invocation or a backfill of the same customers sends nothing new.
 */

/**
 * Customer ids as the analytics zone carries them. Letters, digits, `_`, `:` and `-` only: an email or
 * an IP address (both contain `.` or `@`) is refused, so a wrong column cannot leak into an alert.
 */
const customerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_:-]{1,64}$/, 'expected a customer id of 1-64 letters, digits, _, : or -');

// One decimal point at most, so an IP address is not a figure; Trino may print a double as 1.0E3.
const figure = '[0-9]+(\\.[0-9]+)?(E[+-]?[0-9]+)?';
const reason = `[a-z_]+ -?${figure} >=? -?${figure}`;
/** `fraud_flags.flag_reasons`: `<signal> <figure> > <threshold>` joined by `; ` (sql/marts/fraud_flags.sql). */
const reasonsSchema = z
  .string()
  .max(1000)
  .regex(
    new RegExp(`^${reason}(; ${reason})*$`),
    "expected fraud_flags.flag_reasons as '<signal> <figure> > <threshold>' joined by '; '",
  );

export const fraudFlagSchema = z.strictObject({
  customerId: customerIdSchema,
  reasons: reasonsSchema,
  flaggedAt: z.string().max(40).optional(),
});
export const atRiskCustomerSchema = z.strictObject({
  customerId: customerIdSchema,
  churnProbability: z.number().min(0).max(1),
  lifetimeValue: z.number().finite(),
});
export const raiseAlertsInputSchema = z.strictObject({
  runDate: z.iso.date({ message: 'expected runDate as YYYY-MM-DD' }),
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected a run id of 1-80 letters, digits, - or _'),
  fraudFlags: z.array(fraudFlagSchema),
  atRisk: z.array(atRiskCustomerSchema),
});

/** A row of `analytics.fraud_flags` that is flagged (ids and figures only). */
export interface FraudFlag {
  readonly customerId: string;
  /** `flag_reasons`: every triggered condition with its figure and threshold. */
  readonly reasons: string;
  readonly flaggedAt?: string;
}

/** A customer whose churn probability and lifetime value are both above the configured thresholds. */
export interface AtRiskCustomer {
  readonly customerId: string;
  readonly churnProbability: number;
  readonly lifetimeValue: number;
}

export interface RaiseAlertsInput {
  readonly runDate: string;
  readonly runId: string;
  readonly fraudFlags: readonly FraudFlag[];
  readonly atRisk: readonly AtRiskCustomer[];
}

export interface RaiseAlertsDeps {
  readonly sns: SNSClient;
  readonly topicArn: string;
  readonly dynamodb: DynamoDBDocumentClient;
  /** The dedupe table (see dedupe.ts). */
  readonly tableName: string;
  /** Days during which the same customer is not alerted again for the same reason. */
  readonly windowDays: number;
  /** Above this many new fraud flags in a run, they go out as one batched message instead of one each. */
  readonly fraudBatchThreshold: number;
  readonly now: () => Date;
}

export type AlertKind = 'fraud' | 'churn_risk';

export interface PublishedAlert {
  readonly kind: AlertKind;
  readonly customers: string[];
  readonly messageId: string;
}

export interface RaiseAlertsResult {
  readonly published: PublishedAlert[];
  /** Alerts not sent because the same customer was alerted for the same reason within the window. */
  readonly suppressed: number;
}

const SEVERITY: Record<AlertKind, 'high' | 'medium'> = { fraud: 'high', churn_risk: 'medium' };

/**
 * SNS takes at most 256 KiB per message, attributes and subject included; a batch whose JSON would pass
 * this budget is split into parts, each a message of its own, so a flood of flags is never refused.
 */
export const MAX_MESSAGE_BYTES = 200_000;

/** SNS subjects must be ASCII without line breaks and under 100 characters. */
const MAX_SUBJECT_LENGTH = 99;

/**
 * Checks the input against the schema, naming the field and never echoing its value: a value that
 * fails is probably the personal data the check keeps out, and errors end up in logs and notifications.
 */
export function checkAlertsInput(input: unknown): RaiseAlertsInput {
  const parsed = raiseAlertsInputSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = (issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  throw new Error(`alerts input${path}: ${issue?.message ?? 'invalid'}`);
}

/**
 * Publishes what is new (see the module comment) and returns what was published. Fraud flags are
 * handled before churn risk, each message marked sent right after its publish, so a failure part-way
 * leaves exactly the unsent customers pending for the retry.
 */
export async function raiseAlerts(
  input: RaiseAlertsInput,
  deps: RaiseAlertsDeps,
): Promise<RaiseAlertsResult> {
  checkAlertsInput(input);
  if (!Number.isInteger(deps.fraudBatchThreshold) || deps.fraudBatchThreshold < 0) {
    throw new Error(
      `alerts fraud batch threshold: got ${deps.fraudBatchThreshold}; expected a whole number of flags, 0 or more`,
    );
  }
  const ctx: DedupeContext = {
    dynamodb: deps.dynamodb,
    tableName: deps.tableName,
    windowDays: deps.windowDays,
    runDate: input.runDate,
    runId: input.runId,
    now: deps.now,
  };
  const published: PublishedAlert[] = [];
  let suppressed = 0;

  const fraudByKey = new Map(input.fraudFlags.map((f) => [alertKey('fraud', f.customerId), f]));
  const fraud = await claim([...fraudByKey.keys()], ctx);
  suppressed += fraud.suppressed.length;
  const newFlags = fraud.claimed.flatMap((key) => fraudByKey.get(key) ?? []);
  if (newFlags.length > deps.fraudBatchThreshold) {
    published.push(...(await publishBatches('fraud', newFlags.map(fraudEntry), input, deps, ctx)));
  } else {
    for (const flag of newFlags) {
      published.push(
        await publishOne('fraud', [fraudEntry(flag)], subjectFor('fraud', 1, input, flag), input, deps, ctx),
      );
    }
  }

  const churnByKey = new Map(input.atRisk.map((c) => [alertKey('churn_risk', c.customerId), c]));
  const churn = await claim([...churnByKey.keys()], ctx);
  suppressed += churn.suppressed.length;
  const newAtRisk = churn.claimed.flatMap((key) => churnByKey.get(key) ?? []);
  if (newAtRisk.length > 0) {
    published.push(...(await publishBatches('churn_risk', newAtRisk.map(churnEntry), input, deps, ctx)));
  }
  return { published, suppressed };
}

interface Entry {
  readonly customerId: string;
  readonly [figure: string]: string | number;
}

function fraudEntry(flag: FraudFlag): Entry {
  return {
    customerId: flag.customerId,
    reasons: flag.reasons,
    ...(flag.flaggedAt !== undefined ? { flaggedAt: flag.flaggedAt } : {}),
  };
}

function churnEntry(customer: AtRiskCustomer): Entry {
  return {
    customerId: customer.customerId,
    churnProbability: customer.churnProbability,
    lifetimeValue: customer.lifetimeValue,
  };
}

/** The message body: what a subscriber (or a filter on the email) reads. */
export function alertMessage(
  kind: AlertKind,
  entries: readonly Entry[],
  input: Pick<RaiseAlertsInput, 'runDate' | 'runId'>,
  part?: { readonly part: number; readonly parts: number },
): string {
  return JSON.stringify({
    kind,
    severity: SEVERITY[kind],
    runDate: input.runDate,
    runId: input.runId,
    ...(part !== undefined && part.parts > 1 ? part : {}),
    count: entries.length,
    customers: entries,
  });
}

function subjectFor(
  kind: AlertKind,
  count: number,
  input: Pick<RaiseAlertsInput, 'runDate'>,
  single?: FraudFlag,
  part?: { readonly part: number; readonly parts: number },
): string {
  const suffix = part !== undefined && part.parts > 1 ? `, part ${part.part} of ${part.parts}` : '';
  const subject =
    kind === 'fraud'
      ? single !== undefined
        ? `Customer 360: fraud flag for customer ${single.customerId} (${input.runDate})`
        : `Customer 360: ${count} new fraud flags (${input.runDate}${suffix})`
      : `Customer 360: ${count} high-value ${count === 1 ? 'customer' : 'customers'} at churn risk (${input.runDate}${suffix})`;
  // A long customer id would push the subject past the limit: the id is in the message anyway.
  return subject.length <= MAX_SUBJECT_LENGTH ? subject : `Customer 360: fraud flag (${input.runDate})`;
}

function attributes(kind: AlertKind): Record<string, MessageAttributeValue> {
  return {
    kind: { DataType: 'String', StringValue: kind },
    severity: { DataType: 'String', StringValue: SEVERITY[kind] },
  };
}

async function publishOne(
  kind: AlertKind,
  entries: readonly Entry[],
  subject: string,
  input: RaiseAlertsInput,
  deps: RaiseAlertsDeps,
  ctx: DedupeContext,
  part?: { readonly part: number; readonly parts: number },
): Promise<PublishedAlert> {
  const result = await deps.sns.send(
    new PublishCommand({
      TopicArn: deps.topicArn,
      Subject: subject,
      Message: alertMessage(kind, entries, input, part),
      MessageAttributes: attributes(kind),
    }),
  );
  const customers = entries.map((e) => e.customerId);
  await markSent(
    customers.map((id) => alertKey(kind, id)),
    ctx,
  );
  return { kind, customers, messageId: result.MessageId ?? '' };
}

/** All entries in one message, or in as few parts as fit the size budget. */
async function publishBatches(
  kind: AlertKind,
  entries: readonly Entry[],
  input: RaiseAlertsInput,
  deps: RaiseAlertsDeps,
  ctx: DedupeContext,
): Promise<PublishedAlert[]> {
  const chunks = splitBySize(entries, (chunk) =>
    alertMessage(kind, chunk, input, { part: 99_999, parts: 99_999 }),
  );
  const published: PublishedAlert[] = [];
  for (const [i, chunk] of chunks.entries()) {
    const part = { part: i + 1, parts: chunks.length };
    const subject = subjectFor(kind, chunk.length, input, undefined, part);
    published.push(await publishOne(kind, chunk, subject, input, deps, ctx, part));
  }
  return published;
}

/**
 * Greedy split: each chunk's message stays within MAX_MESSAGE_BYTES (UTF-8). Sizes are added up entry
 * by entry (each entry's JSON plus a comma) over the message with no entries, with room for the count
 * and part figures, so the split stays linear in the number of entries.
 */
export function splitBySize<T>(entries: readonly T[], message: (chunk: readonly T[]) => string): T[][] {
  const base = Buffer.byteLength(message([]), 'utf8') + 32;
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = base;
  for (const entry of entries) {
    const bytes = Buffer.byteLength(JSON.stringify(entry), 'utf8') + 1;
    if (current.length > 0 && size + bytes > MAX_MESSAGE_BYTES) {
      chunks.push(current);
      current = [];
      size = base;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
