import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  athenaBilledBytes,
  estimateCost,
  glueBilledSeconds,
  type MeasuredRun,
  runsPerMonth,
} from '../lib/cost/estimate.js';
import { conjunctsOf, ScanMeter } from '../lib/cost/measure.js';
import { PRICES } from '../lib/cost/prices.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { runPartitionKeys, type TableSchema } from '../lib/schema/types.js';

const MB = 2 ** 20;
const TB = 2 ** 40;

const run: MeasuredRun = {
  executionName: 'exec-1',
  runDate: '2026-12-01',
  mode: 'daily',
  customers: 1000,
  queries: [
    { label: 'small', bytesScanned: 1 * MB, ddl: false },
    { label: 'large', bytesScanned: 25.5 * MB, ddl: false },
    { label: 'view', bytesScanned: 0, ddl: true },
  ],
  glueJobs: [
    { job: 'extract-mysql', seconds: 20, dpus: 2 },
    { job: 'extract-dynamodb', seconds: 3, dpus: 2 },
  ],
  dynamodbExport: { kind: 'incremental', bytes: 2 ** 30, waitSeconds: 360, job: 'extract-dynamodb' },
  stateTransitions: 2000,
  lambda: { invocations: 500_000, seconds: 100, memoryMb: 512 },
  s3: { puts: 2000, gets: 10_000, storedBytes: 10 * 2 ** 30 },
  kmsRequests: 20_000,
  logBytes: 2 ** 30,
};

const cost = (item: string, estimate = estimateCost(run, { runsPerMonth: 30 })) => {
  const line = estimate.lines.find((l) => l.item.startsWith(item));
  if (!line) throw new Error(`no line ${item}`);
  return line;
};

