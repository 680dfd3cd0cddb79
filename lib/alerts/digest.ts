import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { escapeHtml } from '../html.js';
import { alertKey, claim, type DedupeContext, markSent } from './dedupe.js';
import type { AtRiskCustomer, FraudFlag } from './raise.js';

/**
 * The run digest: one email per full run to the configured recipients, with an HTML and a plain-text
 * part. Like the alerts it carries ids and figures only. Every value that reaches the HTML is escaped
 * (segment names come from configuration and models, and a `<` must show as a `<`, not open a tag).
 */

export interface DigestInput {
  readonly runDate: string;
  readonly runId: string;
  readonly dataQuality: {
    readonly passed: boolean;
    readonly failedChecks: number;
    readonly warnings: number;
  };
  /** Customers per segment in this run and in the last published run (null: the segment is new). */
  readonly segments: readonly {
    readonly segment: string;
    readonly customers: number;
    readonly previousCustomers: number | null;
  }[];
  /** High-value customers at churn risk, already ordered and limited by the caller. */
  readonly topAtRisk: readonly AtRiskCustomer[];
  readonly fraudFlags: readonly FraudFlag[];
  readonly dashboardLinks: readonly { readonly label: string; readonly url: string }[];
}

export interface Digest {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

export interface SendDigestDeps {
  readonly ses: SESv2Client;
  /** `alerts.senderEmail`: a verified SES identity. */
  readonly from: string;
  /** `alerts.emailRecipients`. */
  readonly to: readonly string[];
  /**
   * The alerts dedupe table, to send a run date's digest once even when the task is retried after SES
   * accepted it (item `digest#<runDate>`, same protocol as the alerts: at least once, never lost).
   * @default no dedupe: every call sends
   */
  readonly dedupe?: Omit<DedupeContext, 'runDate' | 'runId'>;
}

export interface SendDigestResult {
  /** SES's message id; empty when the digest was skipped. */
  readonly messageId: string;
  /** True when this run date's digest was already sent within the dedupe window. */
  readonly skipped?: boolean;
}

/** SES v2 takes at most 50 recipients per message (To, Cc and Bcc together). */
export const MAX_RECIPIENTS = 50;

function change(current: number, previous: number | null): string {
  if (previous === null) return 'new';
  const delta = current - previous;
  if (delta === 0) return 'no change';
  return delta > 0 ? `+${delta}` : `${delta}`;
}

function money(value: number): string {
  return value.toFixed(2);
}

function percent(probability: number): string {
  return `${(probability * 100).toFixed(1)}%`;
}

function qualityLine(q: DigestInput['dataQuality']): string {
  return `${q.passed ? 'passed' : 'FAILED'} (${q.failedChecks} failed ${q.failedChecks === 1 ? 'check' : 'checks'}, ${q.warnings} ${q.warnings === 1 ? 'warning' : 'warnings'})`;
}

/** Only web links: a `javascript:` or `data:` URL in a dashboard link would run in a mail client. */
function checkLink(link: { label: string; url: string }): void {
  let protocol: string;
  try {
    protocol = new URL(link.url).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'https:' && protocol !== 'http:') {
    throw new Error(
      `digest dashboard link "${link.label}": got ${JSON.stringify(link.url)}; expected an http(s) URL`,
    );
  }
}

export function composeDigest(input: DigestInput): Digest {
  for (const link of input.dashboardLinks) checkLink(link);
  const q = input.dataQuality;
  const subject =
    `Customer 360 digest ${input.runDate}: data quality ${q.passed ? 'passed' : 'FAILED'}, ` +
    `${input.fraudFlags.length} fraud ${input.fraudFlags.length === 1 ? 'flag' : 'flags'}, ` +
    `${input.topAtRisk.length} high-value at risk`;

  const text = [
    'Customer 360 run digest',
    `Run date: ${input.runDate} (run ${input.runId})`,
    '',
    `Data quality: ${qualityLine(q)}`,
    '',
    'Customers by segment (change since the last run)',
    ...(input.segments.length === 0
      ? ['  none']
      : input.segments.map(
          (s) => `  ${s.segment}: ${s.customers} (${change(s.customers, s.previousCustomers)})`,
        )),
    '',
    'Top high-value customers at churn risk',
    ...(input.topAtRisk.length === 0
      ? ['  none']
      : input.topAtRisk.map(
          (c) =>
            `  customer ${c.customerId}: lifetime value ${money(c.lifetimeValue)}, churn probability ${percent(c.churnProbability)}`,
        )),
    '',
    `Fraud flags (${input.fraudFlags.length})`,
    ...(input.fraudFlags.length === 0
      ? ['  none']
      : input.fraudFlags.map((f) => `  customer ${f.customerId}: ${f.reasons}`)),
    '',
    'Dashboards',
    ...(input.dashboardLinks.length === 0
      ? ['  none']
      : input.dashboardLinks.map((l) => `  ${l.label}: ${l.url}`)),
    '',
  ].join('\n');

  const e = escapeHtml;
  const rows = (cells: readonly string[][]) =>
    cells.map((r) => `<tr>${r.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`).join('\n');
  const table = (head: readonly string[], body: readonly string[][]) =>
    body.length === 0
      ? '<p>None.</p>'
      : `<table>\n<tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr>\n${rows(body as string[][])}\n</table>`;

  const html = [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${e(subject)}</title></head><body>`,
    '<h1>Customer 360 run digest</h1>',
    `<p>Run date: ${e(input.runDate)} (run ${e(input.runId)})</p>`,
    `<p>Data quality: ${e(qualityLine(q))}</p>`,
    '<h2>Customers by segment</h2>',
    table(
      ['Segment', 'Customers', 'Change since the last run'],
      input.segments.map((s) => [s.segment, String(s.customers), change(s.customers, s.previousCustomers)]),
    ),
    '<h2>Top high-value customers at churn risk</h2>',
    table(
      ['Customer', 'Lifetime value', 'Churn probability'],
      input.topAtRisk.map((c) => [c.customerId, money(c.lifetimeValue), percent(c.churnProbability)]),
    ),
    `<h2>Fraud flags (${input.fraudFlags.length})</h2>`,
    table(
      ['Customer', 'Reasons'],
      input.fraudFlags.map((f) => [f.customerId, f.reasons]),
    ),
    '<h2>Dashboards</h2>',
    input.dashboardLinks.length === 0
      ? '<p>None.</p>'
      : `<ul>\n${input.dashboardLinks.map((l) => `<li><a href="${e(l.url)}">${e(l.label)}</a></li>`).join('\n')}\n</ul>`,
    '</body></html>',
    '',
  ].join('\n');

  return { subject, html, text };
}

/**
 * Sends the digest with SES v2. SES answers an unverified sender, or in the sandbox an unverified
 * recipient, with `MessageRejected` and "Email address is not verified. The following identities failed
 * the check in region REGION: identity, ..."; that becomes an error naming the identities and how to
 * verify them.
 */
export async function sendDigest(input: DigestInput, deps: SendDigestDeps): Promise<SendDigestResult> {
  if (deps.to.length === 0) {
    throw new Error('alerts.emailRecipients: empty; expected at least one recipient for the digest');
  }
  if (deps.to.length > MAX_RECIPIENTS) {
    throw new Error(
      `alerts.emailRecipients: got ${deps.to.length} addresses; expected at most ${MAX_RECIPIENTS} (SES v2 recipients per message)`,
    );
  }
  const digest = composeDigest(input);
  const ctx = deps.dedupe && { ...deps.dedupe, runDate: input.runDate, runId: input.runId };
  const key = alertKey('digest', input.runDate);
  if (ctx !== undefined && (await claim([key], ctx)).suppressed.length > 0) {
    return { messageId: '', skipped: true };
  }
  let messageId: string;
  try {
    const result = await deps.ses.send(
      new SendEmailCommand({
        FromEmailAddress: deps.from,
        Destination: { ToAddresses: [...deps.to] },
        Content: {
          Simple: {
            Subject: { Data: digest.subject, Charset: 'UTF-8' },
            Body: {
              Html: { Data: digest.html, Charset: 'UTF-8' },
              Text: { Data: digest.text, Charset: 'UTF-8' },
            },
          },
        },
      }),
    );
    messageId = result.MessageId ?? '';
  } catch (error) {
    throw explainSesError(error, deps) ?? error;
  }
  if (ctx !== undefined) await markSent([key], ctx);
  return { messageId };
}

/** A clear error for the SES failures an operator fixes by configuration; undefined for the others. */
export function explainSesError(
  error: unknown,
  deps: Pick<SendDigestDeps, 'from' | 'to'>,
): Error | undefined {
  const { name, message } = error as { name?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (name === 'MessageRejected' && /not verified/i.test(text)) {
    const listed = /failed the check in region ([^:]+):\s*(.+)$/i.exec(text.trim());
    const region = listed?.[1]?.trim();
    const identities = listed?.[2]
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const named =
      identities !== undefined && identities.length > 0
        ? `${identities.join(', ')} ${identities.length === 1 ? 'is' : 'are'} not verified${region ? ` in SES region ${region}` : ''}`
        : `an identity is not verified: the sender ${deps.from} (alerts.senderEmail) or a recipient among ${deps.to.join(', ')} (alerts.emailRecipients)`;
    return new Error(
      `SES rejected the digest: ${named}. Verify each identity in that region (aws sesv2 create-email-identity --email-identity <address>, or the SES console under Identities) and open the confirmation link SES sends to it. While the account is in the SES sandbox, every recipient must be verified too, not only the sender; request production access to lift that. SES said: ${text}`,
      { cause: error },
    );
  }
  if (name === 'MailFromDomainNotVerifiedException') {
    return new Error(
      `SES rejected the digest: the custom MAIL FROM domain of ${deps.from} (alerts.senderEmail) is not verified (SES could not read its MX record). Fix the MAIL FROM DNS records or remove the custom MAIL FROM domain. SES said: ${text}`,
      { cause: error },
    );
  }
  return undefined;
}
