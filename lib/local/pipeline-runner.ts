import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { App } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import { buildApp } from '../app.js';
import type { Customer360Config } from '../config/schema.js';
import { MODEL_OUTPUT_TABLES } from '../constructs/pipeline.js';
import { fitModels, fitModelsInputSchema, type ModelRunSummary } from '../models/fit-models.js';
import { raiseRunAlerts, runKeysSchema, sendRunDigest, writeSegmentSummaries } from '../notify/steps.js';
import { prepareQuery, prepareQueryInputSchema } from '../pipeline/queries.js';
import { runControl, runControlInputSchema } from '../pipeline/run-control.js';
import { applyRetention, retentionInputSchema } from '../retention/retention.js';
import {
  rawDynamodbInteractions,
  rawHistoryOrders,
  rawTables,
  stageAndAnalyticsRunTables,
  tableAtLocation,
  tableNamed,
} from '../schema/tables.js';
import { loadModels } from '../sql/models.js';
import { AthenaTaskError, folderLakeStore, folderObjectStore, LOCAL_NAMES, LocalAthena } from './athena.js';
import { folderControlStore, LocalExecutions } from './control-store.js';
import { connectLocal } from './duckdb.js';
import { LocalDynamoDb } from './dynamodb.js';
import { extractDynamoDb } from './extract-dynamodb.js';
import { extractHistory } from './extract-history.js';
import { extractMysql, type MysqlSource } from './extract-mysql.js';
import {
  ensureAlertsTable,
  LOCAL_ALERTS_TABLE,
  LOCAL_ALERTS_TOPIC_ARN,
  outboxSes,
  outboxSns,
} from './notifications.js';
import { expireLikeLifecycle, folderRetentionLake } from './retention.js';
import { registerTable } from './sql-runner.js';
import { writeFileAtomically } from './state.js';

// aws-local-stepfunctions uses Promise.withResolvers (Node 22); Node 20 lacks it.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type CfnValue = string | { [key: string]: unknown } | CfnValue[];

/**
 * The state machine definition exactly as CDK synthesizes it for this configuration. References to
 * deployed resources (function and topic ARNs, the partition) become placeholders: locally every task
 * is answered by a local handler named after its state, so their values do not matter.
 */
export function synthesizedDefinition(config: Customer360Config): Record<string, Json> {
  // Synthesis costs seconds of CPU and hundreds of MiB; the definition depends only on the
  // configuration and the code, so it is cached under their hash.
  const cacheFile = join(tmpdir(), 'customer360-definitions', `${definitionKey(config)}.json`);
  try {
    return JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, Json>;
  } catch {
    // Not cached yet.
  }
  const definition = synthesize(config);
  writeFileAtomically(cacheFile, JSON.stringify(definition));
  return definition;
}

const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/** A hash of the configuration and of every file the synthesized definition can depend on. */
function definitionKey(config: Customer360Config): string {
  const hash = createHash('sha256').update(JSON.stringify(config));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|sql|json)$/.test(entry.name)) hash.update(path).update(readFileSync(path));
    }
  };
  for (const dir of ['lib', 'sql']) walk(join(PROJECT_ROOT, dir));
  hash.update(readFileSync(join(PROJECT_ROOT, 'package-lock.json')));
  return hash.digest('hex').slice(0, 32);
}

function synthesize(config: Customer360Config): Record<string, Json> {
  // Bundling the Lambda code is only needed for deployment.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const { stack } = buildApp(config, app);
  const assembly = app.synth({ validateOnSynthesis: false });
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Type: string; Properties: { DefinitionString?: CfnValue } }>;
  };
  // The pipeline's machine; the stack also has the erase-customers one (lib/constructs/erasure.ts).
  const machines = Object.entries(template.Resources)
    .filter(
      ([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && id.startsWith('PipelineStateMachine'),
    )
    .map(([, r]) => r);
  if (machines.length !== 1 || !machines[0]?.Properties.DefinitionString) {
    throw new Error(`Expected one state machine in the template, found ${machines.length}`);
  }
  return JSON.parse(flatten(machines[0].Properties.DefinitionString)) as Record<string, Json>;
}

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'local',
  'AWS::AccountId': '000000000000',
  'AWS::URLSuffix': 'amazonaws.com',
};

