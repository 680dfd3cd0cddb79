import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection } from '@duckdb/node-api';
import { App } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import { buildApp } from '../app.js';
import type { Customer360Config } from '../config/schema.js';
import { prepareQuery, prepareQueryInputSchema } from '../pipeline/queries.js';
import { rawDynamodbInteractions, rawHistoryOrders, rawTables } from '../schema/tables.js';
import { loadModels } from '../sql/models.js';
import { AthenaTaskError, folderLakeStore, LOCAL_NAMES, LocalAthena } from './athena.js';
import { extractDynamoDb } from './extract-dynamodb.js';
import { extractHistory } from './extract-history.js';
import { extractMysql, type MysqlSource } from './extract-mysql.js';
import { registerTable } from './sql-runner.js';

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
  // Bundling the Lambda code is only needed for deployment.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const { stack } = buildApp(config, app);
  const assembly = app.synth({ validateOnSynthesis: false });
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Type: string; Properties: { DefinitionString?: CfnValue } }>;
  };
  const machines = Object.values(template.Resources).filter(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
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
  readonly dynamodb?: { readonly client: DynamoDBClient; readonly tableName: string };
  readonly historyDir?: string;
}

export interface LocalRunOptions {
  readonly config: Customer360Config;
  readonly lakeRoot: string;
  readonly engine: DuckDBConnection;
  readonly sources: LocalSources;
  /** Where SNS and SES messages are written, one JSON object per line. */
  readonly outboxFile: string;
  /** Folder for run summaries (`c360 status`). */
  readonly runsDir: string;
  /**
   * Execution input: `{}` runs the start date in full; `{ runDate }` rebuilds a date from the raw
   * zone without extracting or publishing; `{ runDate, full: true }` extracts and publishes for it.
   */
  readonly input?: { readonly runDate?: string; readonly full?: boolean };
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
}

export interface StateTiming {
  readonly state: string;
  readonly status: 'succeeded' | 'failed' | 'retried' | 'caught';
  readonly seconds: number;
  readonly detail?: string;
}

export interface LocalRunSummary {
  readonly executionId: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly runDate?: string;
  readonly startedAt: string;
  readonly seconds: number;
  readonly error?: { readonly error: string; readonly cause: string };
  /** The first state that failed, with its item (a model name inside a Map) and the cause. */
  readonly failure?: { readonly state: string; readonly error: string; readonly cause: string };
  readonly states: readonly StateTiming[];
  readonly rows: Readonly<Record<string, number>>;
  readonly output?: Json;
}

/**
 * Runs the synthesized state machine on this machine with aws-local-stepfunctions. Ordering,
 * parallel branches, choices, retries and catches all come from the definition; this file only
 * answers each Task state the way its AWS service would, on local engines: Glue jobs by the local
 * extractors, Lambda by the handler's core function, Athena by DuckDB, SNS by an outbox file.
 */
