import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyChanges,
  compareWithManifest,
  countLoaded,
  type DatasetResult,
  generateDataset,
  MYSQL_COLUMNS,
  UNKNOWN_CUSTOMER_BASE,
} from '../lib/generate/index.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';

// The frequent-purchase profile: 400 people then give enough rows (over 1,000 orders) to fill several
// loader chunks, which is what these tests are about, without a slower load of more people.
const OPTIONS = { customers: 400, seed: 'loader-test', purchaseProfile: 'grocery' } as const;
const TABLE = 'customer-interactions';

let db: LocalMariaDb;
let dynamo: LocalDynamoDb;
let client: DynamoDBClient;
let conn: mysql.Connection;
let work: string;
let loaded: DatasetResult;

type Item = Record<string, unknown>;

async function scanAll(): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: TABLE, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) items.push(unmarshall(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const itemOrder = (a: Item, b: Item) => {
  const ka = `${a.customer_key}|${a.event_key}`;
  const kb = `${b.customer_key}|${b.event_key}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/** A table as the LOAD DATA text the generator writes: one line per row, ordered by primary key. */
async function dumpTable(table: keyof typeof MYSQL_COLUMNS): Promise<string[]> {
  const columns = MYSQL_COLUMNS[table];
  // Order by the table's columns, not by the text aliases of the same name.
  const key = table === 'order_items' ? 't.order_id, t.line_number' : `t.${columns[0]}`;
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT ${columns.map((c) => `CAST(t.\`${c}\` AS CHAR) AS \`${c}\``).join(', ')} FROM \`${table}\` t ORDER BY ${key}`,
  );
  return rows.map((r) => columns.map((c) => (r[c] === null ? '\\N' : String(r[c]))).join('\t'));
}

function fileLines(dir: string, table: string): string[] {
  return readFileSync(join(dir, 'mysql', `${table}.tsv`), 'utf8')
    .split('\n')
    .slice(1, -1);
}

const sortedLines = (lines: string[], keyColumns: number) =>
  [...lines].sort((a, b) => {
    const ka = a.split('\t').slice(0, keyColumns).map(Number);
    const kb = b.split('\t').slice(0, keyColumns).map(Number);
    return (ka[0] ?? 0) - (kb[0] ?? 0) || (ka[1] ?? 0) - (kb[1] ?? 0);
  });

beforeAll(async () => {
  [db, dynamo] = await Promise.all([LocalMariaDb.start(), LocalDynamoDb.start()]);
  client = dynamo.client();
  work = mkdtempSync(join(tmpdir(), 'c360-gen-load-'));
  loaded = await generateDataset(OPTIONS, {
    mysql: { connection: db.connection, chunkRows: 500 },
    dynamodb: { client, tableName: TABLE, concurrency: 4 },
    historyDir: join(work, 'history'),
    files: { dir: join(work, 'files') },
  });
  conn = await mysql.createConnection({ ...db.connection, dateStrings: true });
});

