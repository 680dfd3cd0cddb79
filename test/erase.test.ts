import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { emailSha256 } from '../lib/erase/keys.js';
import { eraseLocally, erasureLogFile, republishInput } from '../lib/erase/local.js';
import {
  DatasetGenerator,
  type DatasetSink,
  DynamoDbSink,
  generateDataset,
  HistorySink,
  MYSQL_COLUMNS,
} from '../lib/generate/index.js';
import type { PersonBatch } from '../lib/generate/model.js';
import { MysqlSink } from '../lib/generate/mysql.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import { ensureAlertsTable, outboxSns } from '../lib/local/notifications.js';
import { type LocalRunSummary, runPipelineLocally } from '../lib/local/pipeline-runner.js';
import { prepareEngine, registerLake } from '../lib/local/sql-runner.js';
import { type Workspace, workspaceAt } from '../lib/local/workspace.js';
import { glueColumns, glueTypeFromParquet, type ParquetColumnInfo } from '../lib/schema/derive.js';
import { analyticsTables, stageSuppressedKeys } from '../lib/schema/tables.js';

/*
 * The Done-when test of erasure (issue 19): a generated customer with MySQL rows, DynamoDB events,
 * history rows and a reject is run, erased, and then looked for everywhere; the next day's run (their
 * source rows still there, some extracted again) must publish exactly what a workspace that never held
 * them publishes.
 */
const DAY1 = '2025-06-30';
const DAY2 = '2025-07-01';
const GENERATE = { customers: 300, seed: 'erase', end: DAY1 } as const;
const config = parseConfig({ sources: { history: { identicalRowsAreDuplicates: true } } });
const tableOf = (name: string) => `interactions-${name}`;

interface Side {
  readonly name: 'erased' | 'never';
  readonly workspace: Workspace;
  readonly mariadb: LocalMariaDb;
  instance: DuckDBInstance;
  engine: DuckDBConnection;
  readonly alertsTable: string;
}

/** The person erased: the generator's own record of them, independent of what erasure resolves. */
interface Chosen {
  readonly personId: number;
  readonly customerId: string;
  readonly email: string;
  readonly fullName: string;
  readonly keys: readonly string[];
  readonly legacyId: string;
  readonly orderIds: readonly string[];
}

/** The first person with rows in every source, clean (no planted dirt, no fraud), a unique full name, and
 * visitors that are all identified (an unidentified visitor's events cannot be tied to anyone). */
function choosePerson(): Chosen {
  const people = [...new DatasetGenerator(GENERATE).people()];
  const cols = MYSQL_COLUMNS.customers as readonly string[];
  const nameOf = (b: PersonBatch) =>
    b.customer ? `${b.customer[cols.indexOf('first_name')]} ${b.customer[cols.indexOf('last_name')]}` : '';
  const names = new Map<string, number>();
  for (const b of people) names.set(nameOf(b), (names.get(nameOf(b)) ?? 0) + 1);
  for (const b of people) {
    if (!b.customer || b.fraud || b.anomalies.length > 0 || b.history.some((h) => h.anomaly)) continue;
    if (b.orders.length < 2 || b.history.length < 1 || b.events.length < 5) continue;
    if (names.get(nameOf(b)) !== 1) continue;
    const id = String(b.customer[cols.indexOf('customer_id')]);
    const email = String(b.customer[cols.indexOf('email')]);
    const keys = [...new Set(b.events.map((e) => String(e.customer_key)))];
    const identified = new Set(
      b.events.filter((e) => e.event_type === 'identify').map((e) => `visitor#${String(e.visitor_id)}`),
    );
    if (!keys.every((k) => k === `customer#${id}` || k.startsWith('email#') || identified.has(k))) continue;
    if (!keys.some((k) => k.startsWith('visitor#'))) continue;
    return {
      personId: b.personId,
      customerId: id,
      email,
      fullName: nameOf(b),
      keys,
      legacyId: String(b.history[0]?.values[0]),
      orderIds: b.orders.map((o) => String(o[0])),
    };
  }
  throw new Error('no person fits');
}