function flatten(value: CfnValue): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(flatten).join('');
  const join = value['Fn::Join'] as [string, CfnValue[]] | undefined;
  if (join) return join[1].map(flatten).join(join[0]);
  if ('Ref' in value) return PSEUDO_PARAMETERS[String(value.Ref)] ?? `local-${String(value.Ref)}`;
  const getAtt = value['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `local-${getAtt[0]}-${getAtt[1]}`;
  throw new Error(`Cannot resolve ${JSON.stringify(value)} in the state machine definition`);
}

export interface LocalSources {
  readonly mysql?: MysqlSource;
  /** The table to scan (`client`), or a table export folder to read instead (`exportDir`). */
  readonly dynamodb?: {
    readonly client?: DynamoDBClient;
    readonly tableName: string;
    readonly exportDir?: string;
  };
  readonly historyDir?: string;
}

export interface LocalRunOptions {
  readonly config: Customer360Config;
  readonly lakeRoot: string;
  /** The local Athena: each concurrent task gets its own connection to it. */
  readonly engine: DuckDBInstance;
  readonly sources: LocalSources;
  /** Where SNS and SES messages are written, one JSON object per line. */
  readonly outboxFile: string;
  /** Folder for run summaries (`c360 status`). */
  readonly runsDir: string;
  /**
   * Execution input, one of the run modes (`RunMode` in lib/pipeline/run-control.ts): `{}` daily,
   * `{ runDate, full: true }` catch-up (`force: true` publishes over a newer date), `{ runDate }`
   * backfill, `{ runDate, rebuild: true }` rebuild from all of raw.
   */
  readonly input?: {
    readonly runDate?: string;
    readonly full?: boolean;
    readonly force?: boolean;
    readonly rebuild?: boolean;
  };
  /**
   * Where sent alerts are remembered (a DynamoDB table; locally dynalite). Without one, the run starts an
   * in-memory dynalite of its own, so alerts are still sent once per run but not remembered across runs.
   * @default an in-memory table for this run
   */
  readonly alertsStore?: { readonly client: DynamoDBClient; readonly tableName: string };
  /**
   * Bedrock for the segment summaries (`c360 run --bedrock`); without it every summary is the template.
   * @default none
   */
  readonly bedrock?: BedrockRuntimeClient;
  /** The execution start time (the run date when none is given). */
  readonly startTime?: Date;
  /**
   * Wraps every local task handler: tests inject failures here to exercise retries and catches.
   * @default none
   */
  readonly interceptTask?: (stateName: string, input: Json) => void | Promise<void>;
  /** Progress lines as states finish. */
  readonly onEvent?: (line: string) => void;
  /** Shortens retry pauses (milliseconds) for tests and the demo. */
  readonly retryIntervalMs?: number;
  /**
   * Replaces the `TimeoutSeconds` of the named task states, so a test can see a timeout in seconds.
   * @default the definition's own values
   */
  readonly timeoutOverrides?: Readonly<Record<string, number>>;
}

export interface StateTiming {
  readonly state: string;
  readonly status: 'succeeded' | 'failed' | 'retried' | 'caught';
  readonly seconds: number;
  /**
   * CPU seconds the whole process used while the state ran (DuckDB's threads included); states that
   * run at once (parallel branches, Map iterations) each count the time they overlap.
   */
  readonly cpuSeconds?: number;
  readonly detail?: string;
}

export interface ExecutedQuery {
  readonly sql: string;
  /** The table an UNLOAD wrote (`zone.table`), if it wrote one. */
  readonly target?: string;
  readonly seconds: number;
  readonly rows?: number;
}

