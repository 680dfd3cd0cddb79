#!/usr/bin/env -S node --import tsx
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../lib/config/load.js';
import { estimateRunCost } from '../lib/cost/index.js';
import { demoInterrupted, runDemo } from '../lib/local/demo.js';
import { runPipelineLocally } from '../lib/local/pipeline-runner.js';
import {
  listRuns,
  lockWorkspace,
  openWorkspaceEngine,
  WorkspaceBusyError,
  workspaceAt,
} from '../lib/local/workspace.js';

const USAGE = `c360: Customer 360 on this machine

Usage:
  c360 demo [--customers N] [--seed S] [--workspace DIR]
      Starts a throwaway MariaDB and a local DynamoDB, generates a data set, runs the whole pipeline
      (the state machine CDK deploys, run locally) and prints where everything is. Above 10,000
      customers the interactions are written as a DynamoDB table export instead of loaded into the
      local DynamoDB (it is slow at that size), and the extraction reads the export.
  c360 run [--date YYYY-MM-DD [--full [--force]] [--rebuild]] [--config FILE] [--workspace DIR]
      Runs the state machine over the workspace's lake. Without --date it is the daily run for
      today: extract (from the sources the run can reach: here the history folder), stage from the
      last published snapshot plus the raw data landed since, publish. --date D alone computes D from
      the snapshot published before D and publishes nothing (a backfill); --full also extracts and
      publishes, unless a newer date is already published (--force publishes it anyway). --rebuild
      stages from all of raw instead of a snapshot (a repair; with --full it republishes). Each run
      writes its own run_id; readers see a run only once it publishes. One run at a time per workspace.
  c360 query "SQL" [--format table|csv|json] [--out FILE] [--workspace DIR]
      Runs SQL on DuckDB over the lake: raw.*, stage.*, analytics.* and the *_latest views (what is
      published). Base tables hold every run: name one with run_date and run_id.
  c360 status [--workspace DIR]
      Lists the last local runs.
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
      format: { type: 'string' },
      out: { type: 'string' },
      run: { type: 'string' },
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
      const release = lockWorkspace(workspace, `c360 ${argv.join(' ')}`, (line) =>
        process.stderr.write(`${line}\n`),
      );
      const { instance, connection } = await openWorkspaceEngine(workspace);
      try {
        const summary = await runPipelineLocally({
          config,
          lakeRoot: workspace.lake,
          engine: instance,
          sources: { historyDir: workspace.historyDir },
          outboxFile: workspace.outboxFile,
          runsDir: workspace.runsDir,
          input: values.date
            ? {
                runDate: values.date,
                ...(values.full ? { full: true } : {}),
                ...(values.force ? { force: true } : {}),
                ...(values.rebuild ? { rebuild: true } : {}),
              }
            : {},
          onEvent: (line) => process.stdout.write(`${line}\n`),
        });
        process.stdout.write(
          `\n${summary.status} run ${summary.runDate ?? ''} in ${summary.seconds.toFixed(1)} s\n`,
        );
        if (summary.failure)
          process.stdout.write(`Failed at ${summary.failure.state}: ${summary.failure.cause}\n`);
        for (const check of summary.failedChecks ?? []) {
          process.stdout.write(
            `  blocking check ${check.check_name} / ${check.subject}: ${check.metric_value} against threshold ${check.threshold} (${check.detail})\n`,
          );
        }
        if (summary.status !== 'SUCCEEDED')
          process.stdout.write(
            'Published data is unchanged. Fix the cause, then run the same command again.\n',
          );
        return summary.status === 'SUCCEEDED' ? 0 : 1;
      } finally {
        connection.closeSync();
        instance.closeSync();
        release();
      }
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
        })),
      );
      return 0;
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
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

class UsageError extends Error {}

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
