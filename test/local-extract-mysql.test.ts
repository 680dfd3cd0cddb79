import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { extractMysql, incrementalQuery } from '../lib/local/extract-mysql.js';
import { tableGlob } from '../lib/local/lake.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import { withRetry } from '../lib/local/retry.js';
import { readState, statePath } from '../lib/local/state.js';
import { rawMysqlCustomers, rawMysqlOrderItems, rawMysqlOrders } from '../lib/schema/tables.js';

const ddl = readFileSync(join(import.meta.dirname, '..', 'lib', 'sources', 'mysql-schema.sql'), 'utf8');

describe('incremental query', () => {
  it('selects everything up to the bound on the first run', () => {
    const { sql, values } = incrementalQuery('orders', null, '2025-01-01 00:00:00');
    expect(sql).toContain('WHERE `updated_at` <= ? ORDER BY `updated_at`, `order_id`');
    expect(values).toEqual(['2025-01-01 00:00:00']);
  });

  it('expands (updated_at, order_id, line_number) > watermark for a composite key', () => {
    const { sql, values } = incrementalQuery(
      'order_items',
      { updatedAt: '2024-01-01 00:00:00.000', key: ['7', '2'] },
      '2025-01-01 00:00:00',
    );
    expect(sql).toContain(
      'WHERE (`updated_at` > ? OR (`updated_at` = ? AND (`order_id` > ? OR (`order_id` = ? AND `line_number` > ?)))) AND `updated_at` <= ?',
    );
    expect(values).toEqual([
      '2024-01-01 00:00:00.000',
      '2024-01-01 00:00:00.000',
      '7',
      '7',
      '2',
      '2025-01-01 00:00:00',
    ]);
  });
});

