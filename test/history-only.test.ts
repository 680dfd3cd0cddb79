import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The README's "Try it on your own order history", done as it says: a customer_id,order_date,
 * quantity,amount CSV in a folder, the README's configuration, `c360 run --history-dir DIR`, with no
 * MySQL and no DynamoDB running. Then the same files with the default configuration, where both
 * sources are on but not given: the gate stops the run and says which checks failed and why.
 */
const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'c360-history-only-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const c360 = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(root, 'bin', 'c360.ts'), ...args], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, FORCE_COLOR: '0' },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

// The README's configuration, word for word.
const CONFIG = {
  sources: {
    mysql: { enabled: false },
    dynamodb: { enabled: false },
    history: {
      columns: { customer: 'customer_id', orderDate: 'order_date', quantity: 'quantity', amount: 'amount' },
      legacyIdPattern: null,
    },
  },
};

/*
 * Four customers, nine orders, all before the run date 2024-06-30. By hand: customers C1..C4;
 * revenue C1 10.00 + 20.50 + 5.25 = 35.75, C2 100.00 + 0.99 = 100.99, C3 42.00, C4 1.00 + 2.00 + 3.00
 * = 6.00; total 184.74.
 */
const CSV = [
  'customer_id,order_date,quantity,amount',
  'C1,2024-01-05,1,10.00',
  'C1,2024-03-10,2,20.50',
  'C1,2024-06-20,1,5.25',
  'C2,2023-11-30,4,100.00',
  'C2,2024-06-01,1,0.99',
  'C3,2024-02-14,1,42.00',
  'C4,2024-04-01,1,1.00',
  'C4,2024-05-01,1,2.00',
  'C4,2024-06-28,1,3.00',
].join('\n');

describe('history-only onboarding, as the README shows it', () => {
  const historyDir = join(tmp, 'my-orders');
  mkdirSync(historyDir);
  writeFileSync(join(historyDir, 'orders.csv'), `${CSV}\n`);
  const configFile = join(tmp, 'customer360.config.json');
  writeFileSync(configFile, JSON.stringify(CONFIG, null, 2));

  it('runs on the order history alone and publishes customer_360', async () => {
    const workspace = join(tmp, 'w');
    const result = await c360(
      'run',
      '--date',
      '2024-06-30',
      '--full',
      '--config',
      configFile,
      '--workspace',
      workspace,
      '--history-dir',
      historyDir,
    );
    expect(result.stderr + result.stdout).toContain('SUCCEEDED run 2024-06-30');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`History files from ${historyDir}`);
    expect(result.stdout).toMatch(/- Extract mysql +disabled: sources\.mysql\.enabled is false/);
    expect(result.stdout).toMatch(/- Extract dynamodb +disabled: sources\.dynamodb\.enabled is false/);
    expect(result.stdout).not.toMatch(/✓ Extract (mysql|dynamodb)/);

    const query = await c360(
      'query',
      '--workspace',
      workspace,
      '--format',
      'csv',
      'select count(*) as customers, cast(sum(lifetime_revenue) as decimal(14, 2)) as revenue from analytics.customer_360_latest',
    );
    expect(query.stderr).toBe('');
    expect(query.stdout.trim().split(/\r?\n/)).toEqual(['customers,revenue', '4,184.74']);
    const checks = await c360(
      'query',
      '--workspace',
      workspace,
      '--format',
      'csv',
      "select check_name, subject from analytics.data_quality_latest where check_name in ('freshness_days', 'source_disabled') order by all",
    );
    expect(checks.stdout.trim().split(/\r?\n/)).toEqual([
      'check_name,subject',
      'source_disabled,dynamodb',
      'source_disabled,mysql',
    ]);
  }, 600_000);

  it('stops at the gate when MySQL and DynamoDB are on but not given, naming each failed check', async () => {
    const defaults = join(tmp, 'defaults.config.json');
    // the same history mapping, the sources left on (the default)
    writeFileSync(defaults, JSON.stringify({ sources: { history: CONFIG.sources.history } }));
    const result = await c360(
      'run',
      '--date',
      '2024-06-30',
      '--full',
      '--config',
      defaults,
      '--workspace',
      join(tmp, 'w2'),
      '--history-dir',
      historyDir,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('MySQL: not given (--mysql-host ...): not extracted');
    // skipped, and why: not a green 0.0 s
    expect(result.stdout).toMatch(/- Extract mysql +skipped: no MySQL server given \(c360 run --mysql-host/);
    expect(result.stdout).toMatch(/- Extract dynamodb +skipped: no DynamoDB table given/);
    expect(result.stdout).not.toMatch(/✓ Extract (mysql|dynamodb)/);
    expect(result.stdout).toContain('Failed blocking checks');
    // no change time at all: a null value against the 3-day limit
    expect(result.stdout).toContain(
      'freshness_days / mysql: value none, threshold 3 (no parseable change time up to the run date in raw.mysql_orders and raw.mysql_customers)',
    );
    expect(result.stdout).toContain('freshness_days / dynamodb: value none, threshold 3');
    expect(result.stdout).not.toMatch(/check_name \/ subject/);

    // The SNS notification (the local outbox): the header row is `columns`, never a failed check.
    const notices = readFileSync(join(tmp, 'w2', 'outbox.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { message: Record<string, unknown> })
      .filter((n) => n.message.event === 'quality_gate_failed');
    expect(notices).toHaveLength(1);
    const message = notices[0]?.message as {
      columns: string[];
      failedChecks: { Data: { VarCharValue?: string }[] }[];
    };
    expect(message.columns).toEqual(['check_name', 'subject', 'metric_value', 'threshold', 'detail']);
    expect(message.failedChecks.map((row) => row.Data.slice(0, 2).map((c) => c.VarCharValue))).toEqual([
      ['freshness_days', 'dynamodb'],
      ['freshness_days', 'mysql'],
    ]);
  }, 600_000);
});
