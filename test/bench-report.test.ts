import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CUSTOMERS, parseBenchArgs } from '../bench/index.js';
import { dayOfChanges, nextDay, rawTableBytes, runPartitionBytes, stateFigures } from '../bench/pipeline.js';
import {
  type BenchReport,
  cell,
  formatMarkdown,
  partTotals,
  rate,
  reportPaths,
  runPart,
  type StateFigures,
} from '../bench/report.js';

describe('parseBenchArgs', () => {
  it('defaults to the pipeline scenario at a million retail customers, cached under .c360/bench/<N>-<profile>', () => {
    expect(parseBenchArgs([])).toEqual({
      customers: DEFAULT_CUSTOMERS,
      scenarios: ['pipeline'],
      profile: 'retail',
      dataDir: '.c360/bench/1000000-retail',
      fresh: false,
      resultsDir: 'bench/results',
    });
    expect(DEFAULT_CUSTOMERS).toBe(1_000_000);
  });

  it('reads every option; the data folder follows --customers unless given', () => {
    expect(
      parseBenchArgs([
        '--customers',
        '100_000',
        '--scenarios',
        'generate, pipeline',
        '--fresh',
        '--profile',
        'grocery',
      ]),
    ).toEqual({
      customers: 100_000,
      scenarios: ['generate', 'pipeline'],
      profile: 'grocery',
      dataDir: '.c360/bench/100000-grocery',
      fresh: true,
      resultsDir: 'bench/results',
    });
    expect(
      parseBenchArgs(['--customers=20000', '--data-dir', '/tmp/x', '--results-dir', 'out']),
    ).toMatchObject({ customers: 20_000, dataDir: '/tmp/x', resultsDir: 'out' });
  });

  it.each([
    [['--profile', 'bakery'], /--profile: got "bakery"; expected retail or grocery/],
    [['--customers', '0'], /--customers: got "0"; expected a whole number of at least 1/],
    [['--customers', '1e6'], /--customers: got "1e6"/],
    [['--customers=-5'], /--customers: got "-5"/],
    [['--customers', '12.5'], /--customers: got "12.5"/],
    [['--customers', ''], /--customers: got ""/],
    [['--customers', '99999999999999999999'], /--customers: got "99999999999999999999"; too large/],
    [['--scenarios', 'pipeline,stage'], /--scenarios: unknown scenario "stage"; expected pipeline, generate/],
    [['--scenarios', ','], /--scenarios: empty/],
    [['--scenarios', 'pipeline,pipeline'], /--scenarios: "pipeline" is given twice/],
    [['--data-dir', ''], /--data-dir: empty/],
    [['--customer', '10'], /Unknown option '--customer'.*expected --customers N/],
    [['20000'], /Unexpected argument '20000'.*expected --customers N/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});

describe('figures', () => {
  it('rate divides rows by seconds, rounded, and has no value for no time', () => {
    expect(rate(1000, 3)).toBe(333); // 333.3
    expect(rate(1000, 0)).toBeUndefined();
  });

  it('cell separates thousands, keeps at most the given decimals, and escapes pipes', () => {
    expect(cell(1234567.891)).toBe('1,234,567.9');
    expect(cell(1234567.891, 0)).toBe('1,234,568');
    expect(cell(0.25, 2)).toBe('0.25');
    expect(cell(undefined)).toBe('–');
    expect(cell('a|b')).toBe('a\\|b');
  });

  it('reportPaths names the files by date and customers', () => {
    expect(reportPaths('bench/results', '2026-12-02', 20000)).toEqual({
      json: 'bench/results/2026-12-02-20000.json',
      md: 'bench/results/2026-12-02-20000.md',
    });
  });

  it('nextDay crosses month and year ends', () => {
    expect(nextDay('2025-12-31')).toBe('2026-01-01');
    expect(nextDay('2024-02-28')).toBe('2024-02-29');
  });

  it('a day of changes scales with the customers, never below the generator defaults', () => {
    // 100,000 customers: 0.2 % updated = 200, 0.05 % new = 50, 0.4 % orders moved on = 400,
    // 0.3 % new orders = 300, 3 % new interactions = 3,000.
    expect(dayOfChanges(100_000)).toEqual({
      customersUpdated: 200,
      customersInserted: 50,
      productsUpdated: 20,
      ordersUpdated: 400,
      ordersInserted: 300,
      eventsInserted: 3000,
    });
    expect(dayOfChanges(100)).toMatchObject({
      customersUpdated: 5,
      customersInserted: 3,
      eventsInserted: 12,
    });
  });
});

describe('run states', () => {
  const states: StateFigures[] = [
    { state: 'Begin run', status: 'succeeded', seconds: 0.2, cpuSeconds: 0.1 },
    { state: 'Extract sources', status: 'succeeded', seconds: 0.01, cpuSeconds: 0 },
    { state: 'Run stage query wave 1 [products]', status: 'succeeded', seconds: 2, cpuSeconds: 3 },
    { state: 'Build stage tables wave 1', status: 'succeeded', seconds: 2.5, cpuSeconds: 3.5 },
    { state: 'Build stage tables wave 2', status: 'succeeded', seconds: 10, cpuSeconds: 18 },
    { state: 'Run data_quality query', status: 'succeeded', seconds: 1, cpuSeconds: 1.5 },
    { state: 'Run quality gate query', status: 'succeeded', seconds: 0.1, cpuSeconds: 0.1 },
    { state: 'Read quality gate', status: 'succeeded', seconds: 0.02, cpuSeconds: 0 },
    { state: 'Build marts wave 1', status: 'succeeded', seconds: 3, cpuSeconds: 5 },
    { state: 'Run mart query wave 1 [rfm]', status: 'succeeded', seconds: 1, cpuSeconds: 1 },
    { state: 'Publish latest views', status: 'succeeded', seconds: 0.3, cpuSeconds: 0.2 },
    { state: 'Complete publishing', status: 'succeeded', seconds: 0.1, cpuSeconds: 0.1 },
  ];

  it('runPart names the part of top-level states only', () => {
    expect(runPart('Build stage tables wave 2')).toBe('stage');
    expect(runPart('Run stage query wave 1 [products]')).toBeUndefined();
    expect(runPart('Prepare quality gate query')).toBe('quality gate');
    expect(runPart('Run published run record')).toBe('publish');
    expect(runPart('Begin run')).toBeUndefined();
  });

  it('partTotals adds the top-level states per part and leaves the rest of the total as other', () => {
    // stage 2.5 + 10 = 12.5 s (the query inside wave 1 is not counted again); gate 1 + 0.1 + 0.02;
    // publish 0.3 + 0.1; other 20 - (0.01 + 12.5 + 1.12 + 3 + 0.4) = 2.97 s wall,
    // 40 - (0 + 21.5 + 1.6 + 5 + 0.3) = 11.6 s CPU.
    expect(partTotals(states, { wallSeconds: 20, cpuSeconds: 40 })).toEqual([
      { part: 'extract', wallSeconds: 0.01, cpuSeconds: 0 },
      { part: 'stage', wallSeconds: 12.5, cpuSeconds: 21.5 },
      { part: 'quality gate', wallSeconds: 1.12, cpuSeconds: 1.6 },
      { part: 'marts', wallSeconds: 3, cpuSeconds: 5 },
      { part: 'publish', wallSeconds: 0.4, cpuSeconds: 0.3 },
      { part: 'other', wallSeconds: 2.97, cpuSeconds: 11.6 },
    ]);
  });

  it('stateFigures gives query states the rows their model wrote and rows per second', () => {
    const figures = stateFigures({
      states: [
        { state: 'Run stage query wave 1 [products]', status: 'succeeded', seconds: 2, cpuSeconds: 3 },
        { state: 'Prepare stage query wave 1 [products]', status: 'succeeded', seconds: 0.01 },
        { state: 'Run mart query wave 1 [rfm]', status: 'succeeded', seconds: 0.5, cpuSeconds: 1 },
        { state: 'Run data_quality query', status: 'succeeded', seconds: 0.25 },
      ],
      rows: { 'stage.products': 1000, 'analytics.rfm': 300, 'analytics.data_quality': 46 },
    });
    expect(figures).toEqual([
      {
        state: 'Run stage query wave 1 [products]',
        status: 'succeeded',
        seconds: 2,
        cpuSeconds: 3,
        rows: 1000,
        rowsPerSecond: 500,
      },
      // A Prepare state names the model too, but writes nothing.
      { state: 'Prepare stage query wave 1 [products]', status: 'succeeded', seconds: 0.01 },
      {
        state: 'Run mart query wave 1 [rfm]',
        status: 'succeeded',
        seconds: 0.5,
        cpuSeconds: 1,
        rows: 300,
        rowsPerSecond: 600,
      },
      { state: 'Run data_quality query', status: 'succeeded', seconds: 0.25, rows: 46, rowsPerSecond: 184 },
    ]);
  });
});

describe('bytes on disk', () => {
  const lake = mkdtempSync(join(tmpdir(), 'c360-bench-bytes-'));
  afterAll(() => rmSync(lake, { recursive: true, force: true }));
  const file = (path: string, bytes: number) => {
    mkdirSync(join(lake, path, '..'), { recursive: true });
    writeFileSync(join(lake, path), Buffer.alloc(bytes));
  };
  file('stage/customers/run_date=2025-12-30/run_id=r1/part-0.parquet', 100);
  file('stage/customers/run_date=2025-12-30/run_id=r1/part-1.parquet', 50);
  file('stage/customers/run_date=2025-12-30/run_id=r0/part-0.parquet', 999); // another run
  file('stage/customers/run_date=2025-12-29/run_id=r1/part-0.parquet', 999); // another date
  file('analytics/rfm/run_date=2025-12-30/run_id=r1/part-0.parquet', 7);
  file('analytics/_tmp/run_date=2025-12-30/run_id=r1/x.parquet', 999); // scratch, not a table
  file('raw/mysql/orders/ingest_date=2025-12-30/a.parquet', 30);
  file('raw/mysql/orders/ingest_date=2025-12-31/b.parquet', 12);
  file('raw/dynamodb/interactions/ingest_date=2025-12-30/c.parquet', 5);
  file('raw/_state/mysql/orders.json', 999);

  it('runPartitionBytes sums each table of the run partition only', () => {
    expect(runPartitionBytes(lake, '2025-12-30', 'r1')).toEqual({
      'stage.customers': 150,
      'analytics.rfm': 7,
    });
  });

  it('rawTableBytes sums every ingest date of each raw table, without the extraction state', () => {
    expect(rawTableBytes(lake)).toEqual({ 'raw.mysql_orders': 42, 'raw.dynamodb_interactions': 5 });
  });
});

describe('formatMarkdown', () => {
  const report: BenchReport = {
    date: '2026-12-02',
    customers: 20000,
    machine: {
      cpuModel: 'AMD EPYC',
      cpus: 2,
      totalMemoryGiB: 23.5,
      node: 'v20.20.2',
      duckdb: 'v1.5.6',
      os: 'linux 6.1',
      commit: 'abc123',
    },
    pipeline: {
      customers: 20000,
      runDate: '2025-12-30',
      nextDate: '2025-12-31',
      reused: true,
      dataDir: '.c360/bench/20000-bench',
      sources: { 'mysql orders': 180000 },
      preparation: [
        {
          name: 'extract 2025-12-30: mysql.orders',
          wallSeconds: 2,
          cpuSeconds: 1.5,
          peakRssMiB: 300,
          maxRssMiB: 310,
          mariadbPeakRssMiB: 120,
          mariadbCpuSeconds: 0.8,
          rows: 180000,
        },
      ],
      runs: [
        {
          name: 'full',
          input: { runDate: '2025-12-30', full: true },
          status: 'SUCCEEDED',
          runId: 'r1',
          measure: { name: 'full run', wallSeconds: 20, cpuSeconds: 40, peakRssMiB: 900, maxRssMiB: 950 },
          states: [
            { state: 'Begin run', status: 'succeeded', seconds: 0.01 },
            {
              state: 'Run stage query wave 1 [products]',
              status: 'succeeded',
              seconds: 0.01,
              rows: 1000,
              rowsPerSecond: 100000,
            },
            { state: 'Build stage tables wave 1', status: 'succeeded', seconds: 12, cpuSeconds: 20 },
          ],
          rows: { 'stage.products': 1000 },
          runBytes: { 'stage.products': 2 * 1024 * 1024 },
          rawBytes: { 'raw.mysql_orders': 1024 * 1024 },
        },
      ],
    },
  };
  const md = formatMarkdown(report);

  it('names the machine and the commit', () => {
    expect(md).toContain('# Benchmark: 20,000 customers, 2026-12-02');
    expect(md).toContain(
      'Machine: 2 × AMD EPYC, 23.5 GiB, linux 6.1; Node v20.20.2, DuckDB v1.5.6; commit abc123.',
    );
  });

  it('says the raw zone was reused', () => {
    expect(md).toContain('Raw zone reused from .c360/bench/20000-bench');
  });

  it('gives each preparation step its rows per second (180,000 rows in 2 s)', () => {
    expect(md).toContain(
      '| extract 2025-12-30: mysql.orders | 2 | 1.5 | 180,000 | 90,000 | 300 | 0.8 | 120 |',
    );
  });

  it('lists the parts, the states that took time or wrote rows, and the tables with MiB', () => {
    expect(md).toContain('| stage | 12 | 20 |');
    expect(md).toContain('| other | 8 | 20 |'); // 20 - 12 s wall, 40 - 20 s CPU
    expect(md).toContain('States (1 of 3 under 0.05 s without rows left out; all are in the JSON):');
    expect(md).not.toContain('| Begin run |');
    expect(md).toContain('| Run stage query wave 1 [products] | succeeded | 0 | – | 1,000 | 100,000 |');
    expect(md).toContain('| stage.products | 1,000 | 2 |');
    expect(md).toContain('| raw.mysql_orders | 1 |');
  });

  it('every table row has as many cells as its header', () => {
    const lines = md.split('\n');
    let columns = 0;
    for (const line of lines) {
      if (!line.startsWith('|')) {
        columns = 0;
        continue;
      }
      const cells = line.replaceAll('\\|', '').split('|').length - 2;
      if (columns === 0) columns = cells;
      expect(cells, line).toBe(columns);
    }
  });
});
