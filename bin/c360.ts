#!/usr/bin/env -S node --import tsx
import { existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ConfigError, loadConfig } from '../lib/config/load.js';
import type { Customer360Config } from '../lib/config/schema.js';
import { estimateRunCost } from '../lib/cost/index.js';
import { ErasureError } from '../lib/erase/core.js';
import { eraseLocally, erasureLogFile, republishInput } from '../lib/erase/local.js';
import { demoInterrupted, runDemo } from '../lib/local/demo.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import type { MysqlSource } from '../lib/local/extract-mysql.js';
import { ensureAlertsTable, LOCAL_ALERTS_TABLE } from '../lib/local/notifications.js';
import { type LocalRunOptions, type LocalSources, runPipelineLocally } from '../lib/local/pipeline-runner.js';
import {
  listRuns,
  lockWorkspace,
  openWorkspaceEngine,
  type Workspace,
  WorkspaceBusyError,
  workspaceAt,
} from '../lib/local/workspace.js';
import { NoPublishedRunError, writeReport } from '../lib/report/index.js';

const USAGE = `c360: Customer 360 on this machine

Usage:
  c360 demo [--customers N] [--seed S] [--workspace DIR]
      Starts a throwaway MariaDB and a local DynamoDB, generates a data set, runs the whole pipeline
      (the state machine CDK deploys, run locally) and prints where everything is. Above 10,000
      customers the interactions are written as a DynamoDB table export instead of loaded into the
      local DynamoDB (it is slow at that size), and the extraction reads the export.
  c360 run [--date YYYY-MM-DD [--full [--force]] [--rebuild]] [--config FILE] [--workspace DIR]
           [--history-dir DIR] [--mysql-host H --mysql-port P --mysql-user U --mysql-password W
           --mysql-database D] [--dynamodb-endpoint URL [--dynamodb-table T]] [--bedrock]
      Runs the state machine over the workspace's lake. Without --date it is the daily run for
      today: extract (from the sources the run can reach: the history files in --history-dir,
      default DIR/history of the workspace; MySQL and DynamoDB only when given with the options
      above, the generator's names, else they are skipped and the run says so; a source switched
      off in the configuration, sources.<name>.enabled false, is not extracted at all), stage from the
      last published snapshot plus the raw data landed since, publish. --date D alone computes D from
      the snapshot published before D and publishes nothing (a backfill); --full also extracts and
      publishes, unless a newer date is already published (--force publishes it anyway). --rebuild
      stages from all of raw instead of a snapshot (a repair; with --full it republishes). Each run
      writes its own run_id; readers see a run only once it publishes. One run at a time per workspace.
      Alerts and the digest go to the outbox (DIR/outbox.jsonl), each customer once per window (the
      sent alerts are kept in DIR/alerts-db); segment summaries are the template unless --bedrock,
      which calls Bedrock with the AWS credentials in the environment.
  c360 query "SQL" [--format table|csv|json] [--out FILE] [--workspace DIR]
      Runs SQL on DuckDB over the lake: raw.*, stage.*, analytics.* and the *_latest views (what is
      published). Base tables hold every run: name one with run_date and run_id.
  c360 status [--workspace DIR]
      Lists the last local runs.
  c360 report [--out FILE] [--workspace DIR]
      Writes the report of the latest published run (default DIR/report.html): segments, RFM grid,
      churn, at-risk customers, CLV, K-Means clusters, fraud flags, revenue and products by month,
      engagement, data quality and the segment summaries, read from the same _latest and dashboard_*
      views the BI tools read. One self-contained HTML file (charts and data inlined): open it in a
      browser, no network needed. The demo writes it too.
  c360 erase --customer ID [--customer ID ...] | --email EMAIL [--requested-by WHO] [--reason TEXT]
           [--republish [--config FILE] [the source options of c360 run] [--bedrock]] [--workspace DIR]
      Erases customers everywhere in the workspace (a right-to-erasure request): resolves each id (or the
      email, through the published identity map) to every source key of theirs, puts those keys on the
      suppression list (stage.suppressed_keys) so later runs never stage them again, rewrites every
      Parquet file of every zone and run that holds a row of theirs without it, deletes their sent-alert
      items and the outbox messages that mention them, and appends one line to DIR/erasure-log.jsonl
      (who, when, which ids, how many rows; never an email or a name). --requested-by defaults to the OS
      user. Takes the workspace lock: not while a run is running. The published run keeps the other
      customers' scores (RFM quintiles, K-Means labels, models) computed with the erased ones in the
      population, and the next run compares with it; --republish then runs, under the same lock,
      c360 run --date D --rebuild --full for the latest published date D (with the source options given,
      as c360 run takes them): D is recomputed from raw without them and published. It costs a rebuild
      (a whole run from all of raw), so it is asked for, not the default; without it the command
      prints the run to start. See docs/operations.md.
  c360 cost [--run EXECUTION_NAME] [--customers N[,N...]] [--format table|json] [--workspace DIR]
      Estimates what a local run (default: the latest) costs on AWS (us-east-1), per run and per month
      at the configured schedule: at the measured size and at 1,000,000 and 10,000,000 customers (or
      the --customers given), from the bytes each Athena query would scan. See docs/operations.md.

Options:
  --workspace DIR   where the lake, outbox and run summaries live (default .c360)
`;

