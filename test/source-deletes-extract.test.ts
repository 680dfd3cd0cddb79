import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { flattenItem, removedItemRow, rowFromExportLine } from '../lib/local/extract-dynamodb.js';
import { extractMysql, keyScanQuery } from '../lib/local/extract-mysql.js';
import { tableGlob } from '../lib/local/lake.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import { rawDynamodbInteractions, rawMysqlKeys } from '../lib/schema/tables.js';

const ddl = readFileSync(join(import.meta.dirname, '..', 'lib', 'sources', 'mysql-schema.sql'), 'utf8');

describe('DynamoDB export records', () => {
  const at = '2025-01-01 00:00:00';
  const names = rawDynamodbInteractions.columns.map((c) => c.name);
  const byName = (row: (string | null)[] | null) => Object.fromEntries(names.map((n, i) => [n, row?.[i]]));

  it('land a record without NewImage as its keys, marked deleted', () => {
    const row = byName(
      rowFromExportLine('{"Metadata":{},"Keys":{"customer_key":{"S":"c"},"event_key":{"S":"k"}}}', at),
    );
    expect(row).toEqual({
      ...Object.fromEntries(names.map((n) => [n, null])),
      customer_key: 'c',
      event_key: 'k',
      item_json: '{"customer_key":{"S":"c"},"event_key":{"S":"k"}}',
      ingested_at: at,
      is_deleted: 'true',
    });
    expect(byName(removedItemRow({ customer_key: { S: 'c' }, event_key: { S: 'k' } }, at))).toEqual(row);
  });

  it('land items as they were, not deleted', () => {
    const item = { customer_key: { S: 'c' }, event_key: { S: 'k' }, event_id: { S: 'e' } };
    expect(rowFromExportLine(JSON.stringify({ Item: item }), at)).toEqual(flattenItem(item, at));
    expect(byName(rowFromExportLine(JSON.stringify({ Keys: {}, NewImage: item }), at)).is_deleted).toBe(
      'false',
    );
    expect(rowFromExportLine('  ', at)).toBeNull();
    expect(() => rowFromExportLine('{"Metadata":{}}', at)).toThrow('expected Item, NewImage or Keys');
  });
});

describe('MySQL key scans against a real MariaDB', () => {
  let server: LocalMariaDb;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  const lake = mkdtempSync(join(tmpdir(), 'c360-key-scans-'));

  const extract = (ingestDate: string, keyScanEveryDays?: number) =>
    extractMysql({
      source: server.connection,
      engine,
      lakeRoot: lake,
      ingestDate,
      tables: ['orders', 'order_items'],
      safetyLagSeconds: 0,
      ...(keyScanEveryDays === undefined ? {} : { keyScanEveryDays }),
    });
  const keysLanded = async () =>
    (
      await engine.runAndReadAll(
        `SELECT CAST(ingest_date AS VARCHAR) AS d, source_table, order_id, line_number, customer_id, product_id
         FROM read_parquet('${tableGlob(lake, rawMysqlKeys)}', hive_partitioning = true) ORDER BY ALL`,
      )
    ).getRowObjectsJson();

  beforeAll(async () => {
    server = await LocalMariaDb.start();
    const db = await mysql.createConnection({ ...server.connection, multipleStatements: true });
    await db.query(ddl);
    await db.query(`
      INSERT INTO customers (customer_id, email, updated_at) VALUES (1, 'a@example.com', '2024-01-01 00:00:00');
      INSERT INTO orders (order_id, customer_id, order_at, status, total_amount, updated_at) VALUES
        (10, 1, '2024-01-01 10:00:00', 'placed', 5, '2024-01-01 00:00:00'),
        (11, 1, '2024-01-01 11:00:00', 'placed', 5, '2024-01-01 00:00:00');
      INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price, updated_at) VALUES
        (10, 1, 7, 1, 5, '2024-01-01 00:00:00'), (10, 2, 7, 1, 5, '2024-01-01 00:00:00');`);
    await db.end();
    ({ instance, connection: engine } = await openLocalEngine({ tempDirectory: join(lake, '.tmp') }));
  }, 120_000);

  afterAll(async () => {
    engine?.closeSync();
    instance?.closeSync();
    await server?.stop();
  });

  it('reads the primary key only', () => {
    expect(keyScanQuery('order_items')).toBe('SELECT `order_id`, `line_number` FROM `order_items`');
  });

  it('lands every key after the rows, once a day by default, each table in its own columns', async () => {
    const first = await extract('2025-03-01');
    expect(first.map((r) => [r.table, r.rows, r.keys])).toEqual([
      ['orders', 2, 2],
      ['order_items', 2, 2],
    ]);
    // the same day again: not due
    expect((await extract('2025-03-01')).map((r) => r.keys)).toEqual([undefined, undefined]);
    expect(await keysLanded()).toEqual([
      {
        d: '2025-03-01',
        source_table: 'order_items',
        order_id: '10',
        line_number: 1,
        customer_id: null,
        product_id: null,
      },
      {
        d: '2025-03-01',
        source_table: 'order_items',
        order_id: '10',
        line_number: 2,
        customer_id: null,
        product_id: null,
      },
      {
        d: '2025-03-01',
        source_table: 'orders',
        order_id: '10',
        line_number: null,
        customer_id: null,
        product_id: null,
      },
      {
        d: '2025-03-01',
        source_table: 'orders',
        order_id: '11',
        line_number: null,
        customer_id: null,
        product_id: null,
      },
    ]);
  });

  it('stamps the scan after the rows it judges', async () => {
    const stamps = (
      await engine.runAndReadAll(
        `SELECT (SELECT min(ingested_at) FROM read_parquet('${tableGlob(lake, rawMysqlKeys)}')) AS scanned,
                (SELECT max(ingested_at) FROM read_parquet('${join(lake, 'raw', 'mysql', 'orders', '**', '*.parquet')}')) AS read`,
      )
    ).getRowObjectsJson()[0];
    expect(String(stamps?.scanned) > String(stamps?.read)).toBe(true);
  });

  it('scans again after everyDays days, and never with 0', async () => {
    // last scan 2025-03-01: every 3 days, 03-03 is too early and 03-04 is due
    expect((await extract('2025-03-03', 3)).map((r) => r.keys)).toEqual([undefined, undefined]);
    expect((await extract('2025-03-04', 3)).map((r) => r.keys)).toEqual([2, 2]);
    expect((await extract('2025-03-10', 0)).map((r) => r.keys)).toEqual([undefined, undefined]);
    await expect(extract('2025-03-11', -1)).rejects.toThrow(
      'keyScanEveryDays must be a whole number of days >= 0',
    );
  });
});
