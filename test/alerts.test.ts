import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  alertMessage,
  checkAlertsInput,
  MAX_MESSAGE_BYTES,
  type RaiseAlertsDeps,
  raiseAlerts,
  splitBySize,
} from '../lib/alerts/raise.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { ensureAlertsTable } from '../lib/local/notifications.js';
import './helpers/alerts.js';

// The exact SNS Publish requests. SNS is mocked (no local implementation); the dedupe table is a real
// local DynamoDB (dynalite), fresh per test, so every customer here is new.

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:c360-alerts';
const FRAUD_ATTRIBUTES = {
  kind: { DataType: 'String', StringValue: 'fraud' },
  severity: { DataType: 'String', StringValue: 'high' },
};
const CHURN_ATTRIBUTES = {
  kind: { DataType: 'String', StringValue: 'churn_risk' },
  severity: { DataType: 'String', StringValue: 'medium' },
};

const sns = mockClient(SNSClient);
let local: LocalDynamoDb;
let dynamodb: DynamoDBDocumentClient;
let deps: RaiseAlertsDeps;
let tables = 0;

beforeAll(async () => {
  local = await LocalDynamoDb.start();
  dynamodb = DynamoDBDocumentClient.from(local.client());
});
afterAll(async () => {
  dynamodb.destroy();
  await local.stop();
});
beforeEach(async () => {
  sns.reset();
  let n = 0;
  sns.on(PublishCommand).callsFake(async () => {
    n += 1;
    return { MessageId: `m-${n}` };
  });
  tables += 1;
  const tableName = `alerts-${tables}`;
  await ensureAlertsTable(local.client(), tableName);
  deps = {
    sns: new SNSClient({ region: 'eu-west-1' }),
    topicArn: TOPIC,
    dynamodb,
    tableName,
    windowDays: 14,
    fraudBatchThreshold: 2,
    now: () => new Date('2026-03-10T03:00:00Z'),
  };
});

const publishInputs = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);

describe('raiseAlerts publishes', () => {
  it('one message for one new fraud flag: subject, JSON body and filterable attributes', async () => {
    const result = await raiseAlerts(
      {
        runDate: '2026-03-10',
        runId: 'r1',
        fraudFlags: [
          {
            customerId: '101',
            reasons: 'distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00',
            flaggedAt: '2026-03-10T02:00:00Z',
          },
        ],
        atRisk: [],
      },
      deps,
    );
    const expected = {
      TopicArn: TOPIC,
      Subject: 'Customer 360: fraud flag for customer 101 (2026-03-10)',
      // Written out by hand, key order included: subscribers may read the raw text.
      Message:
        '{"kind":"fraud","severity":"high","runDate":"2026-03-10","runId":"r1","count":1,"customers":[' +
        '{"customerId":"101","reasons":"distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00","flaggedAt":"2026-03-10T02:00:00Z"}]}',
      MessageAttributes: FRAUD_ATTRIBUTES,
    };
    expect(sns).toHaveReceivedCommandExactlyOnceWith(PublishCommand, expected);
    expect(publishInputs()).toEqual([expected]);
    expect(result).toEqual({
      published: [{ kind: 'fraud', customers: ['101'], messageId: 'm-1' }],
      suppressed: 0,
    });
  });

  it('one message per flag at the threshold (2), one batched message above it (3)', async () => {
    const flag = (id: string) => ({
      customerId: id,
      reasons: 'failed_logins 12 > 10; orders_in_window 9 > 6',
    });
    await raiseAlerts(
      { runDate: '2026-03-10', runId: 'r1', fraudFlags: [flag('1'), flag('2')], atRisk: [] },
      deps,
    );
    expect(publishInputs().map((i) => i.Subject)).toEqual([
      'Customer 360: fraud flag for customer 1 (2026-03-10)',
      'Customer 360: fraud flag for customer 2 (2026-03-10)',
    ]);

    sns.resetHistory();
    const result = await raiseAlerts(
      { runDate: '2026-03-10', runId: 'r1', fraudFlags: [flag('3'), flag('4'), flag('5')], atRisk: [] },
      deps,
    );
    const entry = (id: string) =>
      `{"customerId":"${id}","reasons":"failed_logins 12 > 10; orders_in_window 9 > 6"}`;
    expect(publishInputs()).toEqual([
      {
        TopicArn: TOPIC,
        Subject: 'Customer 360: 3 new fraud flags (2026-03-10)',
        Message: `{"kind":"fraud","severity":"high","runDate":"2026-03-10","runId":"r1","count":3,"customers":[${entry('3')},${entry('4')},${entry('5')}]}`,
        MessageAttributes: FRAUD_ATTRIBUTES,
      },
    ]);
    expect(result.published).toEqual([{ kind: 'fraud', customers: ['3', '4', '5'], messageId: 'm-3' }]);
  });

  it('one churn-risk message per run with every new high-value customer at risk', async () => {
    const result = await raiseAlerts(
      {
        runDate: '2026-03-10',
        runId: 'r1',
        fraudFlags: [],
        atRisk: [
          { customerId: '201', churnProbability: 0.82, lifetimeValue: 1520.5 },
          { customerId: '202', churnProbability: 0.71, lifetimeValue: 980 },
        ],
      },
      deps,
    );
    const expected = {
      TopicArn: TOPIC,
      Subject: 'Customer 360: 2 high-value customers at churn risk (2026-03-10)',
      Message:
        '{"kind":"churn_risk","severity":"medium","runDate":"2026-03-10","runId":"r1","count":2,"customers":[' +
        '{"customerId":"201","churnProbability":0.82,"lifetimeValue":1520.5},' +
        '{"customerId":"202","churnProbability":0.71,"lifetimeValue":980}]}',
      MessageAttributes: CHURN_ATTRIBUTES,
    };
    expect(sns).toHaveReceivedCommandExactlyOnceWith(PublishCommand, expected);
    expect(publishInputs()).toEqual([expected]);
    expect(result.published).toEqual([{ kind: 'churn_risk', customers: ['201', '202'], messageId: 'm-1' }]);
  });

  it('nothing at all when there is nothing new', async () => {
    expect(
      await raiseAlerts({ runDate: '2026-03-10', runId: 'r1', fraudFlags: [], atRisk: [] }, deps),
    ).toEqual({
      published: [],
      suppressed: 0,
    });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
  });

  it('a subject stays under 100 characters with a long customer id', async () => {
    const id = 'x'.repeat(64);
    await raiseAlerts(
      {
        runDate: '2026-03-10',
        runId: 'r1',
        fraudFlags: [{ customerId: id, reasons: 'distinct_ips 7 > 5' }],
        atRisk: [],
      },
      deps,
    );
    expect(publishInputs()[0]?.Subject).toBe('Customer 360: fraud flag (2026-03-10)');
    expect(JSON.parse(publishInputs()[0]?.Message ?? '{}').customers[0].customerId).toBe(id);
  });
});

