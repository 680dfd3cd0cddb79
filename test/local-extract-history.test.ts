import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import type { Customer360ConfigInput } from '../lib/config/schema.js';
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
    // Bad values are kept verbatim (an empty field as ''): stage decides what is a reject, and why.
    // Lines are the file's: the header is line 1, so the first data row is line 2.
    expect(await readRaw()).toEqual([
      {
        source_file: '2019/orders.csv',
        line_number: '2',
        order_ref: null,
        customer_ref: 'L0001',
        order_date: '2019-03-04',
        amount: '19.98',
        quantity: '2',
        read_error: null,
        read_error_detail: null,
        ingest_date: '2025-01-01',
      },
      expect.objectContaining({
        line_number: '3',
        customer_ref: 'L0002',
        order_date: '04/03/2019',
        amount: '-5',
      }),
      expect.objectContaining({
        line_number: '4',
        customer_ref: '',
        order_date: '2019-13-45',
        amount: 'abc',
        quantity: '',
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

    expect(changed.files).toEqual([{ file: '2019/orders.csv', rows: 1, readErrors: 0 }]);
    const rows = await readRaw();
    expect(rows.map((r) => [r.line_number, r.ingest_date])).toEqual([
      ['2', '2025-01-01'],
      ['2', '2025-01-02'],
      ['3', '2025-01-01'],
      ['4', '2025-01-01'],
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

  describe('reading each file literally and quarantining what cannot be read', () => {
    let count = 0;
    const HEADER = 'customer_id,date,quantity,amount\n';
    /** Writes the files into a fresh folder, lands them into a fresh lake, and returns the raw rows. */
    const land = async (
      files: Readonly<Record<string, string | Buffer>>,
      history: NonNullable<NonNullable<Customer360ConfigInput['sources']>['history']> = {},
    ) => {
      count += 1;
      const dir = join(root, `literal-${count}`);
      const lakeRoot = join(root, `lake-literal-${count}`);
      for (const [name, content] of Object.entries(files)) {
        mkdirSync(join(dir, name, '..'), { recursive: true });
        writeFileSync(join(dir, name), content);
      }
      const progress: string[] = [];
      const result = await extractHistory({
        historyDir: dir,
        config: parseConfig({ sources: { history } }).sources.history,
        engine,
        lakeRoot,
        ingestDate: '2025-01-01',
        onProgress: (message) => progress.push(message),
      });
      const rows = (
        await engine.runAndReadAll(
          `SELECT source_file, line_number, customer_ref, order_date, amount, quantity, read_error, read_error_detail
           FROM read_parquet('${tableGlob(lakeRoot, rawHistoryOrders)}') ORDER BY source_file, line_number`,
        )
      ).getRowObjectsJson();
      return { result, rows, progress };
    };

    it('quarantines a row with more or fewer fields than the header instead of cutting or padding it', async () => {
      const { rows } = await land({
        'orders.csv': `${HEADER}L0000019,2020-05-01,1,1,234.50\nL0000020,2020-05-02,1,5.00,x,y\nL0000021,2020-05-03,2\nL0000022,2020-05-04,3,7.50\n`,
      });
      // Before: line 2 landed with amount '1' (234.50 dropped), line 3 with its two extra fields dropped.
      expect(rows).toEqual([
        {
          source_file: 'orders.csv',
          line_number: '2',
          customer_ref: null,
          order_date: null,
          amount: null,
          quantity: null,
          read_error: 'too_many_fields',
          read_error_detail: '5 fields where the header has 4',
        },
        expect.objectContaining({
          line_number: '3',
          read_error: 'too_many_fields',
          read_error_detail: '6 fields where the header has 4',
        }),
        expect.objectContaining({
          line_number: '4',
          read_error: 'too_few_fields',
          read_error_detail: '3 fields where the header has 4',
        }),
        expect.objectContaining({
          line_number: '5',
          customer_ref: 'L0000022',
          amount: '7.50',
          read_error: null,
        }),
      ]);
    });

    it('reads file names with glob characters as they are, CSV and Parquet alike', async () => {
      const csv = await land({
        'g-orders-[a].csv': `${HEADER}L1,2020-01-01,1,1.00\n`,
        'g-orders-a.csv': `${HEADER}L2,2020-01-02,1,2.00\n`,
        'h16-orders-20?0.csv': `${HEADER}L3,2020-01-03,1,3.00\n`,
        'h16-orders-2010.csv': `${HEADER}L4,2020-01-04,1,4.00\n`,
        'h16-orders-2020.csv': `${HEADER}L5,2020-01-05,1,5.00\n`,
      });
      // Before: `[a]` matched g-orders-a.csv (L2 twice, L1 lost) and `20?0` matched three files.
      expect(csv.rows.map((r) => [r.source_file, r.customer_ref])).toEqual([
        ['g-orders-[a].csv', 'L1'],
        ['g-orders-a.csv', 'L2'],
        ['h16-orders-2010.csv', 'L4'],
        ['h16-orders-2020.csv', 'L5'],
        ['h16-orders-20?0.csv', 'L3'],
      ]);

      const dir = join(root, 'parquet-globs');
      mkdirSync(dir, { recursive: true });
      for (const [name, customer] of [
        ['p-[a].parquet', 'P1'],
        ['p-a.parquet', 'P2'],
        ['p-*.parquet', 'P3'],
      ] as const) {
        await engine.run(
          `COPY (SELECT '${customer}' AS customer_id, '2020-01-01' AS date, 1 AS quantity, 9.5 AS amount)
           TO '${join(dir, name)}' (FORMAT parquet)`,
        );
      }
      const parquetLake = join(root, 'lake-parquet-globs');
      await extractHistory({
        historyDir: dir,
        config: parseConfig({ sources: { history: { format: 'parquet' } } }).sources.history,
        engine,
        lakeRoot: parquetLake,
        ingestDate: '2025-01-01',
      });
      const parquet = (
        await engine.runAndReadAll(
          `SELECT source_file, line_number, customer_ref FROM read_parquet('${tableGlob(parquetLake, rawHistoryOrders)}') ORDER BY source_file`,
        )
      ).getRowObjectsJson();
      expect(parquet).toEqual([
        { source_file: 'p-*.parquet', line_number: '1', customer_ref: 'P3' },
        { source_file: 'p-[a].parquet', line_number: '1', customer_ref: 'P1' },
        { source_file: 'p-a.parquet', line_number: '1', customer_ref: 'P2' },
      ]);
    });

    it('quarantines an empty file and lands the others', async () => {
      const { result, rows } = await land({
        'a-empty.csv': '',
        'b-orders.csv': `${HEADER}L1,2020-01-01,1,1.00\n`,
        'c-empty.jsonl': '',
      });
      expect(rows).toEqual([
        expect.objectContaining({
          source_file: 'a-empty.csv',
          line_number: null,
          read_error: 'empty_file',
          read_error_detail: 'the file has no bytes',
        }),
        expect.objectContaining({ source_file: 'b-orders.csv', line_number: '2', customer_ref: 'L1' }),
      ]);
      // c-empty.jsonl is not a csv order file: reported as ignored, not landed.
      expect(result.ignored).toEqual(['c-empty.jsonl']);

      const jsonl = await land({ 'empty.jsonl': '' }, { format: 'jsonl' });
      expect(jsonl.rows).toEqual([
        expect.objectContaining({ source_file: 'empty.jsonl', read_error: 'empty_file' }),
      ]);
      const parquet = await land({ 'empty.parquet': '' }, { format: 'parquet' });
      expect(parquet.rows).toEqual([
        expect.objectContaining({ source_file: 'empty.parquet', read_error: 'empty_file' }),
      ]);
    });

    it('numbers rows by their first line in the file, the header being line 1', async () => {
      const { rows } = await land({
        'orders.csv': `${HEADER}L1,2020-01-01,1,1.00\n\nL2,"2020-01-02\n",1,2.00\nL3,2020-01-03,1,3.00\n`,
      });
      // Line 3 is blank; L2's quoted date runs over lines 4 and 5; L3 is on line 6.
      expect(rows.map((r) => [r.customer_ref, r.line_number])).toEqual([
        ['L1', '2'],
        ['L2', '4'],
        ['L3', '6'],
      ]);
    });

    it('quarantines a line that is not UTF-8 by file, line and byte, without its content', async () => {
      const latin1 = Buffer.concat([
        Buffer.from(`\uFEFF${HEADER}L1,2020-01-01,1,1.00\n`),
        Buffer.from('ren\xe9e@example.com,2020-01-02,1,2.00\n', 'latin1'),
        Buffer.from('L3,2020-01-03,1,3.00\n'),
      ]);
      const { rows, result } = await land({ 'latin1.csv': latin1 });
      expect(result.files).toEqual([{ file: 'latin1.csv', rows: 3, readErrors: 1 }]);
      expect(rows).toEqual([
        expect.objectContaining({ line_number: '2', customer_ref: 'L1' }),
        {
          source_file: 'latin1.csv',
          line_number: '3',
          customer_ref: null,
          order_date: null,
          amount: null,
          quantity: null,
          read_error: 'invalid_utf8',
          // "ren" is three bytes; the fourth, 0xE9, starts no valid UTF-8 sequence here.
          read_error_detail: 'not UTF-8 at byte 4 of the line',
        },
        expect.objectContaining({ line_number: '4', customer_ref: 'L3' }),
      ]);
      expect(JSON.stringify(rows)).not.toContain('example.com');
    });

    it('quarantines JSON lines that are not UTF-8 or not JSON objects, numbered by physical line', async () => {
      const { rows } = await land(
        {
          'orders.jsonl': Buffer.concat([
            Buffer.from('{"c":"L1","d":"2020-01-01","a":12.50}\n\n'),
            Buffer.from('{"c":"ren\xe9e@example.com","d":"2020-01-02","a":1}\n', 'latin1'),
            Buffer.from('{"c":"L4",\n[1,2]\n{"d":"2020-01-06","a":1e3}\n'),
          ]),
        },
        { format: 'jsonl', columns: { customer: 'c', orderDate: 'd', amount: 'a', quantity: null } },
      );
      expect(
        rows.map((r) => [r.line_number, r.customer_ref, r.amount, r.read_error, r.read_error_detail]),
      ).toEqual([
        ['1', 'L1', '12.50', null, null],
        ['3', null, null, 'invalid_utf8', 'not UTF-8 at byte 10 of the line'],
        ['4', null, null, 'invalid_json', 'not JSON'],
        ['5', null, null, 'invalid_json', 'not a JSON object'],
        // a record without the customer key gets null, for stage to name (missing_key)
        ['6', null, '1e3', null, null],
      ]);
    });

    it('reads gzipped CSV and JSON lines files, and says which files it ignores', async () => {
      const { result, rows, progress } = await land({
        'orders.csv.gz': gzipSync(`${HEADER}L1,2020-01-01,1,1.00\n`),
        'broken.csv.gz': 'not gzip',
        'notes.md': 'about the export',
        'orders.xlsx': 'binary',
      });
      expect(rows).toEqual([
        expect.objectContaining({
          source_file: 'broken.csv.gz',
          line_number: null,
          read_error: 'unreadable_file',
        }),
        expect.objectContaining({ source_file: 'orders.csv.gz', line_number: '2', customer_ref: 'L1' }),
      ]);
      expect(result.ignored).toEqual(['notes.md', 'orders.xlsx']);
      expect(progress).toContain(
        'history: ignored 2 file(s) that are not csv order files: notes.md, orders.xlsx',
      );
    });
  });
});
