import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { MODEL_OUTPUT_TABLES, SUMMARY_OUTPUT_TABLES } from '../lib/constructs/pipeline.js';
import { generateDataset, type Manifest } from '../lib/generate/index.js';
import { AthenaTaskError } from '../lib/local/athena.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { tableGlob } from '../lib/local/lake.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import {
  type LocalRunOptions,
  type LocalRunSummary,
  runPipelineLocally,
} from '../lib/local/pipeline-runner.js';
import { prepareEngine, registerLake, renderModel } from '../lib/local/sql-runner.js';
import {
  duckdbConformingSelect,
  glueColumns,
  glueTypeFromParquet,
  type ParquetColumnInfo,
} from '../lib/schema/derive.js';
import { allTables, analyticsTables, stageTables } from '../lib/schema/tables.js';
import { loadModels } from '../lib/sql/models.js';
import { pipelineParameters } from '../lib/sql/parameters.js';

/*
 * The state machine that CDK synthesizes, run end to end on this machine over real local sources:
 * a throwaway MariaDB, dynalite, history files, and DuckDB over a Parquet lake laid out as in S3.
 */
const RUN_DATE = '2025-06-30';
// The generator plants history rows delivered twice (`duplicate_row`) in files without order ids: a
// source that re-delivers rows, which is what sources.history.identicalRowsAreDuplicates is for.
const configInput = { sources: { history: { identicalRowsAreDuplicates: true } } };
const config = parseConfig(configInput);

