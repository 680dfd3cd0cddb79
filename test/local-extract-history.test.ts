import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { extractHistory } from '../lib/local/extract-history.js';
import { tableGlob } from '../lib/local/lake.js';
import { rawHistoryOrders } from '../lib/schema/tables.js';

describe('history files landed into the raw zone', () => {
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  const root = mkdtempSync(join(tmpdir(), 'c360-history-'));
  const lake = join(root, 'lake');
  const readRaw = async () =>
    (
      await engine.runAndReadAll(
        `SELECT * EXCLUDE (ingested_at) FROM read_parquet('${tableGlob(lake, rawHistoryOrders)}', hive_partitioning = true)
         ORDER BY source_file, line_number, ingest_date`,
      )
    ).getRowObjectsJson();

  beforeAll(async () => {
    ({ instance, connection: engine } = await openLocalEngine({ tempDirectory: join(root, '.tmp') }));
  });
  afterAll(() => {
    engine?.closeSync();
    instance?.closeSync();
  });

  it('lands a CSV export as it is, with the default customer_id,date,quantity,amount mapping', async () => {
    const dir = join(root, 'default');
    mkdirSync(join(dir, '2019'), { recursive: true });
    writeFileSync(
      join(dir, '2019', 'orders.csv'),
      'customer_id,date,quantity,amount\nL0001,2019-03-04,2,19.98\nL0002,04/03/2019,1,-5\n,2019-13-45,,abc\n',
    );

    const result = await extractHistory({
      historyDir: dir,
      config: parseConfig({}).sources.history,
      engine,
      lakeRoot: lake,
      ingestDate: '2025-01-01',
    });

    expect(result.rows).toBe(3);
    // Bad values are kept verbatim: stage decides what is a reject, and why.
    expect(await readRaw()).toEqual([
      {
        source_file: '2019/orders.csv',
        line_number: '1',
        order_ref: null,
        customer_ref: 'L0001',
        order_date: '2019-03-04',
        amount: '19.98',
        quantity: '2',
        ingest_date: '2025-01-01',
      },
      expect.objectContaining({
        line_number: '2',
        customer_ref: 'L0002',
        order_date: '04/03/2019',
        amount: '-5',
      }),
      expect.objectContaining({
        line_number: '3',
        customer_ref: null,
        order_date: '2019-13-45',
        amount: 'abc',
      }),
    ]);
  });

  it('skips files already landed and lands a changed file again', async () => {
    const dir = join(root, 'default');
    const config = parseConfig({}).sources.history;
    const again = await extractHistory({
      historyDir: dir,
      config,
      engine,
      lakeRoot: lake,
      ingestDate: '2025-01-02',
    });
    expect(again).toMatchObject({ rows: 0, skipped: ['2019/orders.csv'] });

    const file = join(dir, '2019', 'orders.csv');
    writeFileSync(file, 'customer_id,date,quantity,amount\nL0001,2019-03-04,2,19.98\n');
    utimesSync(file, new Date('2025-01-02T00:00:00Z'), new Date('2025-01-02T00:00:00Z'));
    const changed = await extractHistory({
      historyDir: dir,
      config,
      engine,
      lakeRoot: lake,
      ingestDate: '2025-01-02',
    });

    expect(changed.files).toEqual([{ file: '2019/orders.csv', rows: 1 }]);
    const rows = await readRaw();
    expect(rows.map((r) => [r.line_number, r.ingest_date])).toEqual([
      ['1', '2025-01-01'],
      ['1', '2025-01-02'],
      ['2', '2025-01-01'],
      ['3', '2025-01-01'],
    ]);
  });

  it('maps user-named columns of a JSON lines export keyed by email', async () => {
    const dir = join(root, 'jsonl');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'legacy.jsonl'),
      '{"ref":"A-1","buyer":"Ann@Example.com","when":"2018-12-24","total":42.5}\n{"ref":"A-2","buyer":"bo@example.com","when":"2018-12-25","total":7}\n',
    );
    const config = parseConfig({
      sources: {
        history: {
          format: 'jsonl',
          customerKey: 'email',
          columns: { orderId: 'ref', customer: 'buyer', orderDate: 'when', amount: 'total', quantity: null },
        },
      },
    }).sources.history;

    await extractHistory({
      historyDir: dir,
      config,
      engine,
      lakeRoot: join(root, 'lake-jsonl'),
      ingestDate: '2025-01-01',
    });

    const rows = (
      await engine.runAndReadAll(
        `SELECT order_ref, customer_ref, order_date, amount, quantity
         FROM read_parquet('${tableGlob(join(root, 'lake-jsonl'), rawHistoryOrders)}') ORDER BY order_ref`,
      )
    ).getRowObjectsJson();
    expect(rows).toEqual([
      {
        order_ref: 'A-1',
        customer_ref: 'Ann@Example.com',
        order_date: '2018-12-24',
        amount: '42.5',
        quantity: null,
      },
      {
        order_ref: 'A-2',
        customer_ref: 'bo@example.com',
        order_date: '2018-12-25',
        amount: '7',
        quantity: null,
      },
    ]);
  });

  it('names the missing column, the config key and the columns the file has', async () => {
    const dir = join(root, 'wrong');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'export.csv'), 'cust,day,qty,value\nL1,2019-01-01,1,2\n');

    await expect(
      extractHistory({
        historyDir: dir,
        config: parseConfig({}).sources.history,
        engine,
        lakeRoot: join(root, 'lake-wrong'),
        ingestDate: '2025-01-01',
      }),
    ).rejects.toThrow(
      'History file export.csv has no column "customer_id" (sources.history.columns.customer); its columns are: cust, day, qty, value',
    );
  });
});