/** Forwards every person but one to the real sinks: the same data set as if that person never existed. */
function without(personId: number, sinks: DatasetSink[]): DatasetSink {
  return {
    products: async (rows) => {
      for (const s of sinks) await s.products(rows);
    },
    write: async (batch) => {
      if (batch.personId === personId) return;
      for (const s of sinks) await s.write(batch);
    },
    finish: async (manifest) => {
      for (const s of sinks) await s.finish(manifest);
    },
    abort: async () => {
      for (const s of sinks) await s.abort();
    },
  };
}

describe('erasing a customer everywhere', () => {
  const root = mkdtempSync(join(tmpdir(), 'c360-erase-'));
  let dynamodb: LocalDynamoDb;
  let chosen: Chosen;
  const sides: Side[] = [];
  let erased: Side;
  let never: Side;
  const runs: Record<string, LocalRunSummary> = {};

  const run = async (side: Side, day: string, input?: { runDate: string; rebuild?: true; full?: true }) => {
    const summary = await runPipelineLocally({
      config,
      lakeRoot: side.workspace.lake,
      engine: side.instance,
      sources: {
        mysql: side.mariadb.connection,
        dynamodb: { client: dynamodb.client(), tableName: tableOf(side.name) },
        historyDir: side.workspace.historyDir,
      },
      alertsStore: { client: dynamodb.client(), tableName: side.alertsTable },
      outboxFile: side.workspace.outboxFile,
      runsDir: side.workspace.runsDir,
      // A republish starts later on the day it recomputes: after the run it replaces.
      startTime: new Date(`${day}T${input ? '07' : '05'}:00:00Z`),
      ...(input ? { input } : {}),
    });
    expect(summary.failure, `${side.name} ${day}`).toBeUndefined();
    expect(summary.status).toBe('SUCCEEDED');
    runs[`${side.name} ${day}${input ? ' republished' : ''}`] = summary;
    return summary;
  };

  beforeAll(async () => {
    chosen = choosePerson();
    const [a, b, ddb] = await Promise.all([
      LocalMariaDb.start(),
      LocalMariaDb.start(),
      LocalDynamoDb.start(),
    ]);
    dynamodb = ddb;
    for (const [name, mariadb] of [
      ['erased', a],
      ['never', b],
    ] as const) {
      const workspace = workspaceAt(join(root, name));
      const { instance, connection } = await openLocalEngine({
        tempDirectory: workspace.tempDir,
        memoryLimit: '1GB',
      });
      await prepareEngine(connection);
      await registerLake(connection, workspace.lake);
      const side: Side = {
        name,
        workspace,
        mariadb,
        instance,
        engine: connection,
        alertsTable: `alerts-${name}`,
      };
      sides.push(side);
      await ensureAlertsTable(dynamodb.client(), side.alertsTable);
    }
    [erased, never] = sides as [Side, Side];
    await generateDataset(GENERATE, {
      mysql: { connection: erased.mariadb.connection },
      dynamodb: { client: dynamodb.client(), tableName: tableOf('erased') },
      historyDir: erased.workspace.historyDir,
    });
    await generateDataset(GENERATE, {
      sinks: [
        without(chosen.personId, [
          await MysqlSink.open({ connection: never.mariadb.connection }),
          await DynamoDbSink.open({ client: dynamodb.client(), tableName: tableOf('never') }),
          new HistorySink(never.workspace.historyDir),
        ]),
      ],
    });
    // A reject of theirs: an order with a negative total that is not a refund (negative_amount).
    await execute(
      erased,
      `INSERT INTO orders (order_id, customer_id, order_at, status, channel, payment_method, currency, total_amount, discount_amount, updated_at)
       VALUES (9000001, ${chosen.customerId}, '2025-06-01 10:00:00', 'delivered', 'web', 'card', 'USD', -25.00, 0, '2025-06-01 10:00:00')`,
    );
    for (const side of sides) await run(side, DAY1);
  }, 600_000);

  afterAll(async () => {
    for (const side of sides) {
      side.engine.closeSync();
      side.instance.closeSync();
    }
    await Promise.allSettled([...sides.map((s) => s.mariadb.stop()), dynamodb?.stop()]);
  });

  const execute = async (side: Side, sql: string) => {
    const db = await mysql.createConnection(side.mariadb.connection);
    try {
      await db.query(sql);
    } finally {
      await db.end();
    }
  };
  const query = async (side: Side, sql: string) =>
    (await side.engine.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];

  it('starts with the customer in every source, in rejects, alerted and in the outbox', async () => {
    const id = chosen.customerId;
    const counts = await query(
      erased,
      `SELECT
         (SELECT count(*) FROM raw.mysql_customers WHERE customer_id = ${id}) AS customers,
         (SELECT count(*) FROM raw.mysql_orders WHERE customer_id = ${id}) AS orders,
         (SELECT count(*) FROM raw.dynamodb_interactions WHERE customer_key IN (${chosen.keys.map((k) => `'${k}'`).join(', ')})) AS events,
         (SELECT count(*) FROM raw.history_orders WHERE customer_ref = '${chosen.legacyId}') AS history,
         (SELECT count(*) FROM stage.rejects WHERE json_extract_string(record_json, '$.customer_id') = '${id}') AS rejects,
         (SELECT count(*) FROM analytics.customer_360_latest WHERE customer_id = ${id}) AS published`,
    );
    expect(Number(counts[0]?.customers)).toBe(1);
    expect(Number(counts[0]?.published)).toBe(1);
    expect(Number(counts[0]?.orders)).toBe(chosen.orderIds.length + 1); // + the negative one
    expect(Number(counts[0]?.events)).toBeGreaterThanOrEqual(5);
    expect(Number(counts[0]?.history)).toBeGreaterThanOrEqual(1);
    expect(Number(counts[0]?.rejects)).toBeGreaterThanOrEqual(1);
    // As if they had been alerted: a dedupe item and the message in the outbox (the alert step's shape).
    await dynamodb.client().send(
      new PutItemCommand({
        TableName: erased.alertsTable,
        Item: marshall({
          alert_key: `churn_risk#${id}`,
          status: 'sent',
          run_date: DAY1,
          run_id: 'x',
          created_at: DAY1,
          expires_at: 4102444800,
        }),
      }),
    );
    await outboxSns(erased.workspace.outboxFile).send(
      new PublishCommand({
        TopicArn: 'arn:aws:sns:local:000000000000:customer360-alerts',
        Subject: 'Customer 360: 1 high-value customer at churn risk',
        Message: JSON.stringify({
          kind: 'churn_risk',
          customers: [{ customerId: id, churnProbability: 0.8 }],
        }),
      }),
    );
  });

  let logLine: Record<string, unknown>;
  let before: Map<string, Fingerprint>;

  it('erases them from every file of the lake, the outbox, the run summaries and the alerts table', async () => {
    before = await fingerprints(erased);
    const connection = await erased.instance.connect();
    const result = await eraseLocally({
      workspace: erased.workspace,
      connection,
      request: {
        customerIds: [chosen.customerId],
        requestedBy: 'dpo@test',
        reason: 'GDPR art. 17 request 4711',
      },
      alerts: { client: dynamodb.client(), tableName: erased.alertsTable },
    });
    connection.closeSync();
    // Every DynamoDB key the generator gave them (customer# and visitor#) was resolved through the
    // identity map, and their one legacy id and MySQL id.
    expect(result.entry.suppressed_keys).toMatchObject({
      dynamodb_customer_key: chosen.keys.filter((k) => !k.startsWith('email#')).length,
      legacy_id: 1,
      mysql_customer_id: 1,
      mysql_order_id: chosen.orderIds.length + 1,
    });
    expect(result.entry.customer_ids).toEqual([chosen.customerId]);
    expect(result.entry.alert_items_deleted).toBe(1);
    expect(result.entry.local?.outbox_lines_removed).toBeGreaterThanOrEqual(1);
    expect(result.entry.files_rewritten).toBeGreaterThan(0);
    const item = await dynamodb.client().send(
      new GetItemCommand({
        TableName: erased.alertsTable,
        Key: marshall({ alert_key: `churn_risk#${chosen.customerId}` }),
      }),
    );
    expect(item.Item).toBeUndefined();

    const hits = await searchEverywhere(erased, chosen);
    expect(hits).toEqual([]);

    const log = readFileSync(erasureLogFile(erased.workspace), 'utf8').trim().split('\n');
    expect(log).toHaveLength(1);
    logLine = JSON.parse(log[0] ?? '{}');
    expect(logLine).toMatchObject({ requested_by: 'dpo@test', customer_ids: [chosen.customerId] });
    const text = log[0]?.toLowerCase() ?? '';
    expect(text).not.toContain(chosen.email.toLowerCase());
    expect(text).not.toContain(chosen.fullName.toLowerCase());
    expect(text).not.toContain(chosen.legacyId.toLowerCase());
  }, 300_000);

  it('leaves files without their rows byte for byte, and rewrites the others in the same schema and compression', async () => {
    const after = await fingerprints(erased);
    const changed = [...before.keys()].filter((path) => after.get(path)?.sha !== before.get(path)?.sha);
    expect([...after.keys()].filter((p) => p.endsWith('.parquet') && !before.has(p))).toEqual([
      expect.stringMatching(/^stage\/suppressed_keys\/erasure-.*\.parquet$/),
    ]);
    expect(changed.length).toBe(logLine.files_rewritten);
    expect(changed.some((p) => p.startsWith('raw/mysql/products/'))).toBe(false);
    for (const path of changed) {
      expect(after.get(path)?.schema, path).toEqual(before.get(path)?.schema);
      expect(after.get(path)?.codec, path).toEqual(before.get(path)?.codec);
      expect(after.get(path)?.rows, path).toBeLessThan(before.get(path)?.rows ?? 0);
    }
    // The suppression list is written as the one schema declares it (Glue reads it by these types).
    const suppression = [...after.keys()].find((p) => p.startsWith('stage/suppressed_keys/')) ?? '';
    const written = (
      await erased.engine.runAndReadAll(
        `SELECT name, type, converted_type, logical_type, precision, scale FROM parquet_schema('${join(erased.workspace.lake, suppression)}') WHERE num_children IS NULL`,
      )
    ).getRowObjectsJson() as unknown as ParquetColumnInfo[];
    expect(written.map((c) => [c.name, glueTypeFromParquet(c)])).toEqual(
      glueColumns(stageSuppressedKeys.columns).map((c) => [c.name, c.type]),
    );
    const rows = (logLine.rows_removed ?? {}) as Record<string, number>;
    // Rows by hand: raw customers 1 row, raw orders the generated ones plus the negative one.
    expect(rows['raw.mysql_customers']).toBe(1);
    expect(rows['raw.mysql_orders']).toBe(chosen.orderIds.length + 1);
    expect(rows['analytics.customer_360']).toBe(1);
  });

  it('republishes the latest date from raw without them, as c360 erase --republish does', async () => {
    const published = () =>
      query(
        erased,
        `SELECT run_date::VARCHAR AS run_date, run_id FROM analytics.published_runs ORDER BY published_at DESC LIMIT 1`,
      );
    const [before] = await published();
    expect(before).toEqual({ run_date: DAY1, run_id: runs[`erased ${DAY1}`]?.runId });
    const input = await republishInput(erased.workspace);
    // The command `c360 run --date D --rebuild --full` would run; no force: D is the latest published date.
    expect(input).toEqual({ runDate: DAY1, rebuild: true, full: true });
    const summary = await run(erased, DAY1, input);
    expect(summary.runDate).toBe(DAY1);
    expect(summary.runId).not.toBe(before?.run_id);
    // It staged from all of raw: a rebuild names its own location as the base, never the run it replaces.
    const record = JSON.parse(
      readFileSync(
        join(erased.workspace.lake, 'analytics', '_control', 'runs', `${summary.runId}.json`),
        'utf8',
      ),
    );
    expect(record).toMatchObject({
      mode: 'rebuild',
      snapshot: { runDate: DAY1, runId: summary.runId, rawFromDate: '1970-01-01' },
    });
    expect(await published()).toEqual([{ run_date: DAY1, run_id: summary.runId }]);
    const latest = await query(
      erased,
      `SELECT DISTINCT run_id, (SELECT count(*) FROM analytics.customer_360_latest WHERE customer_id = ${chosen.customerId})::INTEGER AS theirs FROM analytics.customer_360_latest`,
    );
    expect(latest).toEqual([{ run_id: summary.runId, theirs: 0 }]);
    // What the never side published on day 1 is what the erased side publishes now, every table whole:
    // erasure took their rows out of raw, so even data_quality's raw counts agree and nothing is suppressed.
    for (const table of analyticsTables.filter((t) => t.partitionKeys.length > 0)) {
      const sql = `SELECT * EXCLUDE (run_id) FROM analytics.${table.name}_latest ORDER BY ALL`;
      expect(await query(erased, sql), table.name).toEqual(await query(never, sql));
    }
  }, 600_000);

  it('the next day, with their source rows still there and some extracted again, publishes what a lake that never held them publishes', async () => {
    const id = chosen.customerId;
    // The source has not deleted them yet, and touches them: the customer, an order and an event are
    // extracted again, and a history file with a new line of theirs is landed again.
    // Newer than what the republish just extracted (its extraction took items at least 5 seconds old), and
    // old enough for the next one after the pause below.
    const touched = new Date(Date.now() - 1_000);
    const at = touched.toISOString().replace('T', ' ').replace('Z', '');
    await execute(erased, `UPDATE customers SET updated_at = '${at}' WHERE customer_id = ${id}`);
    await execute(erased, `UPDATE orders SET updated_at = '${at}' WHERE order_id = ${chosen.orderIds[0]}`);
    await dynamodb.client().send(
      new PutItemCommand({
        TableName: tableOf('erased'),
        Item: marshall({
          customer_key: `customer#${id}`,
          event_key: `2025-06-29T10:00:00.000Z#evt-erased-${id}`,
          event_id: `evt-erased-${id}`,
          event_type: 'web_visit',
          event_at: '2025-06-29T10:00:00.000Z',
          customer_id: id,
          device: 'mobile',
          updated_at: touched.toISOString(),
        }),
      }),
    );
    const historyFile = readdirSync(erased.workspace.historyDir).find((f) =>
      readFileSync(join(erased.workspace.historyDir, f), 'utf8').includes(`${chosen.legacyId},`),
    );
    if (!historyFile) throw new Error('no history file of theirs');
    const historyPath = join(erased.workspace.historyDir, historyFile);
    const theirLines = readFileSync(historyPath, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(`${chosen.legacyId},`)).length;
    appendFileSync(historyPath, `${chosen.legacyId},2022-12-01,1,10.00\n`);
    // The extractions take items at least 5 seconds old.
    await new Promise((resolve) => setTimeout(resolve, 6_000));

    await run(never, DAY2);
    const second = await run(erased, DAY2);
    expect(second.rows['raw.mysql_customers (new)']).toBe(1);
    expect(second.rows['raw.dynamodb_interactions (new)']).toBe(1);

    const suppressed = await query(
      erased,
      `SELECT subject, metric_value FROM analytics.data_quality_latest WHERE check_name = 'erased_rows_suppressed' ORDER BY subject`,
    );
    // By hand: one customer row, one order, one event; the history file's lines of theirs plus the new one.
    expect(suppressed).toEqual([
      { subject: 'dynamodb.interactions', metric_value: 1 },
      { subject: 'history.orders', metric_value: theirLines + 1 },
      { subject: 'mysql.customers', metric_value: 1 },
      { subject: 'mysql.orders', metric_value: 1 },
    ]);

    // Every table whole: segment_figures' previous_* and the summaries that narrate them compare with the
    // republished day 1, computed from raw without them, as the never side's day 1 was.
    for (const table of analyticsTables.filter((t) => t.partitionKeys.length > 0)) {
      // data_quality reports what was extracted and suppressed: the erased side extracted their rows
      // again (the point of the test), so raw row counts and the suppression rows differ by design.
      const filter =
        table.name === 'data_quality'
          ? ` WHERE NOT (subject LIKE 'raw.%' OR check_name = 'erased_rows_suppressed')`
          : '';
      const sql = `SELECT * EXCLUDE (run_id) FROM analytics.${table.name}_latest${filter} ORDER BY ALL`;
      const rows = await query(erased, sql);
      // A data set this small has no customer valuable and at risk enough to alert on.
      if (table.name !== 'alert_candidates') expect(rows.length, table.name).toBeGreaterThan(0);
      expect(rows, table.name).toEqual(await query(never, sql));
    }
    // And nowhere published or staged by this run.
    const hits = (await searchEverywhere(erased, chosen)).filter(
      (h) => !h.startsWith('raw/') && !h.startsWith('stage/snapshots/'),
    );
    expect(hits).toEqual([]);
  }, 600_000);

  it('refuses an id nobody has, and erases nothing', async () => {
    const before = readFileSync(erasureLogFile(erased.workspace), 'utf8');
    const connection = await erased.instance.connect();
    await expect(
      eraseLocally({
        workspace: erased.workspace,
        connection,
        request: { customerIds: ['987654321'], requestedBy: 'test' },
      }),
    ).rejects.toThrow(
      /Unknown customer id 987654321: not in the published identity map .* Nothing was erased/,
    );
    connection.closeSync();
    expect(readFileSync(erasureLogFile(erased.workspace), 'utf8')).toBe(before);
    expect(readdirSync(join(erased.workspace.lake, 'stage', 'suppressed_keys'))).toHaveLength(1);
  });

  it('resolves an email (any case, spaces) to the customer it belongs to', async () => {
    // On the never side: a customer there, by their email.
    const [row] = await query(
      never,
      `SELECT customer_id, email_normalized FROM stage.customers WHERE run_id = '${runs[`never ${DAY2}`]?.runId}' AND email_normalized IS NOT NULL AND customer_id > 0 ORDER BY customer_id LIMIT 1`,
    );
    const connection = await never.instance.connect();
    const result = await eraseLocally({
      workspace: never.workspace,
      connection,
      request: { emails: [`  ${String(row?.email_normalized).toUpperCase()} `], requestedBy: 'test' },
    });
    connection.closeSync();
    expect(result.entry.customer_ids).toEqual([String(row?.customer_id)]);
    expect(result.entry.requested_email_sha256).toEqual([emailSha256(String(row?.email_normalized))]);
    expect(JSON.stringify(result.entry)).not.toContain(String(row?.email_normalized));
  }, 300_000);
});

