import { readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { loadConfig } from '../config/load.js';
import { generateDataset } from '../generate/index.js';
import { type WrittenReport, writeReport } from '../report/index.js';
import { LocalDynamoDb } from './dynamodb.js';
import { LocalMariaDb } from './mariadb.js';
import { LOCAL_ALERTS_TABLE } from './notifications.js';
import { type LocalRunSummary, runPipelineLocally } from './pipeline-runner.js';
import { lockWorkspace, openWorkspaceEngine, type Workspace } from './workspace.js';

export interface DemoOptions {
  readonly workspace: Workspace;
  /**
   * People simulated; sized so the whole demo takes about two minutes on a 2-core machine.
   * @default 6000
   */
  readonly customers?: number;
  /** @default 'demo' */
  readonly seed?: string;
  readonly configFile?: string;
  /** Lines of progress; defaults to standard output. */
  readonly print?: (line: string) => void;
}

export const DEMO_CUSTOMERS = 6000;

/**
 * Above this many people the interactions go to a DynamoDB table export folder (what the cloud job
 * reads) instead of dynalite, whose in-memory store loads 3,000 items/s and holds every item: 90% of a
 * 30,000-customer demo's time and 2.6 GiB. The extraction then reads the export, as in the cloud.
 */
export const DYNALITE_MAX_CUSTOMERS = 10_000;

let interrupted = false;

/** Whether the demo was stopped with Ctrl-C: errors after that are the servers going away. */
export function demoInterrupted(): boolean {
  return interrupted;
}

/**
 * The whole pipeline on this machine: a throwaway MariaDB and an in-process DynamoDB as the sources,
 * a generated data set ending yesterday, the synthesized state machine run locally, and a summary of
 * where everything landed. Servers are stopped on every exit path, Ctrl-C included.
 */
export async function runDemo(options: DemoOptions): Promise<LocalRunSummary> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { workspace } = options;
  const config = loadConfig(options.configFile);
  const customers = options.customers ?? DEMO_CUSTOMERS;
  // The data ends with yesterday, the last full day: extraction runs now, so every generated change is
  // already in the past (nothing is left behind by the safety lag), and the run is for that day.
  const runDate = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1).padStart(6);

  const release = lockWorkspace(workspace, 'c360 demo', print);
  // A demo starts from a clean workspace: sources are regenerated, so an old lake would not match.
  for (const dir of [workspace.lake, workspace.historyDir]) rmSync(dir, { recursive: true, force: true });
  rmSync(workspace.outboxFile, { force: true });

  let mariadb: LocalMariaDb | undefined;
  let dynamodb: LocalDynamoDb | undefined;
  const stopServers = async () => {
    await Promise.allSettled([mariadb?.stop(), dynamodb?.stop()]);
    mariadb = undefined;
    dynamodb = undefined;
  };
  const onSignal = () => {
    interrupted = true;
    print('\nInterrupted: stopping the local servers.');
    void stopServers().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const tableName = config.sources.dynamodb.interactionsTableName;
    const viaExport = customers > DYNALITE_MAX_CUSTOMERS;
    const exportDir = join(workspace.root, 'dynamodb-export');
    rmSync(exportDir, { recursive: true, force: true });
    if (viaExport) {
      print(
        `[${seconds()} s] Starting MariaDB (throwaway, loopback); interactions as a DynamoDB table export`,
      );
      mariadb = await LocalMariaDb.start();
    } else {
      print(`[${seconds()} s] Starting MariaDB (throwaway, loopback) and the local DynamoDB`);
      [mariadb, dynamodb] = await Promise.all([LocalMariaDb.start(), LocalDynamoDb.start()]);
    }
    const client = dynamodb?.client();

    print(
      `[${seconds()} s] Generating ${customers} customers (seed ${options.seed ?? 'demo'}), history up to ${runDate}`,
    );
    const generated = await generateDataset(
      {
        customers,
        seed: options.seed ?? 'demo',
        end: runDate,
        historyCustomerKey: config.sources.history.customerKey,
      },
      {
        mysql: { connection: mariadb.connection },
        ...(client ? { dynamodb: { client, tableName } } : { dynamodbExport: { dir: exportDir, tableName } }),
        historyDir: workspace.historyDir,
        files: { dir: join(workspace.root, 'generated'), mysql: false, dynamodb: false, history: false },
      },
    );
    const counts = generated.manifest.counts as unknown as Record<string, unknown>;
    print(`[${seconds()} s] Loaded sources: ${JSON.stringify(counts)}`);

    print(`[${seconds()} s] Running the state machine for ${runDate} (the definition CDK synthesizes)`);
    const { instance, connection } = await openWorkspaceEngine(workspace);
    let summary: LocalRunSummary;
    let report: WrittenReport | undefined;
    try {
      summary = await runPipelineLocally({
        config,
        lakeRoot: workspace.lake,
        engine: instance,
        sources: {
          mysql: mariadb.connection,
          dynamodb: client ? { client, tableName } : { tableName, exportDir },
          historyDir: workspace.historyDir,
        },
        ...(client ? { alertsStore: { client, tableName: LOCAL_ALERTS_TABLE } } : {}),
        outboxFile: workspace.outboxFile,
        runsDir: workspace.runsDir,
        // A full run of that day (extract, build, publish), as its scheduled run would have been.
        input: { runDate, full: true },
        onEvent: print,
      });
      if (summary.status === 'SUCCEEDED') {
        const segments = await connection.runAndReadAll(
          `SELECT rfm_segment, count(*) AS customers, round(sum(lifetime_revenue), 2) AS revenue
           FROM analytics.customer_360_latest GROUP BY ALL ORDER BY revenue DESC NULLS LAST`,
        );
        print('\nCustomers by RFM segment (analytics.customer_360_latest):');
        console.table(segments.getRowObjectsJson());
        await printModelResults(connection, print);
        printAlerts(workspace.outboxFile, print);
        const summaries = await connection.runAndReadAll(
          `SELECT segment_type, segment, headline, description, recommended_actions, source
           FROM analytics.segment_summaries_latest
           ORDER BY segment_type = 'rfm_segment' DESC, segment LIMIT 2`,
        );
        print(
          '\nSegment summaries (analytics.segment_summaries_latest; the template unless c360 run --bedrock):',
        );
        for (const row of summaries.getRowObjectsJson()) {
          print(`  ${row.segment} (${row.segment_type}, ${row.source}): ${row.headline}`);
          print(`    ${row.description}`);
          for (const action of String(row.recommended_actions).split('\n')) print(`    - ${action}`);
        }
        try {
          report = await writeReport(connection, join(workspace.root, 'report.html'));
        } catch (error) {
          // The run is published whatever happens to its report: say so, and how to retry it alone.
          print(`\nThe report was not written: ${(error as Error).message}\nRetry with: npx c360 report`);
        }
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
      client?.destroy();
    }

    const where = (path: string) => relative(process.cwd(), path) || '.';
    print('');
    print(`${summary.status === 'SUCCEEDED' ? 'Done' : 'FAILED'} in ${seconds().trim()} s.`);
    if (summary.failure)
      print(`Failed at ${summary.failure.state}: ${summary.failure.error}: ${summary.failure.cause}`);
    print('Row counts:');
    for (const [table, rows] of Object.entries(summary.rows)) print(`  ${table.padEnd(40)} ${rows}`);
    print('');
    print(`Lake (Parquet, laid out as in S3): ${where(workspace.lake)}`);
    print(`Outbox (SNS/SES messages):         ${where(workspace.outboxFile)}`);
    print(
      `Run summary:                       ${where(join(workspace.runsDir, `${summary.executionName}.json`))}`,
    );
    print(`Generated data manifest:           ${where(join(workspace.root, 'generated', 'manifest.json'))}`);
    if (report) print(`Report (open it in a browser):     ${report.url}`);
    print('Try: npx c360 query "select * from analytics.customer_360_latest limit 5"');
    return summary;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopServers();
    release();
  }
}