describe('MySQL extraction against a real MariaDB', () => {
  let server: LocalMariaDb;
  let db: mysql.Connection;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  const lake = mkdtempSync(join(tmpdir(), 'c360-extract-mysql-'));

  const readRaw = async (table: typeof rawMysqlOrders, where = 'true') => {
    const reader = await engine.runAndReadAll(
      `SELECT * EXCLUDE (ingested_at) FROM read_parquet('${tableGlob(lake, table)}', hive_partitioning = true)
       WHERE ${where} ORDER BY ALL`,
    );
    return reader.getRowObjectsJson();
  };
  const extract = (tables?: Parameters<typeof extractMysql>[0]['tables']) =>
    extractMysql({
      source: server.connection,
      engine,
      lakeRoot: lake,
      ingestDate: '2025-03-01',
      safetyLagSeconds: 0,
      rowsPerFile: 2,
      ...(tables ? { tables } : {}),
    });

  beforeAll(async () => {
    server = await LocalMariaDb.start();
    db = await mysql.createConnection({ ...server.connection, multipleStatements: true, dateStrings: true });
    await db.query(ddl);
    // Legacy databases hold zero dates; strict mode would refuse them.
    await db.query("SET SESSION sql_mode = ''");
    await db.query(`
      INSERT INTO customers (customer_id, email, first_name, last_name, phone, gender, birth_date, city, state, country,
                             signup_at, loyalty_tier, marketing_opt_in, updated_at) VALUES
        (1, 'Ann@Example.com ', 'Ann', 'Lee', '+1 555 0100', 'F', '1980-02-29', 'Austin', 'TX', 'US',
         '2021-01-05 10:00:00', 'gold', 1, '2024-01-01 00:00:00.000'),
        (2, NULL, 'Bo', 'Ng', NULL, NULL, NULL, NULL, NULL, 'US', '2021-01-06 10:00:00', 'bronze', 0,
         '2024-01-01 00:00:00.000'),
        (3, 'cy@example.com', 'Cy', 'Do', NULL, 'M', '0000-00-00', 'Reno', 'NV', 'US', '0000-00-00 00:00:00', NULL,
         NULL, '2024-01-02 00:00:00.000');
      INSERT INTO orders (order_id, customer_id, order_at, status, channel, payment_method, currency, total_amount,
                          discount_amount, updated_at) VALUES
        (10, 1, '2024-01-01 09:30:00', 'delivered', 'web', 'card', 'USD', 120.50, 5.00, '2024-01-01 10:00:00.000'),
        (11, 99, '2024-01-02 09:30:00', 'refunded', 'store', 'cash', 'USD', -20.00, 0.00, '2024-01-02 10:00:00.000'),
        (12, NULL, '0000-00-00 00:00:00', 'placed', 'mobile', 'paypal', 'USD', 15.00, 0.00, '2024-01-02 10:00:00.000');
      INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price, discount_amount, updated_at) VALUES
        (10, 1, 100, 2, 50.00, 0.00, '2024-01-01 10:00:00.000'),
        (10, 2, 101, 1, 25.50, 5.00, '2024-01-01 10:00:00.000'),
        (11, 1, 100, -1, 20.00, 0.00, '2024-01-02 10:00:00.000');
    `);
    ({ instance, connection: engine } = await openLocalEngine({ tempDirectory: join(lake, '.tmp') }));
  });

  afterAll(async () => {
    await db?.end();
    await server?.stop();
    engine?.closeSync();
    instance?.closeSync();
  });

  it('lands a faithful copy of every table as Parquet under raw/mysql/<table>/ingest_date=', async () => {
    const results = await extract();

    expect(results.map((r) => [r.table, r.rows])).toEqual([
      ['customers', 3],
      ['products', 0],
      ['orders', 3],
      ['order_items', 3],
    ]);
    expect(results.find((r) => r.table === 'orders')?.files[0]).toContain(
      join('raw', 'mysql', 'orders', 'ingest_date=2025-03-01'),
    );
    expect(await readRaw(rawMysqlCustomers, 'customer_id in (1, 3)')).toEqual([
      {
        customer_id: '1',
        email: 'Ann@Example.com ',
        first_name: 'Ann',
        last_name: 'Lee',
        phone: '+1 555 0100',
        gender: 'F',
        birth_date: '1980-02-29',
        city: 'Austin',
        state: 'TX',
        country: 'US',
        signup_at: '2021-01-05 10:00:00',
        loyalty_tier: 'gold',
        marketing_opt_in: true,
        updated_at: '2024-01-01 00:00:00.000',
        ingest_date: '2025-03-01',
      },
      {
        customer_id: '3',
        email: 'cy@example.com',
        first_name: 'Cy',
        last_name: 'Do',
        phone: null,
        gender: 'M',
        birth_date: '0000-00-00',
        city: 'Reno',
        state: 'NV',
        country: 'US',
        signup_at: '0000-00-00 00:00:00',
        loyalty_tier: null,
        marketing_opt_in: null,
        updated_at: '2024-01-02 00:00:00.000',
        ingest_date: '2025-03-01',
      },
    ]);
    // Bad records stay in raw exactly as the source holds them: quarantine happens at stage.
    expect(await readRaw(rawMysqlOrders, 'order_id >= 11')).toEqual([
      expect.objectContaining({
        order_id: '11',
        customer_id: '99',
        total_amount: '-20.00',
        status: 'refunded',
      }),
      expect.objectContaining({ order_id: '12', customer_id: null, order_at: '0000-00-00 00:00:00' }),
    ]);
    expect(await readRaw(rawMysqlOrderItems)).toHaveLength(3);
  });

  it('matches the source row for row', async () => {
    const [source] = await db.query('SELECT COUNT(*) AS n, SUM(total_amount) AS total FROM orders');
    const reader = await engine.runAndReadAll(
      `SELECT COUNT(*)::INT AS n, SUM(total_amount)::VARCHAR AS total FROM read_parquet('${tableGlob(lake, rawMysqlOrders)}')`,
    );
    expect(reader.getRowObjectsJson()).toEqual([
      { n: (source as { n: number }[])[0]?.n, total: (source as { total: string }[])[0]?.total },
    ]);
  });

  it('extracts exactly the changed and added rows on the next run, including ties on updated_at', async () => {
    await db.query(`
      UPDATE customers SET loyalty_tier = 'silver', updated_at = '2024-02-01 00:00:00.000' WHERE customer_id = 2;
      INSERT INTO customers (customer_id, email, country, updated_at) VALUES (4, 'dee@example.com', 'CA', '2024-02-01 00:00:00.000');
      INSERT INTO orders (order_id, customer_id, order_at, status, total_amount, updated_at)
        VALUES (13, 4, '2024-02-01 08:00:00', 'placed', 30.00, '2024-01-02 10:00:00.000');
    `);

    const results = await extract(['customers', 'orders']);

    // Order 13 shares updated_at with the old watermark (order 12) but has a greater key: not skipped.
    expect(results.map((r) => [r.table, r.rows])).toEqual([
      ['customers', 2],
      ['orders', 1],
    ]);
    const customers = await readRaw(rawMysqlCustomers);
    expect(customers.map((c) => [c.customer_id, c.loyalty_tier])).toEqual([
      ['1', 'gold'],
      ['2', 'bronze'],
      ['2', 'silver'],
      ['3', null],
      ['4', null],
    ]);
  });

  it('extracts nothing when nothing changed', async () => {
    const results = await extract();
    expect(results.map((r) => r.rows)).toEqual([0, 0, 0, 0]);
    expect(await readRaw(rawMysqlOrders)).toHaveLength(4);
  });

  it('neither skips nor duplicates when a run fails after writing files but before saving its watermark', async () => {
    const stateFile = statePath(lake, 'mysql', 'orders');
    const before = readFileSync(stateFile, 'utf8');
    await db.query(
      "UPDATE orders SET status = 'shipped', updated_at = '2024-03-01 00:00:00.000' WHERE order_id = 10",
    );
    await extract(['orders']);
    writeFileSync(stateFile, before); // the "crash": files landed, watermark not saved

    await db.query(
      "UPDATE orders SET status = 'delivered', updated_at = '2024-03-02 00:00:00.000' WHERE order_id = 13",
    );
    const retry = await extract(['orders']);

    expect(retry[0]?.rows).toBe(2);
    const orders = await readRaw(rawMysqlOrders, 'order_id in (10, 13)');
    expect(orders.map((o) => [o.order_id, o.status])).toEqual([
      ['10', 'delivered'],
      ['10', 'shipped'],
      ['13', 'delivered'],
      ['13', 'placed'],
    ]);
  });

  it('names the host, port, attempts and cause when the source is unreachable', async () => {
    const unreachable = { ...server.connection, port: 1 };
    const progress: string[] = [];
    await expect(
      extractMysql({
        source: unreachable,
        engine,
        lakeRoot: lake,
        ingestDate: '2025-03-01',
        retry: { attempts: 2, baseDelayMs: 10 },
        onProgress: (m) => progress.push(m),
      }),
    ).rejects.toThrow(
      /^Extract mysql: cannot connect to MySQL 127\.0\.0\.1:1\/retail as customer360 \(2 attempts\): ECONNREFUSED/,
    );
    // A refused connection is worth retrying: one retry between the two attempts.
    expect(progress).toEqual([expect.stringMatching(/^mysql\.customers: .*ECONNREFUSED.*attempt 2 of 2/)]);
  });

  it('does not retry bad credentials', async () => {
    const progress: string[] = [];
    await expect(
      extractMysql({
        source: { ...server.connection, password: 'not-the-password' },
        engine,
        lakeRoot: lake,
        ingestDate: '2025-03-01',
        retry: { attempts: 5, baseDelayMs: 10 },
        onProgress: (m) => progress.push(m),
      }),
    ).rejects.toThrow(
      /^Extract mysql: cannot connect to MySQL 127\.0\.0\.1:\d+\/retail as customer360 \(1 attempt\): ER_ACCESS_DENIED_ERROR/,
    );
    expect(progress).toEqual([]);
  });

  it('does not retry an SQL error, and names the table', async () => {
    const progress: string[] = [];
    await db.query('RENAME TABLE products TO products_elsewhere');
    try {
      await expect(
        extractMysql({
          source: server.connection,
          engine,
          lakeRoot: lake,
          ingestDate: '2025-03-01',
          tables: ['products'],
          retry: { attempts: 5, baseDelayMs: 10 },
          onProgress: (m) => progress.push(m),
        }),
      ).rejects.toThrow(
        /^Extract mysql: reading products from MySQL 127\.0\.0\.1:\d+\/retail failed: ER_NO_SUCH_TABLE/,
      );
    } finally {
      await db.query('RENAME TABLE products_elsewhere TO products');
    }
    expect(progress).toEqual([]);
  });
});

