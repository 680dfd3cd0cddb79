import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { claim, type DedupeContext, markSent } from '../lib/alerts/dedupe.js';
import { type RaiseAlertsDeps, type RaiseAlertsInput, raiseAlerts } from '../lib/alerts/raise.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { ensureAlertsTable } from '../lib/local/notifications.js';
import './helpers/alerts.js';

// Dedupe against a real local DynamoDB (dynalite): the conditional writes are DynamoDB's own. Only SNS,
// which has no local implementation, is mocked.

// 2026-03-10T03:00:00Z in epoch seconds, by hand: 1970-01-01 to 2026-01-01 is 56 years with 14 leap days
// (1972..2024) = 20454 days; January 31 + February 28 + 9 = 68 more days: 20522 days * 86400 = 1773100800,
// plus 3 hours (10800) = 1773111600.
const T0 = new Date('2026-03-10T03:00:00Z');
const T0_SECONDS = 1_773_111_600;
const WINDOW_DAYS = 30;
const WINDOW_SECONDS = 30 * 86_400; // 2592000
const DAY_MS = 86_400_000;

let local: LocalDynamoDb;
let dynamodb: DynamoDBDocumentClient;
let tableCount = 0;

beforeAll(async () => {
  local = await LocalDynamoDb.start();
  dynamodb = DynamoDBDocumentClient.from(local.client());
});
afterAll(async () => {
  dynamodb.destroy();
  await local.stop();
});

async function freshTable(): Promise<string> {
  tableCount += 1;
  const name = `alerts-sent-${tableCount}`;
  await ensureAlertsTable(local.client(), name);
  return name;
}

/** The stored item in DynamoDB's own JSON, so the attribute types (N for the TTL) are asserted too. */
async function storedItem(tableName: string, key: string) {
  const found = await local
    .client()
    .send(new GetItemCommand({ TableName: tableName, Key: { alert_key: { S: key } }, ConsistentRead: true }));
  return found.Item;
}

