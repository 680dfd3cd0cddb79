import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * What was alerted, so no customer is alerted twice for the same reason within a window, and no
 * alert is silently lost. One item per `alert_key` (`${kind}#${customerId}`), written in three steps:
 *
 * 1. `claim`: a conditional put of a `pending` item, allowed when there is no item or the item has
 *    expired. DynamoDB deletes expired items only eventually (typically within days), so an expired item
 *    can still be there: the condition compares `expires_at` with now instead of relying on the delete.
 * 2. the caller publishes;
 * 3. `markSent`: `pending` becomes `sent` (conditional on still being `pending`), and the window starts.
 *
 * An item left `pending` means an earlier attempt died between 1 and 3 (or between publishing and 3):
 * its alert may or may not have gone out, so `claim` hands it back to be sent again. That makes the
 * protocol at least once: a crash can repeat an alert, never drop one. Two executions of the same run
 * date cannot race here because run control refuses a second execution of a date that is running.
 */

/** The table's shape, for the stack and the local runner: a string partition key and the TTL attribute. */
export const ALERTS_TABLE = { partitionKey: 'alert_key', ttlAttribute: 'expires_at' } as const;

/** The item's status. */
export type AlertStatus = 'pending' | 'sent';

/** One dedupe item, as stored. */
export interface AlertItem {
  readonly alert_key: string;
  readonly status: AlertStatus;
  readonly run_date: string;
  readonly run_id: string;
  /** ISO timestamp of the first claim. */
  readonly created_at: string;
  /** ISO timestamp of the publish; absent while pending. */
  readonly sent_at?: string;
  /** Epoch seconds after which the item no longer suppresses an alert: the table's TTL attribute. */
  readonly expires_at: number;
}

export interface DedupeContext {
  readonly dynamodb: DynamoDBDocumentClient;
  /** The dedupe table: partition key `alert_key` (string), TTL attribute `expires_at`. */
  readonly tableName: string;
  /** Days during which a sent alert suppresses the same alert for the same customer. */
  readonly windowDays: number;
  readonly runDate: string;
  readonly runId: string;
  /** The clock; injected so tests can move past the window. */
  readonly now: () => Date;
}

export interface ClaimResult {
  /** Keys this run must publish: new ones, expired ones, and ones an earlier attempt left pending. */
  readonly claimed: string[];
  /** Of `claimed`, those found pending (an earlier attempt that may or may not have published). */
  readonly reclaimed: string[];
  /** Keys sent within the window: not to be published again. */
  readonly suppressed: string[];
}

/** The dedupe key: the same customer alerted for the same reason. */
export function alertKey(kind: string, customerId: string): string {
  return `${kind}#${customerId}`;
}

const SECONDS_PER_DAY = 86_400;

function epochSeconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

/** `expires_at` of an alert sent (or claimed) at `at`: the TTL is epoch seconds, not milliseconds. */
export function expiresAt(at: Date, windowDays: number): number {
  return epochSeconds(at) + Math.round(windowDays * SECONDS_PER_DAY);
}

/** By name, not `instanceof`: the document client may sit on another copy of the low-level client. */
function isConditionFailure(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

function checkContext(ctx: DedupeContext): void {
  if (!Number.isFinite(ctx.windowDays) || ctx.windowDays <= 0) {
    throw new Error(`alerts dedupe window: got ${ctx.windowDays} days; expected a positive number of days`);
  }
}

/**
 * Claims each key for this run (step 1). Keys are processed one by one, in order: the table is small
 * per run (one item per alerted customer) and a conditional write is per item anyway.
 */
export async function claim(keys: readonly string[], ctx: DedupeContext): Promise<ClaimResult> {
  checkContext(ctx);
  const claimed: string[] = [];
  const reclaimed: string[] = [];
  const suppressed: string[] = [];
  for (const key of new Set(keys)) {
    const outcome = await claimOne(key, ctx);
    if (outcome === 'suppressed') suppressed.push(key);
    else claimed.push(key);
    if (outcome === 'reclaimed') reclaimed.push(key);
  }
  return { claimed, reclaimed, suppressed };
}

async function claimOne(key: string, ctx: DedupeContext): Promise<'claimed' | 'reclaimed' | 'suppressed'> {
  // Two tries: the item seen failing the condition can expire (or be deleted by TTL) before we read it.
  for (let attempt = 0; attempt < 2; attempt++) {
    const now = ctx.now();
    const item: AlertItem = {
      alert_key: key,
      status: 'pending',
      run_date: ctx.runDate,
      run_id: ctx.runId,
      created_at: now.toISOString(),
      expires_at: expiresAt(now, ctx.windowDays),
    };
    try {
      await ctx.dynamodb.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(alert_key) OR expires_at < :now',
          ExpressionAttributeValues: { ':now': epochSeconds(now) },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    // dynalite does not return the old item on a failed condition, so read it (consistently).
    const found = await ctx.dynamodb.send(
      new GetCommand({ TableName: ctx.tableName, Key: { alert_key: key }, ConsistentRead: true }),
    );
    const existing = found.Item as AlertItem | undefined;
    if (existing === undefined || existing.expires_at < epochSeconds(ctx.now())) continue;
    if (existing.status === 'pending') return 'reclaimed';
    if (existing.status === 'sent') return 'suppressed';
    throw new Error(
      `alerts dedupe table ${ctx.tableName}, item ${key}: got status ${JSON.stringify(existing.status)}; expected pending or sent`,
    );
  }
  throw new Error(
    `alerts dedupe table ${ctx.tableName}, item ${key}: the conditional put failed twice but no live item was found`,
  );
}

/**
 * Marks keys `sent` after publishing (step 3) and starts their window. A key already `sent` is left as
 * it is (a retried invocation that published and marked before it died); a key missing or in another
 * state is an error, because it means the claim was lost and the window would not hold.
 */
export async function markSent(keys: readonly string[], ctx: DedupeContext): Promise<void> {
  checkContext(ctx);
  for (const key of new Set(keys)) {
    const now = ctx.now();
    try {
      await ctx.dynamodb.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: { alert_key: key },
          UpdateExpression:
            'SET #status = :sent, sent_at = :sentAt, expires_at = :expiresAt, run_date = :runDate, run_id = :runId',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':sent': 'sent',
            ':pending': 'pending',
            ':sentAt': now.toISOString(),
            ':expiresAt': expiresAt(now, ctx.windowDays),
            ':runDate': ctx.runDate,
            ':runId': ctx.runId,
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const found = await ctx.dynamodb.send(
        new GetCommand({ TableName: ctx.tableName, Key: { alert_key: key }, ConsistentRead: true }),
      );
      const existing = found.Item as AlertItem | undefined;
      if (existing?.status === 'sent') continue;
      throw new Error(
        `alerts dedupe table ${ctx.tableName}, item ${key}: expected a pending item to mark sent; found ${
          existing === undefined ? 'no item' : `status ${JSON.stringify(existing.status)}`
        }`,
      );
    }
  }
}
