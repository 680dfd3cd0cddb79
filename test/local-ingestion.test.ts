import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { applyChanges, generateDataset, type Manifest } from '../lib/generate/index.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { extractDynamoDb } from '../lib/local/extract-dynamodb.js';
import { extractHistory } from '../lib/local/extract-history.js';
import { extractMysql } from '../lib/local/extract-mysql.js';
import { tableGlob } from '../lib/local/lake.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import { rawDynamodbInteractions, rawHistoryOrders, rawMysqlOrders } from '../lib/schema/tables.js';

/*
 * Sources generated into a real MariaDB, dynalite and history files, extracted into the raw zone,
 * and read back: counts and values must match the sources, and a second extraction after changes
 * must take exactly the changes.
 */
describe('ingestion of generated sources into the raw zone', () => {
  let mariadb: LocalMariaDb;
  let dynamodb: LocalDynamoDb;
  let client: DynamoDBClient;
  let db: mysql.Connection;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  let manifest: Manifest;
  const root = mkdtempSync(join(tmpdir(), 'c360-ingest-'));
  const lake = join(root, 'lake');
  const historyDir = join(root, 'history');
  const tableName = 'customer-interactions';
  const config = parseConfig({});

  const one = async (sql: string) => (await engine.runAndReadAll(sql)).getRowObjectsJson()[0] ?? {};
  const extractAll = (ingestDate: string) =>
    Promise.all([
      extractMysql({ source: mariadb.connection, engine, lakeRoot: lake, ingestDate, safetyLagSeconds: 0 }),
      extractDynamoDb({ client, tableName, engine, lakeRoot: lake, ingestDate, safetyLagSeconds: 0 }),
    ]);

  beforeAll(async () => {
    [mariadb, dynamodb] = await Promise.all([LocalMariaDb.start(), LocalDynamoDb.start()]);
    client = dynamodb.client();
    ({ manifest } = await generateDataset(
      { customers: 300, seed: 'ingestion', end: '2025-06-30' },
      { mysql: { connection: mariadb.connection }, dynamodb: { client, tableName }, historyDir },
    ));
    db = await mysql.createConnection({ ...mariadb.connection, dateStrings: true });
    ({ instance, connection: engine } = await openLocalEngine({
      tempDirectory: join(root, 'tmp'),
      memoryLimit: '1GB',
    }));
  }, 300_000);

  afterAll(async () => {
    await db?.end();
    client?.destroy();
    await Promise.allSettled([mariadb?.stop(), dynamodb?.stop()]);
    engine?.closeSync();
    instance?.closeSync();
  });

  it('lands every source row, with the values the source holds', async () => {
    const [mysqlResults, dynamoResult] = await extractAll('2025-06-30');
    const history = await extractHistory({
      historyDir,
      config: config.sources.history,
      engine,
      lakeRoot: lake,
      ingestDate: '2025-06-30',
    });

    expect(Object.fromEntries(mysqlResults.map((r) => [r.table, r.rows]))).toEqual(manifest.counts.mysql);
    expect(dynamoResult.rows).toBe(manifest.counts.dynamodb.items);
    expect(history.rows).toBe(manifest.counts.history.rows);

    // Values, not just counts: totals and key sets agree with MySQL itself.
    const [[source]] = (await db.query(
      'SELECT COUNT(DISTINCT order_id) AS ids, CAST(SUM(total_amount) AS CHAR) AS total, MAX(updated_at) AS newest FROM orders',
    )) as unknown as [[{ ids: number; total: string; newest: string }]];
    const landed = await one(
      `SELECT count(DISTINCT order_id) AS ids, CAST(sum(total_amount) AS VARCHAR) AS total, max(updated_at) AS newest
       FROM read_parquet('${tableGlob(lake, rawMysqlOrders)}')`,
    );
    expect(landed).toEqual({ ids: String(source.ids), total: source.total, newest: source.newest });
    const events = await one(
      `SELECT count(DISTINCT customer_key || '|' || event_key) AS keys, count(*) FILTER (WHERE item_json IS NULL) AS missing_json
       FROM read_parquet('${tableGlob(lake, rawDynamodbInteractions)}')`,
    );
    expect(events).toEqual({ keys: String(manifest.counts.dynamodb.items), missing_json: '0' });
    const files = await one(
      `SELECT count(DISTINCT source_file) AS files FROM read_parquet('${tableGlob(lake, rawHistoryOrders)}')`,
    );
    expect(Number(files.files)).toBe(Object.keys(manifest.counts.history.files).length);
  });

  it('takes exactly the changed and added rows on the next extraction', async () => {
    const changes = await applyChanges(
      { mysql: mariadb.connection, dynamodb: { client, tableName } },
      {
        seed: 'ingestion-changes',
        // Written now, as a source stamps its changes: the DynamoDB watermark is the previous
        // extraction's clock, so a change stamped earlier than that would be (rightly) out of contract.
        updatedAt: new Date(),
      },
    );

    const [mysqlResults, dynamoResult] = await extractAll('2025-07-01');

    const extracted = Object.fromEntries(mysqlResults.map((r) => [r.table, r.rows]));
    for (const table of ['customers', 'products', 'orders', 'order_items'] as const) {
      const changed = changes.mysql[table];
      expect(extracted[table], table).toBe(changed.updated.length + changed.inserted.length);
    }
    expect(dynamoResult.rows).toBe(changes.dynamodb.inserted.length);
    const newOrderIds = await engine.runAndReadAll(
      `SELECT order_id FROM read_parquet('${tableGlob(lake, rawMysqlOrders)}', hive_partitioning = true)
       WHERE ingest_date = DATE '2025-07-01' ORDER BY order_id`,
    );
    expect(newOrderIds.getRowObjectsJson().map((r) => Number(r.order_id))).toEqual(
      [...changes.mysql.orders.updated, ...changes.mysql.orders.inserted].sort((a, b) => a - b),
    );
  });

  it('takes nothing when nothing changed, and lands no history file twice', async () => {
    const [mysqlResults, dynamoResult] = await extractAll('2025-07-02');
    const history = await extractHistory({
      historyDir,
      config: config.sources.history,
      engine,
      lakeRoot: lake,
      ingestDate: '2025-07-02',
    });

    expect(mysqlResults.map((r) => r.rows)).toEqual([0, 0, 0, 0]);
    expect(dynamoResult.rows).toBe(0);
    expect(history.rows).toBe(0);
    expect(history.skipped.length).toBe(Object.keys(manifest.counts.history.files).length);
  });
});