describe('claim and markSent', () => {
  let tableName: string;
  let now: Date;
  const ctx = (runDate: string, runId: string): DedupeContext => ({
    dynamodb,
    tableName,
    windowDays: WINDOW_DAYS,
    runDate,
    runId,
    now: () => now,
  });

  beforeEach(async () => {
    tableName = await freshTable();
    now = T0;
  });

  it('writes a pending item with the TTL in epoch seconds, then marks it sent and restarts the window', async () => {
    const first = await claim(['fraud#42'], ctx('2026-03-10', 'r1'));
    expect(first).toEqual({ claimed: ['fraud#42'], reclaimed: [], suppressed: [] });
    expect(await storedItem(tableName, 'fraud#42')).toEqual({
      alert_key: { S: 'fraud#42' },
      status: { S: 'pending' },
      run_date: { S: '2026-03-10' },
      run_id: { S: 'r1' },
      created_at: { S: '2026-03-10T03:00:00.000Z' },
      expires_at: { N: String(T0_SECONDS + WINDOW_SECONDS) }, // 1775703600
    });

    now = new Date(T0.getTime() + 60_000); // published a minute later
    await markSent(['fraud#42'], ctx('2026-03-10', 'r1'));
    expect(await storedItem(tableName, 'fraud#42')).toEqual({
      alert_key: { S: 'fraud#42' },
      status: { S: 'sent' },
      run_date: { S: '2026-03-10' },
      run_id: { S: 'r1' },
      created_at: { S: '2026-03-10T03:00:00.000Z' },
      sent_at: { S: '2026-03-10T03:01:00.000Z' },
      expires_at: { N: String(T0_SECONDS + 60 + WINDOW_SECONDS) }, // 1775703660
    });
  });

  it('the conditional put leaves a sent item untouched and suppresses it; a pending one is handed back', async () => {
    await claim(['fraud#1', 'fraud#2'], ctx('2026-03-10', 'r1'));
    await markSent(['fraud#1'], ctx('2026-03-10', 'r1'));
    const before = await storedItem(tableName, 'fraud#1');

    now = new Date(T0.getTime() + 2 * DAY_MS);
    const again = await claim(['fraud#1', 'fraud#2', 'fraud#3'], ctx('2026-03-12', 'r2'));
    expect(again).toEqual({
      claimed: ['fraud#2', 'fraud#3'],
      reclaimed: ['fraud#2'],
      suppressed: ['fraud#1'],
    });
    // The failed condition wrote nothing: still the first run's item, still its window.
    expect(await storedItem(tableName, 'fraud#1')).toEqual(before);
    // The pending item of run r1 is not overwritten by the claim; it becomes r2's when r2 marks it sent.
    expect((await storedItem(tableName, 'fraud#2'))?.run_id).toEqual({ S: 'r1' });
    await markSent(['fraud#2'], ctx('2026-03-12', 'r2'));
    expect(await storedItem(tableName, 'fraud#2')).toMatchObject({
      status: { S: 'sent' },
      run_id: { S: 'r2' },
      expires_at: { N: String(T0_SECONDS + 2 * 86_400 + WINDOW_SECONDS) },
    });
  });

  it('an expired item that DynamoDB has not deleted yet is claimed again', async () => {
    await claim(['churn_risk#9'], ctx('2026-03-10', 'r1'));
    await markSent(['churn_risk#9'], ctx('2026-03-10', 'r1'));
    // One second before the end of the window it still suppresses; one second after, it does not.
    now = new Date((T0_SECONDS + WINDOW_SECONDS - 1) * 1000);
    expect((await claim(['churn_risk#9'], ctx('2026-04-09', 'r2'))).suppressed).toEqual(['churn_risk#9']);
    now = new Date((T0_SECONDS + WINDOW_SECONDS + 1) * 1000);
    expect(await claim(['churn_risk#9'], ctx('2026-04-09', 'r3'))).toEqual({
      claimed: ['churn_risk#9'],
      reclaimed: [],
      suppressed: [],
    });
    expect(await storedItem(tableName, 'churn_risk#9')).toMatchObject({
      status: { S: 'pending' },
      run_id: { S: 'r3' },
      expires_at: { N: String(T0_SECONDS + 2 * WINDOW_SECONDS + 1) },
    });
  });

  it('markSent is idempotent for a sent item and refuses a key that was never claimed', async () => {
    await claim(['fraud#5'], ctx('2026-03-10', 'r1'));
    await markSent(['fraud#5'], ctx('2026-03-10', 'r1'));
    const sent = await storedItem(tableName, 'fraud#5');
    now = new Date(T0.getTime() + 1000);
    await markSent(['fraud#5'], ctx('2026-03-10', 'r1'));
    expect(await storedItem(tableName, 'fraud#5')).toEqual(sent);
    await expect(markSent(['fraud#6'], ctx('2026-03-10', 'r1'))).rejects.toThrow(
      `alerts dedupe table ${tableName}, item fraud#6: expected a pending item to mark sent; found no item`,
    );
  });

  it('refuses a window that is not a positive number of days', async () => {
    await expect(claim(['fraud#1'], { ...ctx('2026-03-10', 'r1'), windowDays: 0 })).rejects.toThrow(
      'alerts dedupe window: got 0 days; expected a positive number of days',
    );
  });
});