describe('estimateCost (hand-worked figures)', () => {
  it('bills each Athena query at least 10 MB, rounds up to the MB, and charges DDL nothing', () => {
    expect(athenaBilledBytes(1 * MB)).toBe(10 * MB);
    expect(athenaBilledBytes(25.5 * MB)).toBe(26 * MB);
    expect(athenaBilledBytes(0, true)).toBe(0);
    // 10 MB + 26 MB = 36 MB; 36 / 2^20 TB x $5
    expect(cost('Athena').quantity).toBeCloseTo((36 * MB) / TB, 15);
    expect(cost('Athena').cost).toBeCloseTo((36 / 2 ** 20) * 5, 12);
    expect(cost('Athena').item).toContain('1 billed at the 10 MB minimum');
  });

  it('scales scanned bytes with customers before the minimum applies', () => {
    const tenfold = estimateCost(run, { runsPerMonth: 30, customers: 10_000 });
    // 10 MB stays 10 MB (no minimum top-up now), 255 MB: 265 MB in all
    expect(cost('Athena', tenfold).quantity).toBeCloseTo((265 * MB) / TB, 15);
    expect(tenfold.scale).toBe(10);
  });

  it('bills a Glue run at least one minute, and reports the export wait on its own line', () => {
    expect(glueBilledSeconds(20)).toBe(60);
    expect(glueBilledSeconds(60.2)).toBe(61);
    // extract-mysql: 20 s becomes 60 s; 2 DPU x 60 s = 1/30 DPU-hour x $0.44
    expect(cost('Glue extract-mysql').quantity).toBeCloseTo(1 / 30, 12);
    expect(cost('Glue extract-mysql').cost).toBeCloseTo(0.44 / 30, 12);
    expect(cost('Glue extract-mysql').item).toContain('1-minute minimum');
    // extract-dynamodb: 3 s of work + 360 s of waiting is past the minimum: 3 s and 360 s
    expect(cost('Glue extract-dynamodb:').quantity).toBeCloseTo((2 * 3) / 3600, 12);
    expect(cost('Glue extract-dynamodb waiting').quantity).toBeCloseTo(0.2, 12);
    expect(cost('Glue extract-dynamodb waiting').cost).toBeCloseTo(0.088, 12);
  });

  it('prices the other services per their units', () => {
    expect(cost('DynamoDB incremental export').cost).toBeCloseTo(0.1, 12); // 1 GB x $0.10
    expect(cost('Step Functions').cost).toBeCloseTo(0.05, 12); // 2,000 / 1,000 x $0.025
    expect(cost('Lambda requests').cost).toBeCloseTo(0.1, 12); // 0.5 M x $0.20
    expect(cost('Lambda duration').cost).toBeCloseTo(50 * 0.0000133334, 12); // 0.5 GB x 100 s
    expect(cost('CloudWatch Logs').cost).toBeCloseTo(0.5, 12); // 1 GB x $0.50
    expect(cost('S3 PUT').cost).toBeCloseTo(0.01, 12); // 2 x $0.005
    expect(cost('S3 GET').cost).toBeCloseTo(0.004, 12); // 10 x $0.0004
    expect(cost('KMS').cost).toBeCloseTo(0.06, 12); // 2 x $0.03
    expect(cost('S3 storage').cost).toBeCloseTo(0.23, 12); // 10 GB-month x $0.023
    expect(cost('S3 storage').per).toBe('month');
  });

  it('totals per run, and per month with storage once', () => {
    const estimate = estimateCost(run, { runsPerMonth: 30 });
    const perRun =
      (36 / 2 ** 20) * 5 +
      0.44 / 30 +
      ((2 * 3) / 3600) * 0.44 +
      0.088 +
      0.1 +
      0.05 +
      0.1 +
      50 * 0.0000133334 +
      0.5 +
      0.01 +
      0.004 +
      0.06;
    expect(estimate.perRun).toBeCloseTo(perRun, 10);
    expect(estimate.perMonth).toBeCloseTo(perRun * 30 + 0.23, 10);
  });

  it('refuses a run without customers to scale from', () => {
    expect(() => estimateCost({ ...run, customers: 0 }, { runsPerMonth: 30 })).toThrow(/exec-1.*customers/);
  });

  it('every price names its unit, region, date and page', () => {
    for (const price of Object.values(PRICES)) {
      expect(price.region).toBe('us-east-1');
      expect(price.readOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(price.source).toMatch(/^https:\/\/aws\.amazon\.com\//);
      expect(price.unit.length).toBeGreaterThan(0);
    }
  });
});

describe('runsPerMonth', () => {
  it('counts the schedule over a year', () => {
    expect(runsPerMonth('cron(0 3 * * ? *)')).toBeCloseTo(365 / 12, 10);
    expect(runsPerMonth('rate(1 hour)')).toBeCloseTo((365 * 24) / 12, 10);
    // 2027 has 261 weekdays
    expect(runsPerMonth('cron(30 6 ? * MON-FRI *)')).toBeCloseTo(261 / 12, 10);
    expect(runsPerMonth('cron(0 0,12 1 * ? *)')).toBe(2);
    expect(() => runsPerMonth('cron(0 3 L * ? *)')).toThrow(/schedule.expression/);
  });
});

describe('ScanMeter on a tiny lake', () => {
  const lake = mkdtempSync(join(tmpdir(), 'c360-cost-'));
  const table: TableSchema = {
    name: 'cost_t',
    zone: 'stage',
    location: 'cost_t/',
    description: 'test table',
    columns: [
      { name: 'id', type: 'bigint', description: 'id' },
      { name: 'name', type: 'string', description: 'name' },
      { name: 'v', type: 'bigint', description: 'value' },
    ],
    partitionKeys: runPartitionKeys,
  };
  const files = {
    r1: join(lake, 'stage/cost_t/run_date=2026-01-01/run_id=r1/part-0.parquet'),
    r2: join(lake, 'stage/cost_t/run_date=2026-01-02/run_id=r2/part-0.parquet'),
  };
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  let meter: ScanMeter;
  /** The expected bytes, worked from parquet_metadata directly: the columns' chunks in those files. */
  const chunkBytes = async (paths: string[], columns: string[]) => {
    const result = await connection.runAndReadAll(
      `SELECT sum(total_compressed_size) AS b FROM parquet_metadata([${paths.map((p) => `'${p}'`).join(', ')}]) WHERE path_in_schema IN (${columns.map((c) => `'${c}'`).join(', ')})`,
    );
    return Number(result.getRowObjectsJson()[0]?.b);
  };

  beforeAll(async () => {
    ({ instance, connection } = await openLocalEngine({ tempDirectory: join(lake, '.tmp') }));
    for (const [id, path] of Object.entries(files)) {
      mkdirSync(join(path, '..'), { recursive: true });
      const rows = id === 'r1' ? 1000 : 500;
      await connection.run(
        `COPY (SELECT range AS id, 'n' || range AS name, range * 7 AS v FROM range(${rows})) TO '${path}' (FORMAT parquet)`,
      );
    }
    meter = await ScanMeter.open(connection, lake, [table]);
  });
  afterAll(() => {
    connection?.closeSync();
    instance?.closeSync();
    rmSync(lake, { recursive: true, force: true });
  });

  it('counts the columns a query reads in the partitions it reads', async () => {
    const { ddl, scans } = await meter.measure(
      "SELECT name, sum(v) FROM stage.cost_t WHERE run_date = DATE '2026-01-02' AND run_id = 'r2' GROUP BY 1",
    );
    expect(ddl).toBe(false);
    expect(scans).toHaveLength(1);
    expect(scans[0]?.table).toBe('stage.cost_t');
    expect([...(scans[0]?.columns ?? [])].sort()).toEqual(['name', 'v']);
    expect(scans[0]?.files).toBe(1);
    const expected = await chunkBytes([files.r2], ['name', 'v']);
    expect(expected).toBeGreaterThan(0);
    expect(scans[0]?.bytes).toBe(expected);
  });

  it('counts a column used only in a filter, in every partition when none is chosen', async () => {
    const { scans } = await meter.measure(
      `UNLOAD (SELECT id FROM stage.cost_t WHERE v > 10) TO 's3://stage/x/' WITH (format = 'PARQUET')`,
    );
    expect(scans[0]?.files).toBe(2);
    expect(scans[0]?.bytes).toBe(await chunkBytes([files.r1, files.r2], ['id', 'v']));
  });

  it('charges a view definition nothing', async () => {
    expect(await meter.measure('CREATE OR REPLACE VIEW stage.x AS SELECT 1')).toEqual({
      ddl: true,
      scans: [],
    });
  });

  it('splits a filter into its top-level terms', () => {
    expect(conjunctsOf("((a = 'x AND y') AND (b IN (1, 2)) AND c)")).toEqual([
      "(a = 'x AND y')",
      '(b IN (1, 2))',
      'c',
    ]);
  });
});