// The local tools talk to dynalite only; the SDK's notice about future Node versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: string[]): Promise<number> {
  // `c360 --help` and `c360 -h` are help, not a command named "--help".
  const [command, ...rest] = argv[0]?.startsWith('-') ? ['help', ...argv] : argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      workspace: { type: 'string', default: '.c360' },
      config: { type: 'string' },
      date: { type: 'string' },
      customers: { type: 'string' },
      seed: { type: 'string' },
      full: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      rebuild: { type: 'boolean', default: false },
      republish: { type: 'boolean', default: false },
      bedrock: { type: 'boolean', default: false },
      format: { type: 'string' },
      out: { type: 'string' },
      run: { type: 'string' },
      'history-dir': { type: 'string' },
      'mysql-host': { type: 'string' },
      'mysql-port': { type: 'string', default: '3306' },
      'mysql-user': { type: 'string' },
      'mysql-password': { type: 'string' },
      'mysql-database': { type: 'string', default: 'retail' },
      'dynamodb-endpoint': { type: 'string' },
      'dynamodb-table': { type: 'string' },
      customer: { type: 'string', multiple: true },
      email: { type: 'string', multiple: true },
      'requested-by': { type: 'string' },
      reason: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  const workspace = workspaceAt(values.workspace);
  switch (command) {
    case 'demo': {
      const customers = values.customers === undefined ? undefined : Number(values.customers);
      if (customers !== undefined && (!Number.isInteger(customers) || customers < 10)) {
        throw new UsageError(`--customers must be a whole number of at least 10, got "${values.customers}"`);
      }
      const summary = await runDemo({ workspace, customers, seed: values.seed, configFile: values.config });
      return summary.status === 'SUCCEEDED' ? 0 : 1;
    }
    case 'run': {
      if (values.date !== undefined && !isCalendarDate(values.date)) {
        throw new UsageError(`--date must be YYYY-MM-DD, got "${values.date}"`);
      }
      if (values.rebuild && values.date === undefined) {
        throw new UsageError('--rebuild repairs a given date: add --date YYYY-MM-DD');
      }
      const config = loadConfig(values.config);
      if (values.bedrock && !config.bedrock.enabled)
        throw new UsageError(
          '--bedrock asks for Bedrock summaries, but bedrock.enabled is false in the config',
        );
      const sources = runSources(values, workspace.historyDir, config);
      process.stdout.write(describeSources(sources, config, values['dynamodb-endpoint']));
      return withWorkspaceSession(workspace, `c360 ${argv.join(' ')}`, ({ instance, alertsClient }) =>
        runAndReport({
          config,
          workspace,
          instance,
          sources,
          alertsClient,
          bedrock: values.bedrock,
          input: values.date
            ? {
                runDate: values.date,
                ...(values.full ? { full: true } : {}),
                ...(values.force ? { force: true } : {}),
                ...(values.rebuild ? { rebuild: true } : {}),
              }
            : {},
        }),
      );
    }
    case 'query': {
      const sql = positionals.join(' ').trim();
      if (!sql)
        throw new UsageError(
          'query needs the SQL to run, for example: c360 query "select * from analytics.rfm_latest limit 5"',
        );
      const format = values.format ?? 'table';
      if (!['table', 'csv', 'json'].includes(format))
        throw new UsageError(`--format must be table, csv or json, got "${format}"`);
      const { instance, connection } = await openWorkspaceEngine(workspace);
      try {
        const reader = await connection.runAndReadAll(sql);
        const rows = reader.getRowObjectsJson();
        const text =
          format === 'json'
            ? `${JSON.stringify(rows, null, 2)}\n`
            : format === 'csv'
              ? toCsv(reader.columnNames(), rows)
              : undefined;
        if (text === undefined) console.table(rows);
        else if (values.out) writeFileSync(values.out, text);
        else process.stdout.write(text);
        return 0;
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
    }
    case 'status': {
      const runs = listRuns(workspace).slice(0, 10);
      if (runs.length === 0) {
        process.stdout.write(`No local runs in ${workspace.root} yet. Try: npm run demo\n`);
        return 0;
      }
      console.table(
        runs.map((r) => ({
          started: r.startedAt,
          run_date: r.runDate,
          status: r.status,
          seconds: Number(r.seconds.toFixed(1)),
          failed_at: r.failure?.state ?? '',
          untrusted_models: (r.models ?? [])
            .filter((m) => !m.isTrustworthy)
            .map((m) => `${m.model}/${m.cutoffRole}: ${m.status}`)
            .join(', '),
        })),
      );
      return 0;
    }
    case 'report': {
      const file = resolve(values.out ?? join(workspace.root, 'report.html'));
      const { instance, connection } = await openWorkspaceEngine(workspace);
      try {
        const report = await writeReport(connection, file);
        process.stdout.write(
          `Report of run ${report.data.run.run_date} (${report.data.run.run_id}) written to ${report.file}\nOpen it in a browser: ${report.url}\n`,
        );
        return 0;
      } catch (error) {
        if (!(error instanceof NoPublishedRunError)) throw error;
        process.stderr.write(`${error.message}\n`);
        return 1;
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
    }
    case 'cost': {
      const format = values.format ?? 'table';
      if (!['table', 'json'].includes(format))
        throw new UsageError(`--format must be table or json, got "${format}"`);
      const sizes = values.customers?.split(',').map((n) => Number(n.replaceAll('_', '')));
      if (sizes?.some((n) => !Number.isInteger(n) || n < 1))
        throw new UsageError(
          `--customers must be whole numbers separated by commas, got "${values.customers}"`,
        );
      const run = values.run ?? listRuns(workspace)[0]?.executionName;
      if (!run) throw new UsageError(`No local runs in ${workspace.root} to estimate. Try: npm run demo`);
      const { estimates, prices } = await estimateRunCost(
        join(workspace.runsDir, `${run}.json`),
        workspace.lake,
        { config: loadConfig(values.config), ...(sizes ? { customers: sizes } : {}) },
      );
      if (format === 'json') {
        process.stdout.write(`${JSON.stringify({ estimates, prices }, null, 2)}\n`);
        return 0;
      }
      for (const estimate of estimates) {
        process.stdout.write(
          `\n${estimate.mode} run ${estimate.executionName} at ${estimate.customers.toLocaleString('en-US')} customers (measured ${estimate.measuredCustomers.toLocaleString('en-US')}, x${estimate.scale.toFixed(1)}), ${estimate.runsPerMonth.toFixed(1)} runs a month\n`,
        );
        console.table(
          estimate.lines.map((l) => ({
            item: l.item,
            quantity: Number(l.quantity.toPrecision(4)),
            unit: l.unit,
            'unit price $': `${l.unitPrice} per ${l.priceUnit}`,
            [`cost $ per ${l.per}`]: Number(l.cost.toFixed(4)),
          })),
        );
        process.stdout.write(
          `Per run $${estimate.perRun.toFixed(4)}; per month $${estimate.perMonth.toFixed(2)} (storage included)\n`,
        );
      }
      process.stdout.write(
        '\nPrices: us-east-1, read 2026-12-02 (lib/cost/prices.ts). Free tiers not deducted.\n',
      );
      return 0;
    }
    case 'erase': {
      const customerIds = values.customer ?? [];
      const emails = values.email ?? [];
      if (customerIds.length + emails.length === 0)
        throw new UsageError('erase needs --customer ID (repeatable) or --email EMAIL');
      for (const id of customerIds)
        if (!/^-?\d{1,19}$/.test(id))
          throw new UsageError(`--customer must be a customer id (a whole number), got "${id}"`);
      // Options of the republish are checked before anything is erased, so a typo does not leave an
      // erasure done and its rebuild not started.
      const republish = values.republish
        ? (() => {
            const config = loadConfig(values.config);
            if (values.bedrock && !config.bedrock.enabled)
              throw new UsageError(
                '--bedrock asks for Bedrock summaries, but bedrock.enabled is false in the config',
              );
            return { config, sources: runSources(values, workspace.historyDir, config) };
          })()
        : undefined;
      const label = `c360 erase ${customerIds.length + emails.length} customer(s)${republish ? ' --republish' : ''}`;
      return withWorkspaceSession(workspace, label, async ({ instance, connection, alertsClient }) => {
        try {
          await ensureAlertsTable(alertsClient, LOCAL_ALERTS_TABLE);
          const { entry } = await eraseLocally({
            workspace,
            connection,
            request: {
              customerIds,
              emails,
              requestedBy: values['requested-by'] ?? userInfo().username,
              ...(values.reason ? { reason: values.reason } : {}),
            },
            alerts: { client: alertsClient, tableName: LOCAL_ALERTS_TABLE },
          });
          const removed = Object.entries(entry.rows_removed);
          process.stdout.write(
            [
              `Erased customer(s) ${entry.customer_ids.join(', ')} (${entry.erasure_id})`,
              ...removed.map(([table, rows]) => `  ${table.padEnd(44)} ${String(rows).padStart(8)} rows`),
              `  files rewritten: ${entry.files_rewritten}; sent-alert items deleted: ${entry.alert_items_deleted}; outbox messages removed: ${entry.local?.outbox_lines_removed ?? 0}`,
              `  keys on the suppression list: ${Object.entries(entry.suppressed_keys)
                .filter(([, n]) => n > 0)
                .map(([type, n]) => `${n} ${type}`)
                .join(', ')}`,
              `Logged in ${erasureLogFile(workspace)}. The next run recomputes every aggregate without them.`,
              '',
            ].join('\n'),
          );
          const input = await republishInput(workspace);
          if (!input) {
            process.stdout.write('Nothing is published yet: no run to recompute.\n');
            return 0;
          }
          const command = `c360 run --date ${input.runDate} --rebuild --full`;
          if (!republish) {
            process.stdout.write(
              `The published run (${input.runDate}) no longer holds their rows, but its other customers' scores and the figures the next run compares with were computed with them. Run with --republish (or ${command}) to recompute the published run without them.\n`,
            );
            return 0;
          }
          process.stdout.write(
            `\nRepublishing ${input.runDate} without them (${command}): staged from all of raw, extracted and published as that command does.\n${describeSources(republish.sources, republish.config, values['dynamodb-endpoint'])}`,
          );
          const status = await runAndReport({
            ...republish,
            workspace,
            instance,
            alertsClient,
            bedrock: values.bedrock,
            input,
          });
          process.stdout.write(
            status === 0
              ? `Republished ${input.runDate}: every published figure is computed as if they never existed, and the next run compares with it.\n`
              : `The erasure is complete; the republish of ${input.runDate} did not publish. Run ${command} when the cause is fixed.\n`,
          );
          return status;
        } catch (error) {
          if (error instanceof ErasureError) throw new UsageError(error.message);
          throw error;
        }
      });
    }
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

class UsageError extends Error {}

/** The lines `c360 run` starts with: where each source is read from, or why it is not. */
function describeSources(
  sources: LocalSources,
  config: Customer360Config,
  dynamodbEndpoint: string | undefined,
): string {
  return [
    `History files from ${sources.historyDir}`,
    `MySQL: ${
      !config.sources.mysql.enabled
        ? 'disabled (sources.mysql.enabled is false)'
        : sources.mysql
          ? `${sources.mysql.host}:${sources.mysql.port}/${sources.mysql.database}`
          : 'not given (--mysql-host ...): not extracted'
    }`,
    `DynamoDB: ${
      !config.sources.dynamodb.enabled
        ? 'disabled (sources.dynamodb.enabled is false)'
        : sources.dynamodb
          ? `table ${sources.dynamodb.tableName} at ${dynamodbEndpoint}`
          : 'not given (--dynamodb-endpoint ...): not extracted'
    }`,
    '',
  ].join('\n');
}

/**
 * Runs the state machine over the workspace and prints the outcome: `c360 run`, and `c360 erase
 * --republish` after its erasure. The caller holds the workspace lock and owns the engine and the
 * sent-alerts table. Returns the exit status.
 */
async function runAndReport(options: {
  readonly config: Customer360Config;
  readonly workspace: Workspace;
  readonly instance: DuckDBInstance;
  readonly sources: LocalSources;
  readonly alertsClient: DynamoDBClient;
  readonly bedrock: boolean;
  readonly input: NonNullable<LocalRunOptions['input']>;
}): Promise<number> {
  const { workspace } = options;
  const summary = await runPipelineLocally({
    config: options.config,
    lakeRoot: workspace.lake,
    engine: options.instance,
    sources: options.sources,
    alertsStore: { client: options.alertsClient, tableName: LOCAL_ALERTS_TABLE },
    // Real Bedrock only when asked: it needs AWS credentials in the environment and costs money.
    ...(options.bedrock ? { bedrock: new BedrockRuntimeClient({ maxAttempts: 1 }) } : {}),
    outboxFile: workspace.outboxFile,
    runsDir: workspace.runsDir,
    input: options.input,
    onEvent: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    `\n${summary.status} run ${summary.runDate ?? ''} in ${summary.seconds.toFixed(1)} s\n`,
  );
  if (summary.failure) process.stdout.write(`Failed at ${summary.failure.state}: ${summary.failure.cause}\n`);
  if (summary.failedChecks && summary.failedChecks.length > 0)
    process.stdout.write('Failed blocking checks (all of them are in analytics.data_quality):\n');
  for (const check of summary.failedChecks ?? []) {
    process.stdout.write(
      `  ${check.check_name} / ${check.subject}: value ${check.metric_value ?? 'none'}, threshold ${check.threshold ?? 'none'} (${check.detail})\n`,
    );
  }
  const untrusted = (summary.models ?? []).filter((m) => !m.isTrustworthy);
  if (untrusted.length > 0)
    process.stdout.write(
      `Models not to be trusted (their scores are withheld or flagged; details in analytics.model_runs):\n${untrusted
        .map((m) => `  ${m.model} (${m.cutoffRole}): ${m.status}: ${m.warnings.join('; ')}\n`)
        .join('')}`,
    );
  if (summary.status !== 'SUCCEEDED')
    process.stdout.write('Published data is unchanged. Fix the cause, then run the same command again.\n');
  return summary.status === 'SUCCEEDED' ? 0 : 1;
}

/**
 * The sources `c360 run` extracts: the history folder always, MySQL and DynamoDB only when the
 * options point at running servers (the generator's option names, scripts/generate.ts).
 */
function runSources(
  values: Readonly<Record<string, string | boolean | readonly string[] | undefined>>,
  defaultHistoryDir: string,
  config: Customer360Config,
): LocalSources {
  const text = (name: string) => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const historyDir = resolve(text('history-dir') ?? defaultHistoryDir);
  if (!existsSync(historyDir)) throw new UsageError(`--history-dir: ${historyDir} does not exist`);
  let mysql: MysqlSource | undefined;
  const host = text('mysql-host');
  if (host !== undefined) {
    if (!config.sources.mysql.enabled)
      throw new UsageError('--mysql-host given, but sources.mysql.enabled is false in the configuration');
    const port = Number(text('mysql-port'));
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new UsageError(`--mysql-port must be a port number, got "${text('mysql-port')}"`);
    const user = text('mysql-user');
    const password = text('mysql-password') ?? process.env.MYSQL_PASSWORD;
    if (user === undefined || password === undefined)
      throw new UsageError(
        '--mysql-host needs --mysql-user and a password (--mysql-password or MYSQL_PASSWORD)',
      );
    mysql = { host, port, user, password, database: text('mysql-database') ?? 'retail' };
  }
  let dynamodb: LocalSources['dynamodb'];
  const endpoint = text('dynamodb-endpoint');
  if (endpoint !== undefined) {
    if (!config.sources.dynamodb.enabled)
      throw new UsageError(
        '--dynamodb-endpoint given, but sources.dynamodb.enabled is false in the configuration',
      );
    const local = /^https?:\/\/(127\.|localhost|\[::1\])/.test(endpoint);
    dynamodb = {
      client: new DynamoDBClient({
        endpoint,
        region: process.env.AWS_REGION ?? 'us-east-1',
        // A local endpoint ignores credentials; placeholders spare the caller from setting any.
        ...(local && !process.env.AWS_ACCESS_KEY_ID
          ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
          : {}),
      }),
      tableName: text('dynamodb-table') ?? config.sources.dynamodb.interactionsTableName,
    };
  } else if (text('dynamodb-table') !== undefined) {
    throw new UsageError('--dynamodb-table needs --dynamodb-endpoint');
  }
  return { historyDir, ...(mysql ? { mysql } : {}), ...(dynamodb ? { dynamodb } : {}) };
}

/** RFC 4180 CSV: a header, then one line per row; fields with a comma, quote or line break are quoted. */
function toCsv(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const field = (value: unknown) => {
    if (value === null || value === undefined) return '';
    const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns.map(field).join(','), ...rows.map((row) => columns.map((c) => field(row[c])).join(','))]
    .map((line) => `${line}\r\n`)
    .join('');
}

function isCalendarDate(text: string): boolean {
  const time = Date.parse(`${text}T00:00:00Z`);
  return (
    /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(time) && new Date(time).toISOString().startsWith(text)
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Ctrl-C stops the servers under the running steps; their errors are expected, not news.
    if (demoInterrupted()) return;
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof WorkspaceBusyError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

/**
 * What `run` and `erase` hold while they work: the workspace lock (one writer at a time), DuckDB over
 * the lake, and the sent-alerts table, which the workspace keeps across runs in a real local DynamoDB.
 * All are released on every exit path.
 */
async function withWorkspaceSession<T>(
  workspace: Workspace,
  label: string,
  work: (session: {
    instance: DuckDBInstance;
    connection: DuckDBConnection;
    alertsClient: DynamoDBClient;
  }) => Promise<T>,
): Promise<T> {
  const release = lockWorkspace(workspace, label, (line) => process.stderr.write(`${line}\n`));
  try {
    const { instance, connection } = await openWorkspaceEngine(workspace);
    try {
      const alertsDb = await LocalDynamoDb.start({ path: join(workspace.root, 'alerts-db') });
      const alertsClient = alertsDb.client();
      try {
        return await work({ instance, connection, alertsClient });
      } finally {
        alertsClient.destroy();
        await alertsDb.stop();
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  } finally {
    release();
  }
}