describe('raiseAlerts sends nothing twice', () => {
  const sns = mockClient(SNSClient);
  let tableName: string;
  let now: Date;
  let deps: RaiseAlertsDeps;
  let messageCount = 0;

  const input: RaiseAlertsInput = {
    runDate: '2026-03-10',
    runId: 'r1',
    fraudFlags: [
      { customerId: '101', reasons: 'distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00' },
      { customerId: '102', reasons: 'failed_logins 12 > 10; orders_in_window 9 > 6' },
    ],
    atRisk: [{ customerId: '201', churnProbability: 0.82, lifetimeValue: 1520.5 }],
  };

  /** Which customers each publish carried, in order. */
  const publishedCustomers = () =>
    sns
      .commandCalls(PublishCommand)
      .map(
        (c) =>
          (JSON.parse(c.args[0].input.Message ?? '{}') as { customers: { customerId: string }[] }).customers,
      )
      .map((customers) => customers.map((c) => c.customerId));

  beforeEach(async () => {
    sns.reset();
    sns.on(PublishCommand).callsFake(async () => {
      messageCount += 1;
      return { MessageId: `m-${messageCount}` };
    });
    tableName = await freshTable();
    now = T0;
    deps = {
      sns: new SNSClient({ region: 'us-east-1' }),
      topicArn: 'arn:aws:sns:us-east-1:123456789012:c360-alerts',
      dynamodb,
      tableName,
      windowDays: WINDOW_DAYS,
      fraudBatchThreshold: 5,
      now: () => now,
    };
  });

  it('a rerun of the same run sends nothing new', async () => {
    const first = await raiseAlerts(input, deps);
    expect(first.suppressed).toBe(0);
    expect(publishedCustomers()).toEqual([['101'], ['102'], ['201']]);

    sns.resetHistory();
    now = new Date(T0.getTime() + 3_600_000);
    const rerun = await raiseAlerts(input, deps);
    expect(rerun).toEqual({ published: [], suppressed: 3 });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
  });

  it('a retried invocation resends only what an attempt left pending', async () => {
    // The first attempt publishes 101, then SNS fails on 102: 102 stays pending, churn is never claimed.
    // (A counter, not resolvesOnce/rejectsOnce: resetHistory below would restart sinon's call count.)
    let calls = 0;
    sns.on(PublishCommand).callsFake(async () => {
      calls += 1;
      if (calls === 2) throw new Error('SNS throttled');
      return { MessageId: `m-${calls}` };
    });
    await expect(raiseAlerts(input, deps)).rejects.toThrow('SNS throttled');
    expect((await storedItem(tableName, 'fraud#101'))?.status).toEqual({ S: 'sent' });
    expect((await storedItem(tableName, 'fraud#102'))?.status).toEqual({ S: 'pending' });
    expect(await storedItem(tableName, 'churn_risk#201')).toBeUndefined();

    sns.resetHistory();
    now = new Date(T0.getTime() + 60_000);
    const retry = await raiseAlerts(input, deps);
    expect(publishedCustomers()).toEqual([['102'], ['201']]);
    expect(retry.suppressed).toBe(1);
    expect((await storedItem(tableName, 'fraud#102'))?.status).toEqual({ S: 'sent' });

    // A further retry (the Lambda timed out after the work was done) sends nothing.
    sns.resetHistory();
    expect(await raiseAlerts(input, deps)).toEqual({ published: [], suppressed: 3 });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
  });

  it('an attempt that died after publishing, before marking sent, is sent again (at least once)', async () => {
    // The item such an attempt leaves: pending, written by the same run.
    await local.client().send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          alert_key: { S: 'fraud#101' },
          status: { S: 'pending' },
          run_date: { S: '2026-03-10' },
          run_id: { S: 'r1' },
          created_at: { S: '2026-03-10T03:00:00.000Z' },
          expires_at: { N: String(T0_SECONDS + WINDOW_SECONDS) },
        },
      }),
    );
    await raiseAlerts({ ...input, fraudFlags: input.fraudFlags.slice(0, 1), atRisk: [] }, deps);
    expect(publishedCustomers()).toEqual([['101']]);
    expect((await storedItem(tableName, 'fraud#101'))?.status).toEqual({ S: 'sent' });
  });

  it('a backfill of the same customers within the window sends nothing new; a new customer is sent', async () => {
    await raiseAlerts(input, deps);
    sns.resetHistory();
    now = new Date(T0.getTime() + 5 * DAY_MS);
    const backfill = await raiseAlerts(
      {
        ...input,
        runDate: '2026-02-01',
        runId: 'backfill-1',
        fraudFlags: [...input.fraudFlags, { customerId: '103', reasons: 'distinct_ips 9 > 5' }],
      },
      deps,
    );
    expect(backfill.suppressed).toBe(3);
    expect(publishedCustomers()).toEqual([['103']]);
  });

  it('after the window has passed, the same customers are alerted again', async () => {
    await raiseAlerts(input, deps);
    sns.resetHistory();
    now = new Date(T0.getTime() + (WINDOW_DAYS + 1) * DAY_MS);
    const later = await raiseAlerts({ ...input, runDate: '2026-04-10', runId: 'r2' }, deps);
    expect(later.suppressed).toBe(0);
    expect(publishedCustomers()).toEqual([['101'], ['102'], ['201']]);
    expect(await storedItem(tableName, 'churn_risk#201')).toMatchObject({
      status: { S: 'sent' },
      run_id: { S: 'r2' },
      expires_at: { N: String(T0_SECONDS + (WINDOW_DAYS + 1) * 86_400 + WINDOW_SECONDS) },
    });
  });

  it('a fraud flag and a churn risk for the same customer are two reasons, deduplicated apart', async () => {
    await raiseAlerts(
      { ...input, fraudFlags: [{ customerId: '201', reasons: 'distinct_ips 7 > 5' }], atRisk: input.atRisk },
      deps,
    );
    expect(publishedCustomers()).toEqual([['201'], ['201']]);
    expect(
      sns.commandCalls(PublishCommand).map((c) => c.args[0].input.MessageAttributes?.kind?.StringValue),
    ).toEqual(['fraud', 'churn_risk']);
  });
});