describe('what an alert may carry', () => {
  const base = { runDate: '2026-03-10', runId: 'r1', fraudFlags: [], atRisk: [] };

  it('refuses an email or an IP address as a customer id, without echoing it', () => {
    for (const customerId of ['ann@example.com', '203.0.113.9']) {
      const check = () =>
        checkAlertsInput({ ...base, atRisk: [{ customerId, churnProbability: 0.9, lifetimeValue: 1 }] });
      expect(check).toThrow(
        'alerts input.atRisk[0].customerId: expected a customer id of 1-64 letters, digits, _, : or -',
      );
      expect(check).not.toThrow(customerId);
    }
  });

  it('accepts flag_reasons as the fraud mart writes them, refuses free text', () => {
    const reasons = (r: string) => () =>
      checkAlertsInput({ ...base, fraudFlags: [{ customerId: '1', reasons: r }] });
    expect(
      reasons('distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00; orders_in_window 9 > 6'),
    ).not.toThrow();
    expect(reasons('high_value_order 2400.00 > 1.0E3')).not.toThrow();
    for (const bad of ['login from 203.0.113.9 > 5', 'distinct_ips 7 > 5; email ann@example.com', '']) {
      expect(reasons(bad)).toThrow(
        "alerts input.fraudFlags[0].reasons: expected fraud_flags.flag_reasons as '<signal> <figure> > <threshold>' joined by '; '",
      );
    }
  });

  it('refuses a negative batch threshold by name', async () => {
    await expect(raiseAlerts(base, { ...deps, fraudBatchThreshold: -1 })).rejects.toThrow(
      'alerts fraud batch threshold: got -1; expected a whole number of flags, 0 or more',
    );
  });
});

describe('batches too large for one SNS message', () => {
  it('are split into parts that each fit the byte budget, in order, nothing lost', () => {
    // 3000 entries of about 100 bytes each (about 300 KB) cannot fit 200,000 bytes: two parts.
    const entries = Array.from({ length: 3000 }, (_, i) => ({
      customerId: String(100_000 + i),
      reasons: 'distinct_ips 17 > 5; login_attempts 240 > 50; high_value_order 12400.00 > 1000.00',
    }));
    const input = { runDate: '2026-03-10', runId: 'r1' };
    const chunks = splitBySize(entries, (chunk) =>
      alertMessage('fraud', chunk, input, { part: 99, parts: 99 }),
    );
    expect(chunks).toHaveLength(2);
    expect(chunks.flat()).toEqual(entries);
    chunks.forEach((chunk, i) => {
      const message = alertMessage('fraud', chunk, input, { part: i + 1, parts: 2 });
      expect(Buffer.byteLength(message, 'utf8')).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(JSON.parse(message)).toMatchObject({ part: i + 1, parts: 2, count: chunk.length });
    });
    // A batch that fits is one part, and its message carries no part figures.
    expect(splitBySize(entries.slice(0, 10), (c) => alertMessage('fraud', c, input))).toHaveLength(1);
    expect(
      JSON.parse(alertMessage('fraud', entries.slice(0, 1), input, { part: 1, parts: 1 })),
    ).not.toHaveProperty('part');
  });
});