export async function runPipelineLocally(options: LocalRunOptions): Promise<LocalRunSummary> {
  const { config, lakeRoot, engine } = options;
  const definition = synthesizedDefinition(config);
  const models = loadModels();
  const athena = new LocalAthena(engine, lakeRoot);
  const lake = folderLakeStore(lakeRoot);
  const rows: Record<string, number> = {};
  const startTime = options.startTime ?? new Date();
  const executionId = `local-${startTime.toISOString().replace(/[:.]/g, '-')}`;

  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  const task = (name: string, handler: (input: Json) => Promise<Json>) => {
    handlers[name] = async (input) => {
      await options.interceptTask?.(name, input);
      return handler(input);
    };
  };
  const ingestDate = (input: Json): string => {
    const date = (input as { Arguments?: Record<string, string> }).Arguments?.['--ingest_date'];
    if (!date) throw new AthenaTaskError('States.TaskFailed', 'Glue job started without --ingest_date');
    return date;
  };

  task('Extract mysql', async (input) => {
    if (!options.sources.mysql)
      return { JobRunState: 'SUCCEEDED', Skipped: 'no MySQL source configured' } as Json;
    const results = await extractMysql({
      source: options.sources.mysql,
      engine,
      lakeRoot,
      ingestDate: ingestDate(input),
      tables: config.sources.mysql.tables,
    });
    for (const table of rawTables)
      if (table.name.startsWith('mysql_')) await registerTable(engine, lakeRoot, table);
    for (const r of results) rows[`raw.mysql_${r.table} (new)`] = r.rows;
    return { JobRunState: 'SUCCEEDED' };
  });
  task('Extract dynamodb', async (input) => {
    if (!options.sources.dynamodb)
      return { JobRunState: 'SUCCEEDED', Skipped: 'no DynamoDB source configured' } as Json;
    const result = await extractDynamoDb({
      ...options.sources.dynamodb,
      engine,
      lakeRoot,
      ingestDate: ingestDate(input),
    });
    await registerTable(engine, lakeRoot, rawDynamodbInteractions);
    rows['raw.dynamodb_interactions (new)'] = result.rows;
    return { JobRunState: 'SUCCEEDED' };
  });
  task('Extract history', async (input) => {
    if (!options.sources.historyDir)
      return { JobRunState: 'SUCCEEDED', Skipped: 'no history folder configured' } as Json;
    const result = await extractHistory({
      historyDir: options.sources.historyDir,
      config: config.sources.history,
      engine,
      lakeRoot,
      ingestDate: ingestDate(input),
    });
    await registerTable(engine, lakeRoot, rawHistoryOrders);
    rows['raw.history_orders (new)'] = result.rows;
    return { JobRunState: 'SUCCEEDED' };
  });

  const prepare = async (input: Json): Promise<Json> => {
    const payload = prepareQueryInputSchema.parse((input as { Payload?: Json }).Payload ?? input);
    const prepared = await prepareQuery(payload, {
      models,
      config,
      databases: LOCAL_NAMES,
      buckets: LOCAL_NAMES,
      lake,
    });
    return { Payload: { ...prepared } as Json, StatusCode: 200 };
  };
  const run = async (input: Json): Promise<Json> => {
    const { QueryString } = input as { QueryString: string };
    const target = /TO 's3:\/\/([a-z]+)\/([a-z0-9_]+)\/run_date=(\d{4}-\d{2}-\d{2})\//.exec(QueryString);
    const execution = await athena.startQueryExecution(QueryString);
    if (target) {
      const [, zone, table, date] = target;
      const counted = await engine.runAndReadAll(
        `SELECT count(*) AS n FROM ${zone}.${table} WHERE run_date = DATE '${date}'`,
      );
      rows[`${zone}.${table}`] = Number(counted.getRowObjectsJson()[0]?.n ?? 0);
    }
    return {
      QueryExecution: { QueryExecutionId: execution.QueryExecutionId, Status: { State: execution.State } },
    };
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
  taskStates.forEach(({ name, resource }) => {
    if (handlers[name]) return;
    if (resource.includes(':lambda:invoke')) task(name, prepare);
    else if (resource.includes(':athena:startQueryExecution')) task(name, run);
    else if (resource.includes(':athena:getQueryResults')) {
      task(
        name,
        async (input) =>
          athena.getQueryResults((input as { QueryExecutionId: string }).QueryExecutionId) as Json,
      );
    } else if (resource.includes(':sns:publish')) task(name, notify);
    else throw new Error(`No local handler for task state "${name}" (${resource})`);
  });

  const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: false } });
  const retryOverrides = Object.fromEntries(
    taskStates.map(({ name }) => [name, options.retryIntervalMs ?? 10]),
  );
  // aws-local-stepfunctions always stamps $$.Execution.StartTime with the real clock, so a chosen
  // start time is passed the only other way the definition accepts a date: as the input's runDate.
  const input: { runDate?: string; full?: boolean } =
    options.startTime && options.input?.runDate === undefined
      ? { ...options.input, runDate: startTime.toISOString().slice(0, 10), full: true }
      : (options.input ?? {});
  const execution = machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: retryOverrides },
    context: { Execution: { Id: executionId } },
  });

  const states: StateTiming[] = [];
  let failure: { state: string; error: string; cause: string } | undefined;
  const entered = new Map<string, number>();
  let runDate = input.runDate;
  const events = (async () => {
    for await (const event of execution.eventLogs) {
      const raw = 'state' in event ? (event.state as { name: string; input?: Json }) : undefined;
      const item = (raw?.input as { name?: string } | undefined)?.name;
      const state = raw
        ? { ...raw, name: item && typeof item === 'string' ? `${raw.name} [${item}]` : raw.name }
        : undefined;
      const key = `${state?.name}#${'index' in event ? event.index : ''}`;
      if (event.type === 'StateEntered' && state) entered.set(key, event.timestamp);
      const elapsed = (event.timestamp - (entered.get(key) ?? event.timestamp)) / 1000;
      if (event.type === 'StateExited' && state) {
        // The Pass state that settles the run date (from the input or the start time) outputs it.
        const settled = (event.state as { output?: { runDate?: unknown } }).output?.runDate;
        if (!runDate && typeof settled === 'string') {
          runDate = settled;
        }
        states.push({ state: state.name, status: 'succeeded', seconds: elapsed });
        const written =
          raw?.name.startsWith('Run ') && raw.name.includes(' query') && typeof item === 'string'
            ? (rows[`stage.${item}`] ?? rows[`analytics.${item}`])
            : undefined;
        const suffix = written === undefined ? '' : `  ${written.toLocaleString('en-US')} rows`;
        options.onEvent?.(`  ✓ ${state.name.padEnd(44)} ${elapsed.toFixed(1).padStart(6)} s${suffix}`);
      } else if (event.type === 'StateFailed' && state) {
        failure ??= { state: state.name, error: event.Error, cause: String(event.Cause) };
        states.push({
          state: state.name,
          status: 'failed',
          seconds: elapsed,
          detail: `${event.Error}: ${event.Cause}`,
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

  const started = Date.now();
  let summary: LocalRunSummary;
  try {
    const output = (await execution.result) as Json;
    await events;
    summary = {
      executionId,
      status: 'SUCCEEDED',
      runDate: (output as { runDate?: string })?.runDate ?? runDate,
      startedAt: startTime.toISOString(),
      seconds: (Date.now() - started) / 1000,
      states,
      rows,
      output,
    };
  } catch (error) {
    await events.catch(() => undefined);
    const thrown = error as { name?: string; message?: string; cause?: unknown };
    summary = {
      executionId,
      status: 'FAILED',
      runDate,
      startedAt: startTime.toISOString(),
      seconds: (Date.now() - started) / 1000,
      error: { error: thrown.name ?? 'Error', cause: String(thrown.cause ?? thrown.message) },
      failure,
      states,
      rows,
    };
  }
  mkdirSync(options.runsDir, { recursive: true });
  writeFileSync(join(options.runsDir, `${executionId}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Every Task state of the definition, Map and Parallel branches included. */
export function collectTaskStates(definition: Record<string, Json>): { name: string; resource: string }[] {
  const found: { name: string; resource: string }[] = [];
  const walk = (states: Record<string, Json>) => {
    for (const [name, state] of Object.entries(states)) {
      const s = state as Record<string, Json>;
      if (s.Type === 'Task') found.push({ name, resource: String(s.Resource) });
      const processor = (s.ItemProcessor ?? s.Iterator) as { States?: Record<string, Json> } | undefined;
      if (processor?.States) walk(processor.States);
      for (const branch of (s.Branches as { States: Record<string, Json> }[] | undefined) ?? [])
        walk(branch.States);
    }
  };
  walk(definition.States as Record<string, Json>);
  return found;
}