/** What the models found: each fit's status and headline figure, CLV and churn by K-Means segment. */
async function printModelResults(connection: DuckDBConnection, print: (line: string) => void): Promise<void> {
  const runs = await connection.runAndReadAll(
    `SELECT model, cutoff_role AS cutoff, status, is_trustworthy AS trusted, fitted_rows,
            coalesce(
              'AUC ' || round(try_cast(json_extract(metrics, '$.auc') AS DOUBLE), 3)
                || ' (recency alone ' || round(try_cast(json_extract(metrics, '$.baselines.recencyAuc') AS DOUBLE), 3) || ')',
              'k ' || json_extract(parameters, '$.k') || ', silhouette '
                || round(try_cast(json_extract(metrics, '$.silhouette') AS DOUBLE), 3),
              'log-likelihood ' || round(try_cast(json_extract(diagnostics, '$.logLikelihood') AS DOUBLE), 1)
            ) AS headline
     FROM analytics.model_runs_latest ORDER BY model, cutoff_date`,
  );
  print('\nModels fitted by the run (analytics.model_runs_latest):');
  console.table(runs.getRowObjectsJson());
  const bySegment = await connection.runAndReadAll(
    `SELECT kmeans_segment, count(*) AS customers, round(avg(p_alive), 3) AS avg_p_alive,
            round(avg(lifetime_value), 2) AS avg_lifetime_value, round(avg(churn_probability), 3) AS avg_churn_probability
     FROM analytics.customer_360_latest WHERE kmeans_segment IS NOT NULL
     GROUP BY ALL ORDER BY avg_lifetime_value DESC NULLS LAST`,
  );
  print('\nCLV and churn by K-Means segment (analytics.customer_360_latest):');
  console.table(bySegment.getRowObjectsJson());
}

/** The alerts and the digest the run sent, from the outbox (SNS and SES messages, one JSON per line). */
function printAlerts(outboxFile: string, print: (line: string) => void): void {
  let lines: string[] = [];
  try {
    lines = readFileSync(outboxFile, 'utf8').trim().split('\n');
  } catch {
    return;
  }
  const messages = lines.filter(Boolean).map(
    (line) =>
      JSON.parse(line) as {
        channel: string;
        Subject?: string;
        MessageAttributes?: Record<string, { StringValue?: string }>;
        Content?: { Simple?: { Subject?: { Data?: string } } };
      },
  );
  const alerts = messages.filter((m) => m.channel === 'sns' && m.MessageAttributes?.kind);
  print(`\nAlerts sent (SNS, in ${outboxFile}): ${alerts.length}`);
  for (const alert of alerts.slice(0, 5))
    print(
      `  [${alert.MessageAttributes?.kind?.StringValue}/${alert.MessageAttributes?.severity?.StringValue}] ${alert.Subject}`,
    );
  if (alerts.length > 5) print(`  ... and ${alerts.length - 5} more`);
  const digests = messages.filter((m) => m.channel === 'ses');
  for (const digest of digests) print(`Digest email (SES): ${digest.Content?.Simple?.Subject?.Data}`);
}
