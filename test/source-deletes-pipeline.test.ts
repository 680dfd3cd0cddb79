import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { generateDataset } from '../lib/generate/index.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import { type LocalRunSummary, runPipelineLocally } from '../lib/local/pipeline-runner.js';
import { prepareEngine, registerLake } from '../lib/local/sql-runner.js';

/*
 * Deletes at the source reach the lake, on real local sources and the synthesized state machine.
 * Day 1 is published. Then, at the source: one customer is deleted with everything of theirs (order
 * lines, orders, the customer row, their DynamoDB items: the application's own cascade), plus two
 * orders of other customers with their lines, one more line of an order that stays, and two more
 * DynamoDB items. Day 2 runs (and publishes). Nothing else changes between the two runs, so the
 * expected counts are exactly what was deleted, counted in the source before deleting it.
 */
const DAY_1 = '2025-06-30';
const DAY_2 = '2025-07-01';
const config = parseConfig({});

type Item = Record<string, AttributeValue>;

describe('source deletes through the local pipeline', () => {
  let mariadb: LocalMariaDb;
  let dynamodb: LocalDynamoDb;
  let client: DynamoDBClient;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  const root = mkdtempSync(join(tmpdir(), 'c360-deletes-'));
  const lake = join(root, 'lake');
  const tableName = config.sources.dynamodb.interactionsTableName;
  let day1: LocalRunSummary;
  let day2Blocked: LocalRunSummary;
  let day2: LocalRunSummary;
  let publishedAfterBlocked: string | undefined;
  // what was deleted
  let customerId: number;
  let deletedOrders: number[];
  let deletedLines: string[];
  let deletedItems: string[];

  const publishedRunId = (): string | undefined =>
    JSON.parse(readFileSync(join(lake, 'analytics', '_control', 'published.json'), 'utf8')).current?.runId;
  const query = async (sql: string) => (await engine.runAndReadAll(sql)).getRowObjectsJson();
  const count = async (sql: string) => Number((await query(sql))[0]?.n);
  const inRun = (run: LocalRunSummary) => `run_date = DATE '${run.runDate}' AND run_id = '${run.runId}'`;

  beforeAll(async () => {
    [mariadb, dynamodb] = await Promise.all([LocalMariaDb.start(), LocalDynamoDb.start()]);
    client = dynamodb.client();
    await generateDataset(
      { customers: 150, seed: 'deletes', end: DAY_1 },
      {
        mysql: { connection: mariadb.connection },
        dynamodb: { client, tableName },
        historyDir: join(root, 'history'),
      },
    );
    ({ instance, connection: engine } = await openLocalEngine({
      tempDirectory: join(root, 'tmp'),
      memoryLimit: '2GB',
    }));
    await prepareEngine(engine);
    await registerLake(engine, lake);
    const options = {
      config,
      lakeRoot: lake,
      engine: instance,
      sources: {
        mysql: mariadb.connection,
        dynamodb: { client, tableName },
        historyDir: join(root, 'history'),
      },
      outboxFile: join(root, 'outbox.jsonl'),
      runsDir: join(root, 'runs'),
    };
    day1 = await runPipelineLocally({
      ...options,
      startTime: new Date(`${DAY_1}T05:00:00Z`),
      input: { runDate: DAY_1, full: true },
    });

    const db = await mysql.createConnection(mariadb.connection);
    const ids = async (sql: string, values: unknown[] = []) =>
      ((await db.query(sql, values))[0] as Record<string, unknown>[]).map((r) =>
        Object.values(r).map(String),
      );
    // The customer with the most DynamoDB items among those with orders of several lines: enough of each.
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    const itemsOf = new Map<string, Item[]>();
    for (const item of items) {
      const key = item.customer_key?.S ?? '';
      itemsOf.set(key, [...(itemsOf.get(key) ?? []), item]);
    }
    // Few enough orders that the deletions stay within the default 5 % of each table.
    const fewOrders = (
      await ids('SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) BETWEEN 2 AND 3')
    ).map((r) => Number(r[0]));
    customerId = fewOrders.reduce((best, id) =>
      (itemsOf.get(`customer#${id}`)?.length ?? 0) > (itemsOf.get(`customer#${best}`)?.length ?? 0)
        ? id
        : best,
    );
    const customerOrders = (await ids('SELECT order_id FROM orders WHERE customer_id = ?', [customerId])).map(
      (r) => Number(r[0]),
    );
    const otherOrders = (
      await ids('SELECT order_id FROM orders WHERE customer_id <> ? ORDER BY order_id LIMIT 2', [customerId])
    ).map((r) => Number(r[0]));
    deletedOrders = [...customerOrders, ...otherOrders].sort((a, b) => a - b);
    const [[keptOrder, lastLine] = []] = await ids(
      `SELECT order_id, max(line_number) FROM order_items WHERE order_id NOT IN (?) GROUP BY order_id
       HAVING count(*) > 1 ORDER BY order_id LIMIT 1`,
      [deletedOrders],
    );
    deletedLines = [
      ...(
        await ids('SELECT order_id, line_number FROM order_items WHERE order_id IN (?)', [deletedOrders])
      ).map(([o, l]) => `${o}|${l}`),
      `${keptOrder}|${lastLine}`,
    ].sort();
    const customerItems = itemsOf.get(`customer#${customerId}`) ?? [];
    const otherItems = items.filter((i) => i.customer_key?.S !== `customer#${customerId}`).slice(0, 2);
    deletedItems = [...customerItems, ...otherItems]
      .map((i) => `${i.customer_key?.S}|${i.event_key?.S}`)
      .sort();

    await db.query('DELETE FROM order_items WHERE order_id IN (?) OR (order_id = ? AND line_number = ?)', [
      deletedOrders,
      keptOrder,
      lastLine,
    ]);
    await db.query('DELETE FROM orders WHERE order_id IN (?)', [deletedOrders]);
    await db.query('DELETE FROM customers WHERE customer_id = ?', [customerId]);
    await db.end();
    const doomed = [...customerItems, ...otherItems];
    for (let i = 0; i < doomed.length; i += 25) {
      await client.send(
        new BatchWriteItemCommand({
          RequestItems: {
            [tableName]: doomed.slice(i, i + 25).map((item) => ({
              DeleteRequest: {
                Key: {
                  customer_key: item.customer_key as AttributeValue,
                  event_key: item.event_key as AttributeValue,
                },
              },
            })),
          },
        }),
      );
    }

    // With a limit below the day's deletions, the quality gate stops the run: nothing is published.
    day2Blocked = await runPipelineLocally({
      ...options,
      config: parseConfig({ sources: { mysql: { deleteDetection: { maxDeletedShare: 0.001 } } } }),
      startTime: new Date(`${DAY_2}T05:00:00Z`),
      input: { runDate: DAY_2, full: true },
    });
    publishedAfterBlocked = publishedRunId();
    // The rerun with the default limit (5 %) publishes. Its key scan is the blocked run's (one per
    // day), and the DynamoDB removals the blocked run landed are read again from raw.
    day2 = await runPipelineLocally({
      ...options,
      startTime: new Date(`${DAY_2}T06:00:00Z`),
      input: { runDate: DAY_2, full: true },
    });
  }, 900_000);

  afterAll(async () => {
    client?.destroy();
    await Promise.allSettled([mariadb?.stop(), dynamodb?.stop()]);
    engine?.closeSync();
    instance?.closeSync();
  });

  it('deleted enough of each kind for the test to mean something', () => {
    expect(day1.status).toBe('SUCCEEDED');
    expect(day2.status).toBe('SUCCEEDED');
    expect(deletedOrders.length).toBeGreaterThan(2);
    expect(deletedLines.length).toBeGreaterThan(deletedOrders.length);
    expect(deletedItems.length).toBeGreaterThan(2);
  });

  it('stops a run that deletes more than the share at the quality gate, and publishes the rerun', () => {
    expect(day2Blocked.status).toBe('FAILED');
    const outbox = readFileSync(join(root, 'outbox.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const gate = outbox.find(
      (m) => m.message?.event === 'quality_gate_failed' && m.message.runId === day2Blocked.runId,
    );
    const failed = gate?.message.failedChecks.map((c: { Data: { VarCharValue: string }[] }) =>
      c.Data.slice(0, 2)
        .map((d) => d.VarCharValue)
        .join(' '),
    );
    // every MySQL table lost more than 0.1 % of its rows but products, which lost none
    expect(failed.sort()).toEqual([
      'deleted_share mysql.customers',
      'deleted_share mysql.order_items',
      'deleted_share mysql.orders',
    ]);
    expect(publishedAfterBlocked).toBe(day1.runId);
    expect(publishedRunId()).toBe(day2.runId);
  });

  it('lands the key scans and the DynamoDB removals in raw', async () => {
    expect(
      await count(
        `SELECT count(*) AS n FROM raw.mysql_keys WHERE ingest_date = DATE '${DAY_2}' AND source_table = 'orders' AND order_id IN (${deletedOrders.join(',')})`,
      ),
    ).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM raw.mysql_keys WHERE ingest_date = DATE '${DAY_2}'`),
    ).toBeGreaterThan(0);
    const removals = await query(
      `SELECT customer_key || '|' || event_key AS k FROM raw.dynamodb_interactions
       WHERE ingest_date = DATE '${DAY_2}' AND is_deleted ORDER BY 1`,
    );
    expect(removals.map((r) => r.k)).toEqual(deletedItems);
  });

  it('drops the deleted rows from the published snapshots, and only them', async () => {
    const keys = async (table: string, key: string, run: LocalRunSummary) =>
      (await query(`SELECT ${key} AS k FROM stage.${table} WHERE ${inRun(run)} AND k IS NOT NULL`)).map((r) =>
        String(r.k),
      );
    const gone = async (table: string, key: string) => {
      const [before, after] = [await keys(table, key, day1), await keys(table, key, day2)];
      const afterSet = new Set(after);
      return before.filter((k) => !afterSet.has(k)).sort();
    };
    expect(await gone('snapshot_mysql_customers', 'CAST(customer_id AS VARCHAR)')).toEqual([
      String(customerId),
    ]);
    expect(await gone('snapshot_mysql_orders', 'CAST(order_id AS VARCHAR)')).toEqual(
      deletedOrders.map(String).sort(),
    );
    expect(await gone('snapshot_mysql_order_items', "order_id || '|' || line_number")).toEqual(deletedLines);
    expect(await gone('snapshot_dynamodb_interactions', "customer_key || '|' || event_key")).toEqual(
      deletedItems,
    );
    // nothing was added between the runs, so the snapshots shrink by exactly the deletions
    const rows = async (table: string, run: LocalRunSummary) =>
      count(`SELECT count(*) AS n FROM stage.${table} WHERE ${inRun(run)}`);
    expect(await rows('snapshot_mysql_orders', day1)).toBe(
      (await rows('snapshot_mysql_orders', day2)) + deletedOrders.length,
    );
    expect(await rows('snapshot_dynamodb_interactions', day1)).toBe(
      (await rows('snapshot_dynamodb_interactions', day2)) + deletedItems.length,
    );
  });

  it('drops them from the stage tables and the marts built on the snapshot', async () => {
    const orderIds = deletedOrders.map((id) => `'m-${id}'`).join(', ');
    expect(
      await count(
        `SELECT count(*) AS n FROM stage.orders WHERE ${inRun(day1)} AND order_id IN (${orderIds})`,
      ),
    ).toBe(deletedOrders.length);
    expect(
      await count(
        `SELECT count(*) AS n FROM stage.orders WHERE ${inRun(day2)} AND order_id IN (${orderIds})`,
      ),
    ).toBe(0);
    expect(
      await count(
        `SELECT count(*) AS n FROM stage.order_items WHERE ${inRun(day2)} AND order_id IN (${orderIds})`,
      ),
    ).toBe(0);
    expect(
      await count(
        `SELECT count(*) AS n FROM stage.customers WHERE ${inRun(day1)} AND customer_id = ${customerId}`,
      ),
    ).toBe(1);
    expect(
      await count(
        `SELECT count(*) AS n FROM stage.customers WHERE ${inRun(day2)} AND customer_id = ${customerId}`,
      ),
    ).toBe(0);
    const eventIds = deletedItems
      .map((k) => `'${k.split('|')[1]?.split('#').slice(1).join('#')}'`)
      .join(', ');
    expect(
      await count(
        `SELECT count(*) AS n FROM stage.interactions WHERE ${inRun(day2)} AND event_id IN (${eventIds})`,
      ),
    ).toBe(0);
    expect(
      await count(
        `SELECT count(*) AS n FROM analytics.customer_360 WHERE ${inRun(day1)} AND customer_id = ${customerId}`,
      ),
    ).toBe(1);
    expect(
      await count(
        `SELECT count(*) AS n FROM analytics.customer_360_latest WHERE customer_id = ${customerId}`,
      ),
    ).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM analytics.rfm_latest WHERE customer_id = ${customerId}`),
    ).toBe(0);
  });

  it('counts them in data_quality_latest, within the deleted share', async () => {
    const checks = await query(
      `SELECT check_name, subject, metric_value, is_passed FROM analytics.data_quality_latest
       WHERE check_name IN ('source_deletes', 'deleted_share') ORDER BY check_name, subject`,
    );
    const metric = (name: string, subject: string) =>
      checks.find((c) => c.check_name === name && c.subject === subject)?.metric_value;
    expect(metric('source_deletes', 'mysql.customers')).toBe(1);
    expect(metric('source_deletes', 'mysql.orders')).toBe(deletedOrders.length);
    expect(metric('source_deletes', 'mysql.order_items')).toBe(deletedLines.length);
    expect(metric('source_deletes', 'mysql.products')).toBe(0);
    expect(metric('source_deletes', 'dynamodb.interactions')).toBe(deletedItems.length);
    const customersBefore = await count(
      `SELECT count(*) AS n FROM stage.snapshot_mysql_customers WHERE ${inRun(day1)} AND customer_id IS NOT NULL`,
    );
    expect(metric('deleted_share', 'mysql.customers')).toBeCloseTo(1 / customersBefore, 12);
    expect(checks.filter((c) => c.check_name === 'deleted_share').every((c) => c.is_passed)).toBe(true);
  });
});