describe('withRetry', () => {
  it('doubles the bound of the jittered pause up to maxDelayMs and gives up after the attempts', async () => {
    const pauses: number[] = [];
    let calls = 0;
    const failing = withRetry(
      async () => {
        calls += 1;
        throw Object.assign(new Error('gone'), { code: 'PROTOCOL_CONNECTION_LOST' });
      },
      {
        attempts: 5,
        baseDelayMs: 100,
        maxDelayMs: 300,
        isTransient: () => true,
        random: () => 0.5,
        sleep: async (ms) => {
          pauses.push(ms);
        },
      },
    );
    await expect(failing).rejects.toThrow('gone');
    // Bounds 100, 200, 400 -> 300 (cap), 800 -> 300 (cap); half of each with random() = 0.5.
    expect(pauses).toEqual([50, 100, 150, 150]);
    expect(calls).toBe(5);
  });

  it('throws a non-transient error at once', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new Error('syntax');
        },
        { isTransient: () => false, sleep: async () => {} },
      ),
    ).rejects.toThrow('syntax');
    expect(calls).toBe(1);
  });
});

/**
 * The server goes away in the middle of a large result set. 300,000 orders (about 30 MB on the
 * wire) is far more than the loopback socket buffers hold, so a server killed after the first
 * 10,000-row batch has not yet sent the rest: the read must fail, not finish from buffers.
 */