afterAll(async () => {
  await conn?.end();
  await Promise.all([db?.stop(), dynamo?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('loading MariaDB, DynamoDB and history files', () => {
  it('loads exactly the manifest counts', async () => {
    const counts = await countLoaded({
      mysql: db.connection,
      dynamodb: { client, tableName: TABLE },
      historyDir: join(work, 'history'),
    });
    expect(compareWithManifest(loaded.manifest, counts)).toEqual([]);
    expect(counts.mysql?.orders).toBeGreaterThan(1000);
    expect(counts.dynamodb).toBeGreaterThan(5000);
    expect(Object.keys(counts.history ?? {})).toEqual([
      'orders-2020.csv',
      'orders-2021.csv',
      'orders-2022.csv',
    ]);
  });

  it('holds exactly the generated rows, zero and impossible dates included', async () => {
    for (const table of ['customers', 'products', 'orders', 'order_items'] as const) {
      const expected = sortedLines(fileLines(join(work, 'files'), table), table === 'order_items' ? 2 : 1);
      expect(await dumpTable(table), table).toEqual(expected);
    }
    const [zero] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM orders WHERE CAST(order_at AS CHAR) = '0000-00-00 00:00:00'",
    );
    expect(Number(zero[0]?.n)).toBe(loaded.manifest.anomalies.dirty['mysql.orders']?.zero_order_date);
  });

  it('stores the planted MySQL anomalies', async () => {
    const q = async (sql: string) => Number((await conn.query<mysql.RowDataPacket[]>(sql))[0][0]?.n);
    const d = loaded.manifest.anomalies.dirty;
    expect(await q('SELECT COUNT(*) AS n FROM orders WHERE customer_id IS NULL')).toBe(
      d['mysql.orders']?.null_customer_id,
    );
    expect(
      await q(
        'SELECT COUNT(*) AS n FROM orders o WHERE customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id)',
      ),
    ).toBe(d['mysql.orders']?.unknown_customer);
    expect(await q('SELECT COUNT(*) AS n FROM orders WHERE total_amount < 0')).toBe(
      d['mysql.orders']?.negative_amount,
    );
    expect(
      await q("SELECT COUNT(*) AS n FROM orders WHERE CAST(order_at AS CHAR) REGEXP '-(02-30|04-31) '"),
    ).toBe(d['mysql.orders']?.invalid_order_date);
    expect(await q('SELECT COUNT(*) AS n FROM order_items WHERE product_id IS NULL')).toBe(
      d['mysql.order_items']?.null_product_id,
    );
    expect(
      await q(
        'SELECT COUNT(*) AS n FROM order_items i WHERE product_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products p WHERE p.product_id = i.product_id)',
      ),
    ).toBe(d['mysql.order_items']?.unknown_product);
    expect(await q("SELECT COUNT(*) AS n FROM customers WHERE CAST(signup_at AS CHAR) LIKE '0000%'")).toBe(
      d['mysql.customers']?.zero_signup_date,
    );
    const total = Object.values(d['mysql.orders'] ?? {}).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
  });

  it('stores the interactions as generated, with the planted anomalies', async () => {
    const items = (await scanAll()).sort(itemOrder);
    const generated = readFileSync(join(work, 'files', 'dynamodb', 'interactions.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l)
      .map((l) => JSON.parse(l) as Item)
      .sort(itemOrder);
    expect(items).toEqual(generated);
    const d = loaded.manifest.anomalies.dirty['dynamodb.interactions'] ?? {};
    const ids = items.flatMap((i) => (i.event_id === undefined ? [] : [String(i.event_id)]));
    expect(ids.length - new Set(ids).size).toBe(d.duplicate_event_id);
    expect(items.filter((i) => i.event_id === undefined).length).toBe(d.missing_event_id);
    expect(items.filter((i) => i.customer_key === 'customer#undefined').length).toBe(d.null_customer_key);
    expect(items.filter((i) => Number(i.customer_id) >= UNKNOWN_CUSTOMER_BASE).length).toBe(
      d.unknown_customer,
    );
    expect(items.filter((i) => Number.isNaN(Date.parse(String(i.event_at)))).length).toBeGreaterThan(0);
    const table = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: 'customer_key', KeyType: 'HASH' },
      { AttributeName: 'event_key', KeyType: 'RANGE' },
    ]);
    expect(table.Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
  });

  it('writes history files with the default column mapping', () => {
    const dir = join(work, 'history');
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text.startsWith('customer_id,date,quantity,amount\n'), file).toBe(true);
      expect(text).toBe(readFileSync(join(work, 'files', 'history', file), 'utf8'));
    }
  });

  it('streams through bounded buffers: chunks of 500 rows, at most 4 batches in flight', () => {
    // The MySQL loader holds one chunk filling and one loading (plus one person's rows at most);
    // the DynamoDB loader holds its buffer and the in-flight batches.
    expect(loaded.maxHeld.mysqlRows).toBeGreaterThanOrEqual(500);
    expect(loaded.maxHeld.mysqlRows).toBeLessThan(500 * 2 + 2000);
    expect(loaded.maxHeld.dynamodbItems).toBeLessThanOrEqual((4 + 1) * 25 + 1000);
    expect(loaded.manifest.counts.mysql.order_items).toBeGreaterThan(loaded.maxHeld.mysqlRows * 2);
  });

  it('reloads byte-identical tables with the same seed, with multi-row INSERT too', async () => {
    const before = createHash('sha256');
    for (const table of ['customers', 'products', 'orders', 'order_items'] as const) {
      before.update((await dumpTable(table)).join('\n'));
    }
    await generateDataset(OPTIONS, { mysql: { connection: db.connection, method: 'insert', reset: true } });
    const after = createHash('sha256');
    for (const table of ['customers', 'products', 'orders', 'order_items'] as const) {
      after.update((await dumpTable(table)).join('\n'));
    }
    expect(after.digest('hex')).toBe(before.digest('hex'));
    await expect(generateDataset(OPTIONS, { mysql: { connection: db.connection } })).rejects.toThrow(
      /already holds rows/,
    );
  });
});

describe('applyChanges', () => {
  it('changes exactly the rows it reports, all written at updatedAt', async () => {
    const watermark = '2026-01-01 00:00:00.000';
    const [[before]] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT MAX(updated_at) AS m FROM (SELECT updated_at FROM orders UNION ALL SELECT updated_at FROM customers) t',
    );
    expect(String(before?.m) < watermark).toBe(true);
    const changes = await applyChanges(
      { mysql: db.connection, dynamodb: { client, tableName: TABLE } },
      { seed: 1, updatedAt: '2026-01-05T08:00:00.000Z' },
    );
    expect(changes.updatedAt).toBe('2026-01-05 08:00:00.000');
    const changed = async (table: string, key: string) => {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(
        `SELECT ${key} AS k, CAST(updated_at AS CHAR) AS u FROM ${table} WHERE updated_at > ? ORDER BY 1`,
        [watermark],
      );
      expect(rows.every((r) => r.u === '2026-01-05 08:00:00.000')).toBe(true);
      return rows.map((r) => String(r.k)).sort();
    };
    const both = (c: { updated: (number | string)[]; inserted: (number | string)[] }) =>
      [...c.updated, ...c.inserted].map(String).sort();
    expect(await changed('customers', 'customer_id')).toEqual(both(changes.mysql.customers));
    expect(await changed('products', 'product_id')).toEqual(both(changes.mysql.products));
    expect(await changed('orders', 'order_id')).toEqual(both(changes.mysql.orders));
    expect(await changed('order_items', "CONCAT(order_id, ':', line_number)")).toEqual(
      both(changes.mysql.order_items),
    );
    expect(changes.mysql.customers.updated.length).toBe(5);
    expect(changes.mysql.customers.inserted.length).toBe(3);
    expect(changes.mysql.orders.updated.length).toBe(8);
    expect(changes.mysql.orders.inserted.length).toBe(6);

    const fresh = (await scanAll()).filter((i) => String(i.updated_at) >= '2026-01-01');
    expect(fresh.map((i) => `${i.customer_key}|${i.event_key}`).sort()).toEqual(
      changes.dynamodb.inserted.map((i) => `${i.customer_key}|${i.event_key}`).sort(),
    );
    expect(fresh.length).toBe(12);
    expect(fresh.some((i) => String(i.event_at) < '2025-12-20')).toBe(true); // a late arrival

    // New orders reference existing customers and products.
    const [orphans] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM orders o WHERE o.order_id IN (?) AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id)`,
      [changes.mysql.orders.inserted],
    );
    expect(Number(orphans[0]?.n)).toBe(0);
  });
});