export interface LocalRunSummary {
  readonly executionId: string;
  /** The execution's name; the run summary is `<runsDir>/<executionName>.json`. */
  readonly executionName: string;
  /** Where this run wrote: `run_date=<runDate>/run_id=<runId>/` in every stage and analytics table. */
  readonly runId?: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly runDate?: string;
  readonly startedAt: string;
  readonly seconds: number;
  readonly error?: { readonly error: string; readonly cause: string };
  /** The first state that failed, with its item (a model name inside a Map) and the cause. */
  readonly failure?: { readonly state: string; readonly error: string; readonly cause: string };
  readonly states: readonly StateTiming[];
  readonly rows: Readonly<Record<string, number>>;
  /** Every query the run sent to the local Athena, in order: what a cost estimate prices. */
  readonly queries: readonly ExecutedQuery[];
  readonly output?: Json;
  /** What Fit models fitted: each model's status, whether its scores are trusted, and why not. */
  readonly models?: readonly ModelRunSummary[];
  /** When the quality gate stopped the run: each failed blocking check with its value and threshold. */
  readonly failedChecks?: readonly Readonly<Record<string, string | null>>[];
}

/**
 * Runs the synthesized state machine on this machine with aws-local-stepfunctions. Ordering,
 * parallel branches, choices, retries and catches all come from the definition; this file only
 * answers each Task state the way its AWS service would, on local engines: Glue jobs by the local
 * extractors, Lambda by the handler's core function, Athena by DuckDB, SNS by an outbox file.
 */
