import { MessageRejected, SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { composeDigest, type DigestInput, sendDigest } from '../lib/alerts/digest.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { ensureAlertsTable } from '../lib/local/notifications.js';
import './helpers/alerts.js';

// The digest's exact SES v2 SendEmail request (SES is mocked: no local implementation). Expected texts
// are written out by hand from the input below.

const input: DigestInput = {
  runDate: '2026-03-10',
  runId: 'r1',
  dataQuality: { passed: true, failedChecks: 0, warnings: 2 },
  segments: [
    { segment: 'Champions', customers: 120, previousCustomers: 115 },
    { segment: 'At Risk', customers: 40, previousCustomers: 47 },
    { segment: 'Loyal', customers: 60, previousCustomers: 60 },
    { segment: 'Big <spenders> & "friends"', customers: 3, previousCustomers: null },
  ],
  topAtRisk: [{ customerId: '201', churnProbability: 0.82, lifetimeValue: 1520.5 }],
  fraudFlags: [{ customerId: '101', reasons: 'distinct_ips 7 > 5' }],
  dashboardLinks: [
    { label: 'Overview', url: 'https://eu-west-1.quicksight.aws.amazon.com/sn/dashboards/c360?a=1&b=2' },
  ],
};

const SUBJECT = 'Customer 360 digest 2026-03-10: data quality passed, 1 fraud flag, 1 high-value at risk';

const TEXT = `Customer 360 run digest
Run date: 2026-03-10 (run r1)

Data quality: passed (0 failed checks, 2 warnings)

Customers by segment (change since the last run)
  Champions: 120 (+5)
  At Risk: 40 (-7)
  Loyal: 60 (no change)
  Big <spenders> & "friends": 3 (new)

Top high-value customers at churn risk
  customer 201: lifetime value 1520.50, churn probability 82.0%

Fraud flags (1)
  customer 101: distinct_ips 7 > 5

Dashboards
  Overview: https://eu-west-1.quicksight.aws.amazon.com/sn/dashboards/c360?a=1&b=2
`;

const HTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${SUBJECT}</title></head><body>
<h1>Customer 360 run digest</h1>
<p>Run date: 2026-03-10 (run r1)</p>
<p>Data quality: passed (0 failed checks, 2 warnings)</p>
<h2>Customers by segment</h2>
<table>
<tr><th>Segment</th><th>Customers</th><th>Change since the last run</th></tr>
<tr><td>Champions</td><td>120</td><td>+5</td></tr>
<tr><td>At Risk</td><td>40</td><td>-7</td></tr>
<tr><td>Loyal</td><td>60</td><td>no change</td></tr>
<tr><td>Big &lt;spenders&gt; &amp; &quot;friends&quot;</td><td>3</td><td>new</td></tr>
</table>
<h2>Top high-value customers at churn risk</h2>
<table>
<tr><th>Customer</th><th>Lifetime value</th><th>Churn probability</th></tr>
<tr><td>201</td><td>1520.50</td><td>82.0%</td></tr>
</table>
<h2>Fraud flags (1)</h2>
<table>
<tr><th>Customer</th><th>Reasons</th></tr>
<tr><td>101</td><td>distinct_ips 7 &gt; 5</td></tr>
</table>
<h2>Dashboards</h2>
<ul>
<li><a href="https://eu-west-1.quicksight.aws.amazon.com/sn/dashboards/c360?a=1&amp;b=2">Overview</a></li>
</ul>
</body></html>
`;

const ses = mockClient(SESv2Client);
const deps = {
  ses: new SESv2Client({ region: 'eu-west-1' }),
  from: 'digest@example.com',
  to: ['ops@example.com', 'marketing@example.com'],
};

beforeEach(() => {
  ses.reset();
  ses.on(SendEmailCommand).resolves({ MessageId: 'ses-1' });
});

describe('composeDigest', () => {
  it('writes both parts from the figures, escaping every value in the HTML', () => {
    expect(composeDigest(input)).toEqual({ subject: SUBJECT, html: HTML, text: TEXT });
  });

  it('says FAILED and none for empty sections', () => {
    const digest = composeDigest({
      ...input,
      dataQuality: { passed: false, failedChecks: 1, warnings: 0 },
      segments: [],
      topAtRisk: [],
      fraudFlags: [],
      dashboardLinks: [],
    });
    expect(digest.subject).toBe(
      'Customer 360 digest 2026-03-10: data quality FAILED, 0 fraud flags, 0 high-value at risk',
    );
    expect(digest.text).toContain('Data quality: FAILED (1 failed check, 0 warnings)\n');
    expect(digest.text).toContain('Fraud flags (0)\n  none\n');
    expect(digest.html).toContain('<h2>Fraud flags (0)</h2>\n<p>None.</p>');
  });

  it('refuses a dashboard link that is not a web address', () => {
    expect(() =>
      composeDigest({ ...input, dashboardLinks: [{ label: 'Sales', url: 'javascript:alert(1)' }] }),
    ).toThrow('digest dashboard link "Sales": got "javascript:alert(1)"; expected an http(s) URL');
  });
});

describe('sendDigest', () => {
  it('sends one SES v2 email with the sender, the recipients, the subject and both parts', async () => {
    expect(await sendDigest(input, deps)).toEqual({ messageId: 'ses-1' });
    const expected = {
      FromEmailAddress: 'digest@example.com',
      Destination: { ToAddresses: ['ops@example.com', 'marketing@example.com'] },
      Content: {
        Simple: {
          Subject: { Data: SUBJECT, Charset: 'UTF-8' },
          Body: { Html: { Data: HTML, Charset: 'UTF-8' }, Text: { Data: TEXT, Charset: 'UTF-8' } },
        },
      },
    };
    expect(ses).toHaveReceivedCommandExactlyOnceWith(SendEmailCommand, expected);
    expect(ses.commandCalls(SendEmailCommand).map((c) => c.args[0].input)).toEqual([expected]);
  });

  it('turns an unverified identity into an error that names it and says how to verify it', async () => {
    // SES's own wording (Amazon SES developer guide, "Amazon SES email sending errors").
    const said =
      'Email address is not verified. The following identities failed the check in region EU-WEST-1: ops@example.com';
    ses.on(SendEmailCommand).rejects(new MessageRejected({ message: said, $metadata: {} }));
    const error = await sendDigest(input, deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      'SES rejected the digest: ops@example.com is not verified in SES region EU-WEST-1. Verify each identity ' +
        'in that region (aws sesv2 create-email-identity --email-identity <address>, or the SES console under ' +
        'Identities) and open the confirmation link SES sends to it. While the account is in the SES sandbox, ' +
        'every recipient must be verified too, not only the sender; request production access to lift that. ' +
        `SES said: ${said}`,
    );
    expect((error as Error).cause).toBeInstanceOf(MessageRejected);
  });

  it('names the configured sender and recipients when SES does not list the identities', async () => {
    ses
      .on(SendEmailCommand)
      .rejects(new MessageRejected({ message: 'Email address is not verified.', $metadata: {} }));
    await expect(sendDigest(input, deps)).rejects.toThrow(
      'SES rejected the digest: an identity is not verified: the sender digest@example.com (alerts.senderEmail) ' +
        'or a recipient among ops@example.com, marketing@example.com (alerts.emailRecipients). Verify each identity',
    );
  });

  it('passes any other rejection through unchanged', async () => {
    const other = new MessageRejected({ message: 'Illegal address', $metadata: {} });
    ses.on(SendEmailCommand).rejects(other);
    await expect(sendDigest(input, deps)).rejects.toBe(other);
  });

  it('refuses no recipients, or more than SES takes in one message, by config key', async () => {
    await expect(sendDigest(input, { ...deps, to: [] })).rejects.toThrow(
      'alerts.emailRecipients: empty; expected at least one recipient for the digest',
    );
    const many = Array.from({ length: 51 }, (_, i) => `r${i}@example.com`);
    await expect(sendDigest(input, { ...deps, to: many })).rejects.toThrow(
      'alerts.emailRecipients: got 51 addresses; expected at most 50 (SES v2 recipients per message)',
    );
    expect(ses).toHaveReceivedCommandTimes(SendEmailCommand, 0);
  });
});

describe('sendDigest with the dedupe table (dynalite)', () => {
  it('sends a run date once across retries, and again after a failed attempt', async () => {
    const local = await LocalDynamoDb.start();
    const dynamodb = DynamoDBDocumentClient.from(local.client());
    try {
      await ensureAlertsTable(local.client(), 'alerts-sent');
      const dedupe = {
        dynamodb,
        tableName: 'alerts-sent',
        windowDays: 7,
        now: () => new Date('2026-03-10T03:00:00Z'),
      };
      // SES fails once: nothing was sent, the item stays pending, the retry sends.
      ses.on(SendEmailCommand).rejectsOnce(new Error('SES throttled')).resolves({ MessageId: 'ses-2' });
      await expect(sendDigest(input, { ...deps, dedupe })).rejects.toThrow('SES throttled');
      expect(await sendDigest(input, { ...deps, dedupe })).toEqual({ messageId: 'ses-2' });
      // A retry after SES accepted it (the task timed out afterwards) sends nothing.
      expect(await sendDigest(input, { ...deps, dedupe })).toEqual({ messageId: '', skipped: true });
      expect(ses).toHaveReceivedCommandTimes(SendEmailCommand, 2);
      const item = await dynamodb.send(
        new GetCommand({ TableName: 'alerts-sent', Key: { alert_key: 'digest#2026-03-10' } }),
      );
      expect(item.Item).toMatchObject({ status: 'sent', run_id: 'r1', sent_at: '2026-03-10T03:00:00.000Z' });
    } finally {
      dynamodb.destroy();
      await local.stop();
    }
  });
});