describe('a lost MariaDB connection during extraction', () => {
  const ORDERS = 300_000;
  const CUSTOMERS = 1_000;
  let server: LocalMariaDb;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  const root = mkdtempSync(join(tmpdir(), 'c360-extract-mysql-lost-'));
  let lakes = 0;
  const newLake = () => {
    lakes += 1;
    return join(root, `lake-${lakes}`);
  };

  const options = (lakeRoot: string) => ({
    source: server.connection,
    engine,
    lakeRoot,
    ingestDate: '2025-03-01',
    safetyLagSeconds: 0,
    tables: ['customers', 'orders'] as const,
    batchRows: 10_000,
  });

  /**
   * Count, distinct keys and key sum of what landed. The source keys are 1..n, so n rows with n
   * distinct keys is every source row exactly once; the sum n (n + 1) / 2 double-checks it.
   */
  const landed = async (lakeRoot: string, table: typeof rawMysqlOrders, key: string) => {
    const reader = await engine.runAndReadAll(
      `SELECT COUNT(*)::BIGINT::VARCHAR AS n, COUNT(DISTINCT ${key})::BIGINT::VARCHAR AS keys,
              COALESCE(SUM(${key}), 0)::BIGINT::VARCHAR AS key_sum
       FROM read_parquet('${tableGlob(lakeRoot, table)}')`,
    );
    return reader.getRowObjectsJson()[0];
  };
  const everyOrderOnce = {
    n: String(ORDERS),
    keys: String(ORDERS),
    key_sum: String((ORDERS * (ORDERS + 1)) / 2),
  };
  const everyCustomerOnce = {
    n: String(CUSTOMERS),
    keys: String(CUSTOMERS),
    key_sum: String((CUSTOMERS * (CUSTOMERS + 1)) / 2),
  };

  beforeAll(async () => {
    server = await LocalMariaDb.start();
    const db = await mysql.createConnection({ ...server.connection, multipleStatements: true });
    await db.query(ddl);
    // Seven orders share each updated_at, so the watermark's key tie-break is exercised too.
    await db.query(`
      INSERT INTO customers (customer_id, email, country, updated_at)
        SELECT seq, CONCAT('c', seq, '@example.com'), 'US', '2024-01-01 00:00:00.000' + INTERVAL seq SECOND
        FROM seq_1_to_${CUSTOMERS};
      INSERT INTO orders (order_id, customer_id, order_at, status, channel, payment_method, currency,
                          total_amount, discount_amount, updated_at)
        SELECT seq, seq % ${CUSTOMERS} + 1, '2024-01-01 00:00:00' + INTERVAL seq SECOND, 'delivered', 'web',
               'card', 'USD', (seq % 500) + 0.25, 0.00, '2024-01-01 00:00:00.000' + INTERVAL (seq DIV 7) SECOND
        FROM seq_1_to_${ORDERS};
    `);
    await db.end();
    ({ instance, connection: engine } = await openLocalEngine({ tempDirectory: join(root, '.tmp') }));
  });

  afterAll(async () => {
    await server?.stop();
    engine?.closeSync();
    instance?.closeSync();
  });

  it('rejects naming the table, host, port and attempts when the server is killed mid-stream; a later run lands every row once', async () => {
    const lake = newLake();
    const { port } = server.connection;
    let killedAt: number | undefined;
    const progress: string[] = [];

    const failure = await extractMysql({
      ...options(lake),
      retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
      onProgress: (m) => progress.push(m),
      onBatch: async ({ table }) => {
        if (table === 'orders' && killedAt === undefined) {
          await server.kill('SIGKILL');
          killedAt = Date.now();
        }
      },
    }).then(
      () => undefined,
      (error: Error) => error,
    );

    expect(killedAt).toBeDefined();
    // The socket hits end of file (PROTOCOL_CONNECTION_LOST) or a reset; the two reconnects are refused.
    expect(failure?.message).toMatch(
      new RegExp(
        `^Extract mysql: lost the connection to 127\\.0\\.0\\.1:${port} while reading orders \\(3 attempts\\): ` +
          '(PROTOCOL_CONNECTION_LOST|ECONNRESET|EPIPE) .*; last attempt: ECONNREFUSED',
      ),
    );
    // Two pauses of at most 50 and 100 ms plus two refused connects: well within 10 s.
    expect(Date.now() - (killedAt ?? 0)).toBeLessThan(10_000);
    expect(progress.filter((m) => m.includes('lost'))).toHaveLength(2);
    // customers finished before the kill and keeps its files and watermark; orders saved nothing.
    expect(await landed(lake, rawMysqlCustomers, 'customer_id')).toEqual(everyCustomerOnce);
    expect(readState(lake, 'mysql', 'orders')).toBeUndefined();
    expect(existsSync(join(lake, 'raw', 'mysql', 'orders'))).toBe(false);

    await server.restart();
    const results = await extractMysql(options(lake));

    expect(results.map((r) => [r.table, r.rows, r.attempts])).toEqual([
      ['customers', 0, 1],
      ['orders', ORDERS, 1],
    ]);
    expect(await landed(lake, rawMysqlCustomers, 'customer_id')).toEqual(everyCustomerOnce);
    expect(await landed(lake, rawMysqlOrders, 'order_id')).toEqual(everyOrderOnce);
  });

  it('rides out an outage shorter than the retry budget and reports the retry', async () => {
    const lake = newLake();
    const { port } = server.connection;
    let restarted: Promise<void> | undefined;
    const progress: string[] = [];

    const results = await extractMysql({
      ...options(lake),
      // Pause bounds 200, 400, 800, then 1,000 ms for the other 26 retries: about 14 s of waiting
      // expected (half of each bound) against a restart that takes a second or three.
      retry: { attempts: 30, baseDelayMs: 200, maxDelayMs: 1_000 },
      onProgress: (m) => progress.push(m),
      onBatch: async ({ table }) => {
        if (table === 'orders' && restarted === undefined) {
          // A clean shutdown: MariaDB kills the running query and closes the connection.
          await server.kill('SIGTERM');
          restarted = server.restart();
        }
      },
    });
    await restarted;

    const orders = results.find((r) => r.table === 'orders');
    expect(orders?.rows).toBe(ORDERS);
    expect(orders?.attempts).toBeGreaterThanOrEqual(2);
    expect(progress).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^mysql\\.orders: connection to 127\\.0\\.0\\.1:${port} lost \\(.+\\); attempt 2 of 30 in \\d+ ms`,
        ),
      ),
    );
    expect(progress).toContainEqual(`mysql.orders: ${ORDERS} changed rows (attempt ${orders?.attempts})`);
    expect(await landed(lake, rawMysqlCustomers, 'customer_id')).toEqual(everyCustomerOnce);
    expect(await landed(lake, rawMysqlOrders, 'order_id')).toEqual(everyOrderOnce);
  });
});