interface Fingerprint {
  readonly sha: string;
  readonly schema: string;
  readonly codec: string;
  readonly rows: number;
}

/** Each Parquet file of the lake: its bytes' hash, its column types, its compression and its rows. */
async function fingerprints(side: Side): Promise<Map<string, Fingerprint>> {
  const found = new Map<string, Fingerprint>();
  const lake = side.workspace.lake;
  for (const entry of readdirSync(lake, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.parquet')) continue;
    const path = join(entry.parentPath, entry.name);
    const [schema] = (
      await side.engine.runAndReadAll(
        `SELECT string_agg(name || ' ' || type || ' ' || coalesce(converted_type, '') || ' ' || coalesce(logical_type, ''), ', ' ORDER BY name) AS s FROM parquet_schema('${path}')`,
      )
    ).getRowObjectsJson();
    const [meta] = (
      await side.engine.runAndReadAll(
        `SELECT string_agg(DISTINCT compression, ',') AS codec, (SELECT count(*) FROM read_parquet('${path}', hive_partitioning = false)) AS n FROM parquet_metadata('${path}')`,
      )
    ).getRowObjectsJson();
    found.set(relative(lake, path), {
      sha: createHash('sha256').update(readFileSync(path)).digest('hex'),
      schema: String(schema?.s),
      codec: String(meta?.codec),
      rows: Number(meta?.n),
    });
  }
  return found;
}

/**
 * Every place the customer could still be, as `zone/path: what`: each column of each Parquet file of the
 * lake (ids and keys in id columns, the email and full name anywhere in text), and the bytes of every other
 * file of the lake, the outbox and the run summaries.
 */
async function searchEverywhere(side: Side, chosen: Chosen): Promise<string[]> {
  const hits: string[] = [];
  const email = chosen.email.trim().toLowerCase();
  const name = chosen.fullName.toLowerCase();
  const list = (values: readonly string[]) => values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ');
  // A bare id in free text: not part of a longer number or word.
  const idText = new RegExp(`(?<![0-9A-Za-z_.:#-])${chosen.customerId}(?![0-9A-Za-z_.])`);
  const files = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  const lake = side.workspace.lake;
  for (const path of files(lake)) {
    const where = relative(lake, path);
    if (statSync(path).size === 0) continue;
    if (!path.endsWith('.parquet')) {
      const text = readFileSync(path, 'utf8').toLowerCase();
      if (text.includes(email) || text.includes(name)) hits.push(`${where}: email or name`);
      for (const key of chosen.keys) if (text.includes(key.toLowerCase())) hits.push(`${where}: ${key}`);
      // Watermarks name the last row extracted, a position: checked only if it were this customer's.
      if (idText.test(text)) hits.push(`${where}: id ${chosen.customerId}`);
      continue;
    }
    const source = `read_parquet('${path}', hive_partitioning = false)`;
    const columns = (await side.engine.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`))
      .getRowObjectsJson()
      .map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    const conditions: [string, string][] = [];
    const orderIds = [...chosen.orderIds, '9000001'];
    const visitorIds = chosen.keys
      .filter((k) => k.startsWith('visitor#'))
      .map((k) => k.slice('visitor#'.length));
    for (const c of columns) {
      const col = `"${c.name}"`;
      // Id columns only: a bare number elsewhere (a quantity, a product id) is not this customer.
      const customerish = /(customer_id|customer_key|customer_ref|source_key|record_key)$/.test(c.name);
      const orderish = /order_id$/.test(c.name);
      if (c.type === 'VARCHAR') {
        conditions.push([
          c.name,
          `contains(lower(${col}), '${email}') OR contains(lower(${col}), '${name}')`,
        ]);
        if (customerish)
          conditions.push([
            c.name,
            `${col} IN (${list([chosen.customerId, chosen.legacyId, ...chosen.keys])})`,
          ]);
        if (orderish || c.name === 'record_key')
          conditions.push([
            c.name,
            `${col} IN (${list([...orderIds, ...orderIds.map((o) => `m-${o}`)])}) OR split_part(${col}, '/', 1) IN (${list(orderIds)})`,
          ]);
        if (c.name === 'visitor_id') conditions.push([c.name, `${col} IN (${list(visitorIds)})`]);
        if (c.name === 'record_json')
          conditions.push([
            c.name,
            `json_extract_string(${col}, '$.customer_id') = '${chosen.customerId}' OR json_extract_string(${col}, '$.customer_key') IN (${list(chosen.keys)}) OR json_extract_string(${col}, '$.customer_ref') = '${chosen.legacyId}' OR json_extract_string(${col}, '$.order_id') IN (${list(orderIds)})`,
          ]);
        if (c.name === 'item_json' || c.name === 'detail')
          conditions.push([c.name, chosen.keys.map((k) => `contains(${col}, '${k}')`).join(' OR ')]);
      } else if (/INT/.test(c.type) && (customerish || orderish)) {
        conditions.push([
          c.name,
          `CAST(${col} AS VARCHAR) IN (${list(orderish ? orderIds : [chosen.customerId])})`,
        ]);
      }
    }
    if (columns.some((c) => c.name === 'first_name'))
      conditions.push(['first_name/last_name', `lower(first_name || ' ' || last_name) = '${name}'`]);
    for (const [column, condition] of conditions) {
      const [row] = (
        await side.engine.runAndReadAll(`SELECT count(*) AS n FROM ${source} WHERE ${condition}`)
      ).getRowObjectsJson();
      if (Number(row?.n) > 0) hits.push(`${where}: ${column} (${row?.n})`);
    }
  }
  const textFiles = [side.workspace.outboxFile, ...files(side.workspace.runsDir)];
  for (const path of textFiles) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const lower = text.toLowerCase();
    if (lower.includes(email) || lower.includes(name)) hits.push(`${path}: email or name`);
    if (idText.test(text)) hits.push(`${path}: id ${chosen.customerId}`);
    for (const key of chosen.keys) if (text.includes(key)) hits.push(`${path}: ${key}`);
  }
  writeFileSync(join(side.workspace.root, 'search.txt'), hits.join('\n'));
  return hits;
}
