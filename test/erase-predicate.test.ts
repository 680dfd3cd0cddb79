import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamodbKeyListings } from '../lib/erase/core.js';
import { erasurePredicate } from '../lib/erase/keys.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { prepareEngine } from '../lib/local/sql-runner.js';
import { stageSourceDeletes } from '../lib/schema/tables.js';

/*
 * Which rows of the two late additions to the erasure, stage.source_deletes and the local DynamoDB key
 * listings, are the erased customer's: hand-made rows, the expected ones picked by hand. The customer
 * is MySQL customer 42 with order 7, DynamoDB key customer#42, and the email key of ann@example.com.
 */
describe('erasure predicates of source_deletes and the key listings', () => {
  let engine: Awaited<ReturnType<typeof openLocalEngine>>;

  beforeAll(async () => {
    engine = await openLocalEngine({ tempDirectory: mkdtempSync(join(tmpdir(), 'c360-erase-pred-')) });
    await prepareEngine(engine.connection);
    await engine.connection.run(`CREATE TEMP TABLE erase_keys AS SELECT * FROM (VALUES
      ('mysql_customer_id', '42'), ('mysql_order_id', '7'), ('dynamodb_customer_key', 'customer#42'),
      ('email_sha256', lower(to_hex(sha256(to_utf8('ann@example.com')))))) AS t(key_type, key_value)`);
  });

  afterAll(() => {
    engine?.connection.closeSync();
    engine?.instance.closeSync();
  });

  const matching = async (predicate: string | undefined, rows: string) => {
    if (!predicate) throw new Error('no predicate');
    const reader = await engine.connection.runAndReadAll(
      `SELECT * FROM (${rows}) WHERE coalesce(${predicate}, false) ORDER BY ALL`,
    );
    return reader.getRowsJson();
  };

  it('source_deletes: the customer, their orders and lines, their events, by each source key', async () => {
    const rows = `SELECT * FROM (VALUES
      ('mysql.customers', '42'), ('mysql.customers', '420'), ('mysql.products', '42'),
      ('mysql.orders', '7'), ('mysql.orders', '77'), ('mysql.order_items', '7|2'), ('mysql.order_items', '77|1'),
      ('dynamodb.interactions', 'customer#42|e-1'), ('dynamodb.interactions', 'customer#420|e-1'),
      ('dynamodb.interactions', 'email#Ann@Example.com |e-2'), ('dynamodb.interactions', 'email#bob@example.com|e-3')
    ) AS t(source_table, record_key)`;
    // not: customer 420, product 42 (a product id, not a customer), order 77 and its line, bob's events
    expect(await matching(erasurePredicate(stageSourceDeletes), rows)).toEqual([
      ['dynamodb.interactions', 'customer#42|e-1'],
      ['dynamodb.interactions', 'email#Ann@Example.com |e-2'],
      ['mysql.customers', '42'],
      ['mysql.order_items', '7|2'],
      ['mysql.orders', '7'],
    ]);
  });

  it('key listings: the items of the customer, by DynamoDB key or email key', async () => {
    const rows = `SELECT * FROM (VALUES
      ('customer#42', 'e-1'), ('customer#4', 'e-1'), ('email#ann@example.com', 'e-2'), ('visitor#9', 'e-3')
    ) AS t(customer_key, event_key)`;
    expect(await matching(erasurePredicate(dynamodbKeyListings), rows)).toEqual([
      ['customer#42', 'e-1'],
      ['email#ann@example.com', 'e-2'],
    ]);
  });
});