describe('the synthesized state machine, run locally', () => {
  let mariadb: LocalMariaDb;
  let dynamodb: LocalDynamoDb;
  let client: DynamoDBClient;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  const root = mkdtempSync(join(tmpdir(), 'c360-pipeline-'));
  const lake = join(root, 'lake');
  const outboxFile = join(root, 'outbox.jsonl');
  let options: LocalRunOptions;
  let manifest: Manifest;

  let first: LocalRunSummary;
  /** Every row a run wrote, without the run id (two runs of the same data must be equal). */
  const snapshot = async (run: { runDate?: string; runId?: string }, tables = analyticsTables) => {
    const result: Record<string, unknown[]> = {};
    for (const table of tables.filter((t) => t.partitionKeys.some((k) => k.name === 'run_id'))) {
      const reader = await engine.runAndReadAll(
        `SELECT * EXCLUDE (run_id) FROM ${table.zone}.${table.name}
         WHERE run_date = DATE '${run.runDate}' AND run_id = '${run.runId}' ORDER BY ALL`,
      );
      result[table.name] = reader.getRowObjectsJson();
    }
    return result;
  };
  /** What dashboards see: every `_latest` view, whole (run id included). */
  const published = async () => {
    const result: Record<string, unknown[]> = {};
    for (const table of analyticsTables.filter((t) => t.partitionKeys.length > 0)) {
      const reader = await engine.runAndReadAll(`SELECT * FROM analytics.${table.name}_latest ORDER BY ALL`);
      result[table.name] = reader.getRowObjectsJson();
    }
    return result;
  };
  /** SNS alerts in the outbox (the failure notices have no kind attribute). */
  const alertsInOutbox = () =>
    readFileSync(outboxFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((m) => m.channel === 'sns' && (m.MessageAttributes as { kind?: unknown } | undefined)?.kind);
  const outbox = () =>
    readFileSync(outboxFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { subject: string; message: Record<string, unknown> });

  beforeAll(async () => {
    [mariadb, dynamodb] = await Promise.all([LocalMariaDb.start(), LocalDynamoDb.start()]);
    client = dynamodb.client();
    const tableName = config.sources.dynamodb.interactionsTableName;
    ({ manifest } = await generateDataset(
      { customers: 400, seed: 'local-pipeline', end: RUN_DATE },
      {
        mysql: { connection: mariadb.connection },
        dynamodb: { client, tableName },
        historyDir: join(root, 'history'),
      },
    ));
    ({ instance, connection: engine } = await openLocalEngine({
      tempDirectory: join(root, 'tmp'),
      memoryLimit: '2GB',
    }));
    await prepareEngine(engine);
    await registerLake(engine, lake);
    options = {
      config,
      lakeRoot: lake,
      engine: instance,
      sources: {
        mysql: mariadb.connection,
        dynamodb: { client, tableName },
        historyDir: join(root, 'history'),
      },
      // Sent alerts are remembered in the local DynamoDB, across runs, as in the cloud.
      alertsStore: { client, tableName: 'customer360-sent-alerts' },
      outboxFile,
      runsDir: join(root, 'runs'),
      startTime: new Date(`${RUN_DATE}T05:00:00Z`),
    };
  }, 300_000);

  afterAll(async () => {
    client?.destroy();
    await Promise.allSettled([mariadb?.stop(), dynamodb?.stop()]);
    engine?.closeSync();
    instance?.closeSync();
  });

  it('runs end to end: every stage and analytics table gets the run date, and latest views are published', async () => {
    const summary = await runPipelineLocally(options);
    first = summary;

    expect(summary.failure).toBeUndefined();
    expect(summary).toMatchObject({ status: 'SUCCEEDED', runDate: RUN_DATE });
    expect(summary.runId).toMatch(/^local-/);
    const tables = await snapshot(summary, [...stageTables, ...analyticsTables]);
    for (const [name, rows] of Object.entries(tables)) {
      // a first run has no base snapshot, so no source deletes to list
      if (name === 'rejects' || name === 'data_quality' || name === 'source_deletes') continue;
      expect(rows.length, name).toBeGreaterThan(0);
    }
    // One customer_360 row per unified customer.
    expect(tables.customer_360?.length).toBe(tables.customers?.length);
    const latest = await engine.runAndReadAll(
      'SELECT count(*) AS n, min(run_id) AS run_id FROM analytics.customer_360_latest',
    );
    expect(latest.getRowObjectsJson()).toEqual([
      { n: String(tables.customer_360?.length), run_id: summary.runId },
    ]);
    // The models were fitted inside the run, between the marts and the scoring marts.
    const names = summary.states.map((s) => s.state);
    expect(names.indexOf('Fit models')).toBeGreaterThan(
      names.findLastIndex((s) => s.startsWith('Build marts')),
    );
    expect(names.indexOf('Fit models')).toBeLessThan(names.findIndex((s) => s.startsWith('Score models')));
    const fitted = await engine.runAndReadAll(
      'SELECT model, cutoff_role, status FROM analytics.model_runs_latest ORDER BY model, cutoff_role',
    );
    expect(fitted.getRowObjectsJson().map((r) => `${r.model}/${r.cutoff_role}`)).toEqual([
      'bgnbd/evaluate',
      'bgnbd/score',
      'bgnbd/train',
      'churn/evaluate',
      'gamma_gamma/score',
      'kmeans/score',
    ]);
    // Every buyer is scored by the models: a CLV row, a churn probability and a K-Means segment.
    const scored = await engine.runAndReadAll(
      `SELECT count(*) FILTER (WHERE lifetime_orders > 0) AS buyers,
              count(lifetime_value) AS valued, count(churn_probability) AS churn_scored,
              count(kmeans_segment) AS segmented
       FROM analytics.customer_360_latest`,
    );
    const counts = scored.getRowObjectsJson()[0];
    expect(counts?.valued).toBe(counts?.buyers);
    expect(counts?.churn_scored).toBe(counts?.buyers);
    expect(counts?.segmented).toBe(counts?.buyers);
    // After publishing, the run's fraud flags went out as alerts (the generator plants some), and every
    // segment has a summary (the template: no Bedrock in tests).
    const alerts = alertsInOutbox();
    expect(alerts.length).toBeGreaterThan(0);
    expect(
      alerts.map((a) => (a.MessageAttributes as { kind: { StringValue: string } }).kind.StringValue),
    ).toContain('fraud');
    const summaries = await engine.runAndReadAll(
      'SELECT source, count(*) AS n FROM analytics.segment_summaries_latest GROUP BY ALL',
    );
    expect(summaries.getRowObjectsJson()).toEqual([{ source: 'template', n: expect.any(String) }]);
    const record = await engine.runAndReadAll(
      'SELECT CAST(run_date AS VARCHAR) AS run_date, run_id, previous_run_id, is_forced FROM analytics.published_runs',
    );
    expect(record.getRowObjectsJson()).toEqual([
      { run_date: RUN_DATE, run_id: summary.runId, previous_run_id: null, is_forced: false },
    ]);
  });

  it('quarantines exactly the dirty records the generator planted, each with the matching reason', async () => {
    const dirty = manifest.anomalies.dirty as Record<string, Record<string, number>>;
    const planted = (source: string, kind: string) => dirty[source]?.[kind] ?? 0;
    const expected: Record<string, number> = {
      'mysql.orders/missing_key': planted('mysql.orders', 'null_customer_id'),
      'mysql.orders/unknown_customer': planted('mysql.orders', 'unknown_customer'),
      'mysql.orders/negative_amount': planted('mysql.orders', 'negative_amount'),
      'mysql.orders/unparseable_date':
        planted('mysql.orders', 'zero_order_date') + planted('mysql.orders', 'invalid_order_date'),
      'mysql.order_items/missing_key': planted('mysql.order_items', 'null_product_id'),
      'mysql.order_items/unknown_product': planted('mysql.order_items', 'unknown_product'),
      'dynamodb.interactions/missing_key': planted('dynamodb.interactions', 'missing_event_id'),
      // `customer#undefined` names no customer, like an id MySQL does not know.
      'dynamodb.interactions/unknown_customer':
        planted('dynamodb.interactions', 'null_customer_key') +
        planted('dynamodb.interactions', 'unknown_customer'),
      'dynamodb.interactions/unparseable_date': planted('dynamodb.interactions', 'unparseable_event_at'),
      'dynamodb.interactions/duplicate_id': planted('dynamodb.interactions', 'duplicate_event_id'),
      'history.orders/missing_key': planted('history', 'missing_customer'),
      'history.orders/negative_amount': planted('history', 'negative_amount'),
      'history.orders/unparseable_date': planted('history', 'unparseable_date'),
      'history.orders/duplicate_id': planted('history', 'duplicate_row'),
    };
    const reader = await engine.runAndReadAll(
      `SELECT source || '/' || reason AS kind, count(*) AS n FROM stage.rejects
       WHERE run_date = DATE '${RUN_DATE}' AND run_id = '${first.runId}' GROUP BY ALL ORDER BY ALL`,
    );
    const found = Object.fromEntries(reader.getRowObjectsJson().map((r) => [String(r.kind), Number(r.n)]));
    // Besides what was planted, only consequences: lines of quarantined orders, and events of visitors
    // who never identified themselves.
    const consequences = ['mysql.order_items/unknown_order', 'dynamodb.interactions/anonymous_visitor'];
    const plantedFound = Object.fromEntries(
      Object.entries(found).filter(([kind]) => !consequences.includes(kind)),
    );
    expect(plantedFound).toEqual(Object.fromEntries(Object.entries(expected).filter(([, n]) => n > 0)));
  });

  it('flags exactly the fraud customers the generator planted', async () => {
    const reader = await engine.runAndReadAll(
      `SELECT customer_id FROM analytics.fraud_flags_latest WHERE is_flagged ORDER BY 1`,
    );
    const planted = (manifest.anomalies.fraud as { customerIds: number[] }).customerIds;
    expect(planted.length).toBeGreaterThan(0);
    expect(reader.getRowObjectsJson().map((r) => Number(r.customer_id))).toEqual(
      [...planted].sort((a, b) => a - b),
    );
  });

  it('writes Parquet whose types are exactly the Glue definitions, for every table of every zone', async () => {
    // stage.suppressed_keys holds files only once a customer is erased (test/erase.test.ts checks its types).
    for (const table of allTables.filter((t) => t.name !== 'suppressed_keys')) {
      const reader = await engine.runAndReadAll(
        `SELECT name, type, converted_type, logical_type, precision, scale
         FROM parquet_schema('${tableGlob(lake, table)}') WHERE num_children IS NULL`,
      );
      const files = new Map<string, string>();
      for (const column of reader.getRowObjectsJson() as unknown as ParquetColumnInfo[]) {
        files.set(column.name, glueTypeFromParquet(column));
      }
      const declared = glueColumns(table.columns).map((c) => [c.name, c.type]);
      expect([...files.entries()], `${table.zone}.${table.name}`).toEqual(declared);
    }
  });

  it('produces through Athena statements exactly what the tested SQL models produce on DuckDB', async () => {
    const models = loadModels();
    // The first run had no published snapshot before it: its snapshots were built from all of raw.
    const parameters = pipelineParameters(config, RUN_DATE, first.runId ?? '', {
      runDate: RUN_DATE,
      runId: first.runId ?? '',
      rawFromDate: '1970-01-01',
    });
    const sqlTables = [...stageTables, ...analyticsTables].filter(
      (t) =>
        t.partitionKeys.length > 0 && ![...MODEL_OUTPUT_TABLES, ...SUMMARY_OUTPUT_TABLES].includes(t.name),
    );
    for (const table of sqlTables) {
      const model = models.get(table.name);
      if (!model) throw new Error(`no model for ${table.name}`);
      const direct = duckdbConformingSelect(table, renderModel(model, models, parameters));
      const columns = table.columns.map((c) => `"${c.name}"`).join(', ');
      const written = `SELECT ${columns} FROM ${table.zone}.${table.name} WHERE run_date = DATE '${RUN_DATE}' AND run_id = '${first.runId}'`;
      const difference = await engine.runAndReadAll(
        `SELECT count(*) AS n FROM ((${direct}) EXCEPT ALL (${written})) UNION ALL SELECT count(*) FROM ((${written}) EXCEPT ALL (${direct}))`,
      );
      expect(
        difference.getRowObjectsJson().map((r) => Number(r.n)),
        table.name,
      ).toEqual([0, 0]);
    }
  });

  it('reruns a date in full with identical analytics and no duplicates', async () => {
    const before = await snapshot(first);

    const alertsBefore = alertsInOutbox().length;
    const rerun = await runPipelineLocally({ ...options, input: { runDate: RUN_DATE, full: true } });
    // The same customers, the same reasons: nothing is alerted twice within the window.
    expect(alertsInOutbox()).toHaveLength(alertsBefore);

    expect(rerun.status).toBe('SUCCEEDED');
    expect(rerun.runId).not.toBe(first.runId);
    // Nothing changed at the sources, so the second extraction found nothing new.
    expect(rerun.rows['raw.mysql_orders (new)']).toBe(0);
    expect(rerun.rows['raw.dynamodb_interactions (new)']).toBe(0);
    expect(await snapshot(rerun)).toEqual(before);
    const latest = await engine.runAndReadAll('SELECT DISTINCT run_id FROM analytics.rfm_latest');
    expect(latest.getRowObjectsJson()).toEqual([{ run_id: rerun.runId }]);
    first = rerun;
  });

  it('rebuilds a given date from the raw zone as it stands: no extraction, no publishing', async () => {
    const later = '2025-07-02';
    const before = await published();

    const rebuild = await runPipelineLocally({ ...options, input: { runDate: later } });

    expect(rebuild.status).toBe('SUCCEEDED');
    const ran = new Set(rebuild.states.map((s) => s.state));
    expect(ran.has('Extract sources')).toBe(false);
    expect(ran.has('Publish latest views')).toBe(false);
    expect(ran.has('Rebuilt')).toBe(true);
    // The date has its own partitions, built from the raw rows ingested up to it...
    const rebuilt = await snapshot(rebuild);
    expect(rebuilt.customer_360?.length).toBeGreaterThan(0);
    // ...while the dashboards' views still show the last published run, exactly.
    expect(await published()).toEqual(before);
  });

  it('a failed run of the published date leaves every published view exactly as it was', async () => {
    const before = await published();

    const summary = await runPipelineLocally({
      ...options,
      input: { runDate: RUN_DATE, full: true },
      interceptTask: (state, input) => {
        // What a bad threshold did on main: the marts fail after the stage tables were rewritten.
        if (state === 'Run mart query wave 1' && JSON.stringify(input).includes('/rfm/'))
          throw new AthenaTaskError('States.TaskFailed', 'Athena query failed: NUMERIC_VALUE_OUT_OF_RANGE');
      },
    });

    expect(summary.status).toBe('FAILED');
    expect(summary.failure?.state).toBe('Run mart query wave 1 [rfm]');
    expect(await published()).toEqual(before);
    // The published run's stage snapshot is untouched too: the failed run wrote only its own run id.
    expect(await snapshot(first, stageTables)).toEqual(await snapshot(first, stageTables));
    const stageRuns = await engine.runAndReadAll(
      `SELECT DISTINCT run_id FROM stage.orders WHERE run_date = DATE '${RUN_DATE}' AND run_id = '${first.runId}'`,
    );
    expect(stageRuns.getRowObjectsJson()).toEqual([{ run_id: first.runId }]);
  });

  it('never publishes an older date over a newer one unless forced', async () => {
    const newer = await runPipelineLocally({ ...options, input: { runDate: '2025-07-02', full: true } });
    expect(newer.status).toBe('SUCCEEDED');
    const before = await published();

    // A late catch-up of the earlier date must not move the dashboards back in time; it is refused
    // before it extracts anything.
    const refused = await runPipelineLocally({ ...options, input: { runDate: RUN_DATE, full: true } });

    expect(refused.status).toBe('FAILED');
    expect(refused.failure).toMatchObject({ state: 'Begin run', error: 'OlderThanPublished' });
    expect(refused.states.some((s) => s.state === 'Extract sources')).toBe(false);
    expect(refused.failure?.cause).toContain('"force": true');
    expect(await published()).toEqual(before);

    const forced = await runPipelineLocally({
      ...options,
      input: { runDate: RUN_DATE, full: true, force: true },
    });

    expect(forced.status).toBe('SUCCEEDED');
    const latest = await engine.runAndReadAll(
      'SELECT DISTINCT CAST(run_date AS VARCHAR) AS d, run_id FROM analytics.rfm_latest',
    );
    expect(latest.getRowObjectsJson()).toEqual([{ d: RUN_DATE, run_id: forced.runId }]);
    const record = await engine.runAndReadAll(
      `SELECT previous_run_id, is_forced FROM analytics.published_runs WHERE run_id = '${forced.runId}'`,
    );
    expect(record.getRowObjectsJson()).toEqual([{ previous_run_id: newer.runId, is_forced: true }]);
    first = forced;
  });

  it('lets exactly one of two executions of the same date run, and the other says which one it yields to', async () => {
    const [a, b] = await Promise.all([
      runPipelineLocally({ ...options, input: { runDate: '2025-07-03' } }),
      runPipelineLocally({ ...options, input: { runDate: '2025-07-03' } }),
    ]);

    const outcomes = [a.status, b.status].sort();
    expect(outcomes).toEqual(['FAILED', 'SUCCEEDED']);
    const loser = a.status === 'FAILED' ? a : b;
    const winner = a.status === 'FAILED' ? b : a;
    expect(loser.failure).toMatchObject({ state: 'Begin run', error: 'ConcurrentRun' });
    expect(loser.failure?.cause).toContain(winner.executionId);
    // It stopped before writing anything.
    expect(Object.keys(loser.rows)).toEqual([]);
  });

  it('retries Athena throttling, then catches a permanent error into one failure notification', async () => {
    let calls = 0;
    const summary = await runPipelineLocally({
      ...options,
      input: { runDate: RUN_DATE },
      interceptTask: (state, input) => {
        if (state !== 'Run stage query wave 3' || !JSON.stringify(input).includes('/orders/run_date='))
          return;
        calls += 1;
        if (calls <= 2) throw new AthenaTaskError('Athena.TooManyRequestsException', 'Rate exceeded');
        throw new AthenaTaskError(
          'States.TaskFailed',
          'Athena query failed: HIVE_METASTORE_ERROR (simulated)',
        );
      },
    });

    expect(calls).toBe(3);
    expect(summary.status).toBe('FAILED');
    expect(
      summary.states.filter((s) => s.status === 'retried' && s.state === 'Run stage query wave 3 [orders]'),
    ).toHaveLength(2);
    expect(summary.failure).toMatchObject({
      state: 'Run stage query wave 3 [orders]',
      error: 'States.TaskFailed',
    });
    const notice = outbox().at(-1);
    expect(notice?.subject).toBe('Customer 360 pipeline failed');
    expect(notice?.message).toMatchObject({
      event: 'pipeline_failed',
      failedState: 'Build stage tables wave 3',
      runDate: RUN_DATE,
      error: {
        Error: 'States.TaskFailed',
        Cause: expect.stringContaining('HIVE_METASTORE_ERROR (simulated)'),
      },
      published: expect.stringContaining('Unchanged'),
      retry: expect.stringContaining('start a new execution with the same input'),
    });
  });

  it('reports a failure of Raise alerts after publishing, and leaves the run published', async () => {
    const summary = await runPipelineLocally({
      ...options,
      input: { runDate: RUN_DATE, full: true },
      interceptTask: (state) => {
        if (state === 'Raise alerts')
          throw Object.assign(new Error('SNS is down (simulated)'), { name: 'InternalError' });
      },
    });

    expect(summary.status).toBe('FAILED');
    expect(summary.failure).toMatchObject({ state: 'Raise alerts' });
    const latest = await engine.runAndReadAll('SELECT DISTINCT run_id FROM analytics.customer_360_latest');
    expect(latest.getRowObjectsJson()).toEqual([{ run_id: summary.runId }]);
    const notice = outbox().at(-1);
    expect(notice?.subject).toBe('Customer 360 run published, but its alerts or digest failed');
    expect(notice?.message).toMatchObject({
      event: 'notifications_failed',
      failedState: 'Raise alerts',
      runDate: RUN_DATE,
      published: expect.stringContaining('the run is published'),
    });
  });

  it('catches a failure of Write segment summaries before publishing: nothing is published', async () => {
    const before = await engine.runAndReadAll('SELECT DISTINCT run_id FROM analytics.customer_360_latest');
    const summary = await runPipelineLocally({
      ...options,
      input: { runDate: RUN_DATE, full: true },
      interceptTask: (state) => {
        if (state === 'Write segment summaries')
          throw Object.assign(new Error('bad figures (simulated)'), { name: 'ZodError' });
      },
    });

    expect(summary.failure).toMatchObject({ state: 'Write segment summaries' });
    const after = await engine.runAndReadAll('SELECT DISTINCT run_id FROM analytics.customer_360_latest');
    expect(after.getRowObjectsJson()).toEqual(before.getRowObjectsJson());
    expect(outbox().at(-1)?.message).toMatchObject({
      event: 'pipeline_failed',
      failedState: 'Write segment summaries',
      published: expect.stringContaining('Unchanged'),
    });
  });

  it('sends one digest per published run date to the recipients; a failed digest is reported', async () => {
    const withDigest = parseConfig({
      ...configInput,
      alerts: { emailRecipients: ['ops@example.com'], senderEmail: 'c360@example.com' },
    });
    const digests = () =>
      readFileSync(outboxFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((m) => m.channel === 'ses');
    const failed = await runPipelineLocally({
      ...options,
      config: withDigest,
      input: { runDate: RUN_DATE, full: true },
      interceptTask: (state) => {
        if (state === 'Send digest')
          throw Object.assign(new Error('Email address is not verified (simulated)'), {
            name: 'MessageRejected',
          });
      },
    });
    expect(failed.failure).toMatchObject({ state: 'Send digest' });
    expect(outbox().at(-1)?.message).toMatchObject({
      event: 'notifications_failed',
      failedState: 'Send digest',
    });
    expect(digests()).toHaveLength(0);

    const sent = await runPipelineLocally({
      ...options,
      config: withDigest,
      input: { runDate: RUN_DATE, full: true },
    });
    expect(sent.status).toBe('SUCCEEDED');
    expect(digests()).toHaveLength(1);
    expect(digests()[0]).toMatchObject({
      FromEmailAddress: 'c360@example.com',
      Destination: { ToAddresses: ['ops@example.com'] },
      Content: { Simple: { Body: { Html: expect.anything(), Text: expect.anything() } } },
    });
    // A rerun of the date sends no second digest.
    await runPipelineLocally({ ...options, config: withDigest, input: { runDate: RUN_DATE, full: true } });
    expect(digests()).toHaveLength(1);
  });

  it('names the state and what it was doing when a task times out, and returns at once', async () => {
    const started = Date.now();

    const summary = await runPipelineLocally({
      ...options,
      input: { runDate: RUN_DATE, full: true },
      timeoutOverrides: { 'Extract history': 2 },
      interceptTask: async (state) => {
        // A history file that never ends (a 50 MB line on main): the task never answers.
        if (state === 'Extract history') await new Promise(() => undefined);
      },
    });

    expect(summary.status).toBe('FAILED');
    expect(summary.failure).toMatchObject({ state: 'Extract history', error: 'States.Timeout' });
    expect(summary.failure?.cause).toMatch(
      /^Extract history timed out after \d+ s \(the state's TimeoutSeconds in the definition\) while landing the history files of /,
    );
    expect((Date.now() - started) / 1000).toBeLessThan(60);
    const notice = outbox().at(-1);
    expect(notice?.message).toMatchObject({ event: 'pipeline_failed', failedState: 'Extract sources' });
  });

  it('stops at the quality gate and publishes nothing when a blocking check fails', async () => {
    const nextDay = '2025-07-01';
    const summary = await runPipelineLocally({
      ...options,
      // No source may have any rejects: the planted dirty records fail the reject-share check.
      config: parseConfig({ analysis: { maxRejectShare: 0 } }),
      input: { runDate: nextDay },
    });

    expect(summary.status).toBe('FAILED');
    expect(summary.failure?.state).toBe('Quality gate failed');
    const notice = outbox().at(-1);
    expect(notice?.message).toMatchObject({ event: 'quality_gate_failed', runDate: nextDay });
    expect(JSON.stringify(notice?.message.failedChecks)).toContain('reject_share');
    // The checks only, not Athena's header row.
    expect(JSON.stringify(notice?.message.failedChecks)).not.toContain('check_name');
    expect(notice?.message.columns).toEqual(['check_name', 'subject', 'metric_value', 'threshold', 'detail']);
    const marts = await snapshot(
      summary,
      analyticsTables.filter((t) => t.name !== 'data_quality'),
    );
    for (const [name, rows] of Object.entries(marts)) expect(rows, name).toEqual([]);
  });
});