export async function runPipelineLocally(options: LocalRunOptions): Promise<LocalRunSummary> {
  const { config, lakeRoot, engine: instance } = options;
  const definition = withTimeouts(synthesizedDefinition(config), options.timeoutOverrides ?? {});
  const models = loadModels();
  const lake = folderLakeStore(lakeRoot);
  const rows: Record<string, number> = {};
  const queries: ExecutedQuery[] = [];
  const startTime = options.startTime ?? new Date();
  const executionName = `local-${startTime.toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  const executionId = `arn:aws:states:local:000000000000:execution:local-pipeline:${executionName}`;

  // DuckDB keeps one pending result per connection: tasks that run at once (parallel branches, Map
  // iterations) each get their own connection, and all of them are interrupted when the run ends.
  const connections = new Set<DuckDBConnection>();
  const taskConnection = new AsyncLocalStorage<DuckDBConnection>();
  const main = await connectLocal(instance);
  const connection = () => taskConnection.getStore() ?? main;
  const athena = new LocalAthena(connection, lakeRoot);
  // A run given a start time (a test, a simulated day) sees its clock start there, as the run records'
  // times and retention's ages must agree with the day simulated.
  const clockOffset = options.startTime ? options.startTime.getTime() - Date.now() : 0;
  const now = () => new Date(Date.now() + clockOffset);
  const control = {
    config,
    control: folderControlStore(join(lakeRoot, LOCAL_NAMES.analytics)),
    executions: new LocalExecutions(),
    now,
  };

  // What each running task is doing, so a timeout can say more than "States.Timeout".
  const activity = new Map<string, string>();
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  const task = (name: string, doing: string, handler: (input: Json) => Promise<Json>) => {
    handlers[name] = async (input) => {
      const own = await connectLocal(instance);
      connections.add(own);
      activity.set(name, doing);
      try {
        await options.interceptTask?.(name, input);
        return await taskConnection.run(own, () => handler(input));
      } finally {
        activity.delete(name);
        connections.delete(own);
        own.closeSync();
      }
    };
  };
  const ingestDate = (input: Json): string => {
    const date = (input as { Arguments?: Record<string, string> }).Arguments?.['--ingest_date'];
    if (!date) throw new AthenaTaskError('States.TaskFailed', 'Glue job started without --ingest_date');
    return date;
  };

  task('Extract mysql', 'extracting the MySQL tables into raw.mysql_*', async (input) => {
    if (!options.sources.mysql)
      return {
        JobRunState: 'SUCCEEDED',
        Skipped: 'no MySQL server given (c360 run --mysql-host ...); nothing extracted',
      } as Json;
    const results = await extractMysql({
      source: options.sources.mysql,
      engine: connection(),
      lakeRoot,
      ingestDate: ingestDate(input),
      tables: config.sources.mysql.tables,
      keyScanEveryDays: config.sources.mysql.deleteDetection.everyDays,
    });
    for (const table of rawTables)
      if (table.name.startsWith('mysql_')) await registerTable(connection(), lakeRoot, table);
    for (const r of results) {
      rows[`raw.mysql_${r.table} (new)`] = r.rows;
      if (r.keys !== undefined) rows[`raw.mysql_keys (${r.table})`] = r.keys;
    }
    return { JobRunState: 'SUCCEEDED' };
  });
  task(
    'Extract dynamodb',
    'exporting the DynamoDB interactions into raw.dynamodb_interactions',
    async (input) => {
      if (!options.sources.dynamodb)
        return {
          JobRunState: 'SUCCEEDED',
          Skipped: 'no DynamoDB table given (c360 run --dynamodb-endpoint ...); nothing extracted',
        } as Json;
      const result = await extractDynamoDb({
        ...options.sources.dynamodb,
        engine: connection(),
        lakeRoot,
        ingestDate: ingestDate(input),
      });
      await registerTable(connection(), lakeRoot, rawDynamodbInteractions);
      rows['raw.dynamodb_interactions (new)'] = result.rows;
      if (result.removed > 0) rows['raw.dynamodb_interactions (removed)'] = result.removed;
      return { JobRunState: 'SUCCEEDED' };
    },
  );
  task(
    'Extract history',
    `landing the history files of ${options.sources.historyDir ?? '(none)'}`,
    async (input) => {
      if (!options.sources.historyDir)
        return {
          JobRunState: 'SUCCEEDED',
          Skipped: 'no history folder given (c360 run --history-dir DIR); nothing landed',
        } as Json;
      const result = await extractHistory({
        historyDir: options.sources.historyDir,
        config: config.sources.history,
        engine: connection(),
        lakeRoot,
        ingestDate: ingestDate(input),
      });
      await registerTable(connection(), lakeRoot, rawHistoryOrders);
      rows['raw.history_orders (new)'] = result.rows;
      return { JobRunState: 'SUCCEEDED' };
    },
  );

  const payloadOf = (input: Json): Json => (input as { Payload?: Json }).Payload ?? input;
  const prepare = async (input: Json): Promise<Json> => {
    const payload = prepareQueryInputSchema.parse(payloadOf(input));
    const prepared = await prepareQuery(payload, {
      models,
      config,
      databases: LOCAL_NAMES,
      buckets: LOCAL_NAMES,
      lake,
    });
    return { Payload: { ...prepared } as Json, StatusCode: 200 };
  };
  let runId: string | undefined;
  const runControlTask = async (input: Json): Promise<Json> => {
    const raw = payloadOf(input) as Record<string, Json>;
    // aws-local-stepfunctions stamps $$.Execution.StartTime with the real clock; a chosen start time
    // (tests, a simulated day) is what the execution would have seen.
    const payload = runControlInputSchema.parse(
      raw.action === 'begin' && options.startTime ? { ...raw, startTime: startTime.toISOString() } : raw,
    );
    const result = await runControl(payload, control);
    if (payload.action === 'begin') runId = (result as { runId: string }).runId;
    const wrapped = 'Payload' in (input as object) || 'FunctionName' in (input as object);
    return wrapped ? ({ Payload: result, StatusCode: 200 } as unknown as Json) : (result as unknown as Json);
  };
  const run = async (input: Json): Promise<Json> => {
    const { QueryString } = input as { QueryString: string };
    const located =
      /TO 's3:\/\/([a-z]+)\/([a-z0-9_/]+\/)run_date=(\d{4}-\d{2}-\d{2})\/run_id=([A-Za-z0-9_-]+)\//.exec(
        QueryString,
      );
    const table = located && tableAtLocation(located[1] ?? '', located[2] ?? '');
    const target =
      located && table ? [located[0], table.zone, table.name, located[3], located[4]] : undefined;
    const queryStarted = performance.now();
    const execution = await athena.startQueryExecution(QueryString);
    const seconds = (performance.now() - queryStarted) / 1000;
    if (target) {
      const [, zone, table, date, id] = target;
      const counted = await connection().runAndReadAll(
        `SELECT count(*) AS n FROM ${zone}.${table} WHERE run_date = DATE '${date}' AND run_id = '${id}'`,
      );
      rows[`${zone}.${table}`] = Number(counted.getRowObjectsJson()[0]?.n ?? 0);
      queries.push({ sql: QueryString, target: `${zone}.${table}`, seconds, rows: rows[`${zone}.${table}`] });
    } else queries.push({ sql: QueryString, seconds });
    return {
      QueryExecution: { QueryExecutionId: execution.QueryExecutionId, Status: { State: execution.State } },
    };
  };

  const objects = folderObjectStore(lakeRoot);
  let fitted: readonly ModelRunSummary[] | undefined;
  const fit = async (input: Json): Promise<Json> => {
    const payload = fitModelsInputSchema.parse(payloadOf(input));
    const result = await fitModels(payload, {
      config,
      analyticsBucket: LOCAL_NAMES.analytics,
      store: objects,
    });
    fitted = result.models;
    // A fit not to be trusted is said where the operator looks, not only in model_runs.
    for (const m of result.models.filter((m) => !m.isTrustworthy))
      options.onEvent?.(
        `  ⚠ ${`${m.model} (${m.cutoffRole})`.padEnd(44)} ${m.status}: ${m.warnings.join('; ')}`,
      );
    // The Lambda wrote Parquet files straight into the run's location: the local catalog must see them.
    for (const name of MODEL_OUTPUT_TABLES)
      await registerTable(connection(), lakeRoot, tableNamed('analytics', name));
    return { Payload: result as unknown as Json, StatusCode: 200 };
  };

  const wrapPayload = (input: Json, result: unknown): Json =>
    ('Payload' in (input as object) || 'FunctionName' in (input as object)
      ? { Payload: result, StatusCode: 200 }
      : result) as Json;
  let ownAlertsDb: LocalDynamoDb | undefined;
  let alertsReady: Promise<{ client: DynamoDBClient; tableName: string }> | undefined;
  const alertsStore = () => {
    alertsReady ??= (async () => {
      let store = options.alertsStore;
      if (!store) {
        ownAlertsDb = await LocalDynamoDb.start();
        store = { client: ownAlertsDb.client(), tableName: LOCAL_ALERTS_TABLE };
      }
      await ensureAlertsTable(store.client, store.tableName);
      return store;
    })();
    return alertsReady;
  };
  const runOutput = { config, store: objects, analyticsBucket: LOCAL_NAMES.analytics };
  const summarize = async (input: Json): Promise<Json> => {
    const run = runKeysSchema.parse(payloadOf(input));
    const result = await writeSegmentSummaries(run, { ...runOutput, bedrock: options.bedrock });
    await registerTable(connection(), lakeRoot, tableNamed('analytics', 'segment_summaries'));
    return wrapPayload(input, result);
  };
  const alert = async (input: Json): Promise<Json> => {
    const run = runKeysSchema.parse(payloadOf(input));
    const store = await alertsStore();
    const result = await raiseRunAlerts(run, {
      ...runOutput,
      sns: outboxSns(options.outboxFile),
      topicArn: LOCAL_ALERTS_TOPIC_ARN,
      dynamodb: DynamoDBDocumentClient.from(store.client),
      tableName: store.tableName,
      now: () => new Date(),
    });
    options.onEvent?.(
      `  ✉ alerts: ${result.messages} message(s), ${result.fraudAlerted} fraud and ${result.churnRiskAlerted} churn-risk customer(s) new, ${result.suppressed} already alerted`,
    );
    return wrapPayload(input, result);
  };
  const digest = async (input: Json): Promise<Json> => {
    const run = runKeysSchema.parse(payloadOf(input));
    const store = await alertsStore();
    const result = await sendRunDigest(run, {
      ...runOutput,
      ses: outboxSes(options.outboxFile),
      dynamodb: DynamoDBDocumentClient.from(store.client),
      tableName: store.tableName,
      now: () => new Date(),
    });
    return wrapPayload(input, result);
  };

  const retain = async (input: Json): Promise<Json> => {
    const run = retentionInputSchema.parse(payloadOf(input));
    const result = await applyRetention(run, {
      retention: config.storage.retention,
      control: control.control,
      executions: control.executions,
      lake: folderRetentionLake(lakeRoot),
      buckets: LOCAL_NAMES,
      runTables: stageAndAnalyticsRunTables,
      now,
    });
    // What S3 lifecycle rules do in the cloud (raw and rejects by age), done here on the folder.
    const expired = expireLikeLifecycle(lakeRoot, config.storage.retention, now());
    // Deleted files must leave the local catalog, which lists files explicitly.
    const touched = result.deletedRuns.length > 0 ? stageAndAnalyticsRunTables : expired.tables;
    for (const table of new Set([...touched, ...expired.tables]))
      await registerTable(connection(), lakeRoot, table);
    options.onEvent?.(
      `  🗑 retention: ${result.deletedRuns.length} expired run(s) deleted${result.deletedRuns.length > 0 ? ` (${result.deletedRuns.join(', ')})` : ''}; ${expired.raw} raw and ${expired.rejects} rejects file(s) past their days`,
    );
    return wrapPayload(input, { ...result, lifecycle: { raw: expired.raw, rejects: expired.rejects } });
  };

  const notify = async (input: Json): Promise<Json> => {
    mkdirSync(join(options.outboxFile, '..'), { recursive: true });
    const message = input as { TopicArn?: string; Subject?: string; Message?: Json };
    appendFileSync(
      options.outboxFile,
      `${JSON.stringify({ channel: 'sns', at: new Date().toISOString(), subject: message.Subject, message: message.Message })}\n`,
    );
    return { MessageId: `local-${Date.now()}` };
  };

  const taskStates = collectTaskStates(definition);
  taskStates.forEach(({ name, resource, functionName }) => {
    if (handlers[name]) return;
    if (functionName?.includes('RunControl')) task(name, 'run control', runControlTask);
    else if (functionName?.includes('PrepareQuery')) task(name, 'preparing a SQL step', prepare);
    else if (functionName?.includes('Retention')) task(name, 'deleting expired runs', retain);
    else if (functionName?.includes('FitModels')) task(name, 'fitting the models', fit);
    else if (functionName?.includes('WriteSummaries')) task(name, 'writing the segment summaries', summarize);
    else if (functionName?.includes('RaiseAlerts')) task(name, 'raising alerts', alert);
    else if (functionName?.includes('SendDigest')) task(name, 'sending the digest', digest);
    else if (resource.includes(':athena:startQueryExecution')) task(name, 'running a query on DuckDB', run);
    else if (resource.includes(':athena:getQueryResults')) {
      task(
        name,
        'reading query results',
        async (input) =>
          athena.getQueryResults((input as { QueryExecutionId: string }).QueryExecutionId) as Json,
      );
    } else if (resource.includes(':sns:publish')) task(name, 'writing to the outbox', notify);
    else throw new Error(`No local handler for task state "${name}" (${resource} ${functionName ?? ''})`);
  });

  const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: false } });
  const retryOverrides = Object.fromEntries(
    taskStates.map(({ name }) => [name, options.retryIntervalMs ?? 10]),
  );
  const input = options.input ?? {};
  LocalExecutions.started(executionId, startTime.toISOString(), input);
  const execution = machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: retryOverrides },
    context: { Execution: { Id: executionId, Name: executionName } },
  });

  const states: StateTiming[] = [];
  let failure: { state: string; error: string; cause: string } | undefined;
  const entered = new Map<string, number>();
  const cpuAtEntry = new Map<string, number>();
  const cpuNow = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  };
  let runDate = input.runDate;
  let gateRows: Record<string, string | null>[] = [];
  const events = (async () => {
    for await (const event of execution.eventLogs) {
      const raw = 'state' in event ? (event.state as { name: string; input?: Json }) : undefined;
      const item = (raw?.input as { name?: string } | undefined)?.name;
      const state = raw
        ? { ...raw, name: item && typeof item === 'string' ? `${raw.name} [${item}]` : raw.name }
        : undefined;
      const key = `${state?.name}#${'index' in event ? event.index : ''}`;
      if (event.type === 'StateEntered' && state) {
        entered.set(key, event.timestamp);
        cpuAtEntry.set(key, cpuNow());
      }
      const cpuSeconds = Math.round((cpuNow() - (cpuAtEntry.get(key) ?? cpuNow())) * 1000) / 1000;
      const elapsed = (event.timestamp - (entered.get(key) ?? event.timestamp)) / 1000;
      if (event.type === 'StateExited' && state) {
        // The Pass state that plans the run outputs its date.
        const settled = (event.state as { output?: { runDate?: unknown } }).output?.runDate;
        if (!runDate && typeof settled === 'string') runDate = settled;
        // An extract task's result sits under its ResultPath (`$.jobRun`); other tasks return it whole.
        const output = (event.state as { output?: { Skipped?: unknown; jobRun?: { Skipped?: unknown } } })
          .output;
        const skipped = output?.jobRun?.Skipped ?? output?.Skipped;
        if (raw?.name === 'Read quality gate') gateRows = readGateRows(event.state as { output?: Json });
        states.push({
          state: state.name,
          status: 'succeeded',
          seconds: elapsed,
          cpuSeconds,
          ...(typeof skipped === 'string' ? { detail: `skipped: ${skipped}` } : {}),
        });
        const written =
          raw?.name.startsWith('Run ') && raw.name.includes(' query') && typeof item === 'string'
            ? (rows[`stage.${item}`] ?? rows[`analytics.${item}`])
            : undefined;
        const suffix = written === undefined ? '' : `  ${written.toLocaleString('en-US')} rows`;
        options.onEvent?.(
          typeof skipped === 'string'
            ? `  - ${state.name.padEnd(44)} skipped: ${skipped}`
            : `  ✓ ${state.name.padEnd(44)} ${elapsed.toFixed(1).padStart(6)} s${suffix}`,
        );
      } else if (event.type === 'StateFailed' && state) {
        const cause =
          event.Error === 'States.Timeout'
            ? `${raw?.name} timed out after ${elapsed.toFixed(0)} s (the state's TimeoutSeconds in the definition) while ${activity.get(raw?.name ?? '') ?? 'running'}`
            : String(event.Cause);
        failure ??= { state: state.name, error: event.Error, cause };
        states.push({
          state: state.name,
          status: 'failed',
          seconds: elapsed,
          detail: `${event.Error}: ${cause}`,
        });
        options.onEvent?.(`  ✗ ${state.name.padEnd(44)} ${elapsed.toFixed(1).padStart(6)} s  ${event.Error}`);
      } else if (event.type === 'StateRetried' && state) {
        // A failure that is retried is not the run's failure.
        if (failure?.state === state.name) failure = undefined;
        states.push({
          state: state.name,
          status: 'retried',
          seconds: elapsed,
          detail: JSON.stringify(event.retry),
        });
        options.onEvent?.(`  ↻ ${state.name.padEnd(44)} retry ${JSON.stringify(event.retry)}`);
      } else if (event.type === 'StateCaught' && state) {
        states.push({
          state: state.name,
          status: 'caught',
          seconds: elapsed,
          detail: JSON.stringify(event.catch),
        });
        options.onEvent?.(`  ⚑ ${state.name.padEnd(44)} caught, going to the failure handler`);
      }
    }
  })();

  // A disabled source has no state in the definition: say so, or its absence reads as an oversight.
  for (const source of ['mysql', 'dynamodb'] as const) {
    if (!config.sources[source].enabled)
      options.onEvent?.(`  - ${`Extract ${source}`.padEnd(44)} disabled: sources.${source}.enabled is false`);
  }
  const started = Date.now();
  let summary: LocalRunSummary;
  try {
    const output = (await execution.result) as Json;
    await events;
    summary = {
      executionId,
      executionName,
      runId,
      status: 'SUCCEEDED',
      runDate: (output as { runDate?: string })?.runDate ?? runDate,
      startedAt: startTime.toISOString(),
      seconds: (Date.now() - started) / 1000,
      states,
      rows,
      queries,
      ...(fitted ? { models: fitted } : {}),
      output,
    };
  } catch (error) {
    await events.catch(() => undefined);
    const thrown = error as { name?: string; message?: string; cause?: unknown };
    summary = {
      executionId,
      executionName,
      runId,
      status: 'FAILED',
      runDate,
      startedAt: startTime.toISOString(),
      seconds: (Date.now() - started) / 1000,
      error: { error: thrown.name ?? 'Error', cause: String(thrown.cause ?? thrown.message) },
      failure,
      states,
      rows,
      queries,
      ...(fitted ? { models: fitted } : {}),
      ...(failure?.state === 'Quality gate failed' ? { failedChecks: gateRows } : {}),
    };
  } finally {
    LocalExecutions.ended(executionId);
    await ownAlertsDb?.stop();
    // A task the state machine gave up on (a timeout) may still be running a query: stop it, so the
    // process can exit now rather than when the query would have finished.
    for (const open of connections) open.interrupt();
    main.closeSync();
  }
  mkdirSync(options.runsDir, { recursive: true });
  writeFileSync(join(options.runsDir, `${executionName}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** The gate's rows in Athena's shape (a header row, then VarCharValue cells) as objects. */
function readGateRows(state: { output?: Json }): Record<string, string | null>[] {
  const rows = (state.output as { gate?: { rows?: { Data: { VarCharValue?: string }[] }[] } } | undefined)
    ?.gate?.rows;
  if (!rows || rows.length === 0) return [];
  const [header, ...data] = rows;
  const names = (header?.Data ?? []).map((cell) => cell.VarCharValue ?? '');
  return data.map((row) =>
    Object.fromEntries(names.map((name, i) => [name, row.Data[i]?.VarCharValue ?? null])),
  );
}

function withTimeouts(definition: Record<string, Json>, overrides: Readonly<Record<string, number>>) {
  if (Object.keys(overrides).length === 0) return definition;
  const copy = JSON.parse(JSON.stringify(definition)) as Record<string, Json>;
  forEachState(copy, (name, state) => {
    const seconds = overrides[name];
    if (state.Type === 'Task' && seconds !== undefined) state.TimeoutSeconds = seconds;
  });
  return copy;
}

/** Visits every state of the definition, Map and Parallel branches included. */
function forEachState(
  definition: Record<string, Json>,
  visit: (name: string, state: Record<string, Json>) => void,
): void {
  const walk = (states: Record<string, Json>) => {
    for (const [name, state] of Object.entries(states)) {
      const s = state as Record<string, Json>;
      visit(name, s);
      const processor = (s.ItemProcessor ?? s.Iterator) as { States?: Record<string, Json> } | undefined;
      if (processor?.States) walk(processor.States);
      for (const branch of (s.Branches as { States: Record<string, Json> }[] | undefined) ?? [])
        walk(branch.States);
    }
  };
  walk(definition.States as Record<string, Json>);
}

/** Every Task state of the definition, Map and Parallel branches included. */
export function collectTaskStates(
  definition: Record<string, Json>,
): { name: string; resource: string; functionName?: string }[] {
  const found: { name: string; resource: string; functionName?: string }[] = [];
  forEachState(definition, (name, state) => {
    if (state.Type !== 'Task') return;
    const resource = String(state.Resource);
    // A Lambda task names its function in Parameters, or (payload only) as the resource itself.
    const named = (state.Parameters as { FunctionName?: Json } | undefined)?.FunctionName;
    const functionName =
      typeof named === 'string' ? named : resource.includes(':states:::') ? undefined : resource;
    found.push({ name, resource, ...(functionName ? { functionName } : {}) });
  });
  return found;
}
