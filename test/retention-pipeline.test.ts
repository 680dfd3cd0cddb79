import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { RETENTION_STATE } from '../lib/constructs/pipeline.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import {
  type LocalRunOptions,
  type LocalRunSummary,
  runPipelineLocally,
} from '../lib/local/pipeline-runner.js';
import { prepareEngine, registerLake } from '../lib/local/sql-runner.js';

/*
 * The state machine run locally on an order history alone (no MySQL, no DynamoDB), with runs that
 * never published kept for 1 day: a run that failed on 2024-06-29 is deleted by the Apply retention
 * step of the run that publishes on 2024-07-01 (2 days later), while the published runs stay.
 */
const config = parseConfig({
  sources: {
    mysql: { enabled: false },
    dynamodb: { enabled: false },
    history: {
      columns: { customer: 'customer_id', orderDate: 'order_date', quantity: 'quantity', amount: 'amount' },
      legacyIdPattern: null,
    },
  },
  storage: { retention: { unpublishedRunsDays: 1 } },
});

// Four customers (C1..C4), all orders before the first run date.
const CSV = [
  'customer_id,order_date,quantity,amount',
  'C1,2024-01-05,1,10.00',
  'C1,2024-03-10,2,20.50',
  'C2,2023-11-30,4,100.00',
  'C3,2024-02-14,1,42.00',
  'C4,2024-04-01,1,1.00',
  'C4,2024-05-01,1,2.00',
].join('\n');

/** Every `run_id=<runId>` folder under the stage and analytics zones. */
function runFolders(lake: string, runId: string): string[] {
  const found: string[] = [];
  for (const zone of ['stage', 'analytics']) {
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const path = join(dir, entry.name);
        if (entry.name === `run_id=${runId}`) found.push(path);
        else walk(path);
      }
    };
    walk(join(lake, zone));
  }
  return found;
}

describe('retention in the local pipeline', () => {
  const root = mkdtempSync(join(tmpdir(), 'c360-retention-pipeline-'));
  const lake = join(root, 'lake');
  const outboxFile = join(root, 'outbox.jsonl');
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  let options: LocalRunOptions;
  let published: LocalRunSummary;
  let failed: LocalRunSummary;
  let later: LocalRunSummary;
  const runOn = (date: string, extra: Partial<LocalRunOptions> = {}) =>
    runPipelineLocally({
      ...options,
      input: { runDate: date, full: true },
      startTime: new Date(`${date}T05:00:00Z`),
      ...extra,
    });

  beforeAll(async () => {
    mkdirSync(join(root, 'history'), { recursive: true });
    writeFileSync(join(root, 'history', 'orders.csv'), `${CSV}\n`);
    ({ instance, connection: engine } = await openLocalEngine({
      tempDirectory: join(root, 'tmp'),
      memoryLimit: '1GB',
    }));
    await prepareEngine(engine);
    await registerLake(engine, lake);
    options = {
      config,
      lakeRoot: lake,
      engine: instance,
      sources: { historyDir: join(root, 'history') },
      outboxFile,
      runsDir: join(root, 'runs'),
    };
    published = await runOn('2024-06-28');
    failed = await runOn('2024-06-29', {
      interceptTask: (state) => {
        if (state === 'Fit models')
          throw Object.assign(new Error('simulated failure'), { name: 'FitFailed' });
      },
    });
    later = await runOn('2024-07-01');
  }, 900_000);

  afterAll(() => {
    engine?.closeSync();
    instance?.closeSync();
  });

  it('deletes the failed run two days later, in every table, with its record', () => {
    expect(published.status).toBe('SUCCEEDED');
    expect(failed.status).toBe('FAILED');
    expect(failed.failure?.state).toBe('Fit models');
    expect(later.status).toBe('SUCCEEDED');
    // The failed run had written its stage tables and first marts before it failed.
    expect(failed.rows['stage.orders']).toBe(6);
    expect((later.output as { retention?: unknown }).retention).toEqual({
      deletedRuns: [failed.runId],
      deletedObjects: expect.any(Number),
    });
    expect(runFolders(lake, failed.runId ?? '')).toEqual([]);
    expect(existsSync(join(lake, 'analytics', '_control', 'runs', `${failed.runId}.json`))).toBe(false);
    expect(later.states.find((s) => s.state === RETENTION_STATE)?.status).toBe('succeeded');
  });

  it('keeps both published runs: the one readers see and the earlier one within publishedRunsDays', async () => {
    // 2024-06-28's run started 3 days before the later run: within 30 days.
    expect(runFolders(lake, published.runId ?? '').length).toBeGreaterThan(20);
    expect(runFolders(lake, later.runId ?? '').length).toBe(runFolders(lake, published.runId ?? '').length);
    const latest = await engine.runAndReadAll(
      'SELECT DISTINCT run_id, count(*) OVER () AS customers FROM analytics.customer_360_latest',
    );
    expect(latest.getRowObjectsJson()).toEqual([{ run_id: later.runId, customers: '4' }]);
    // The catalog no longer lists the deleted files: whole tables still read.
    const orders = await engine.runAndReadAll(
      'SELECT run_id, count(*) AS n FROM stage.orders GROUP BY 1 ORDER BY 1',
    );
    expect(orders.getRowObjectsJson()).toEqual(
      [published.runId, later.runId].sort().map((runId) => ({ run_id: runId, n: '6' })),
    );
  });

  it('reports a retention failure after publishing without unpublishing the run', async () => {
    const run = await runOn('2024-07-02', {
      interceptTask: (state) => {
        if (state === RETENTION_STATE)
          throw Object.assign(new Error('S3 said no (simulated)'), { name: 'AccessDenied' });
      },
    });

    expect(run.status).toBe('FAILED');
    expect(run.failure).toMatchObject({ state: RETENTION_STATE, error: 'AccessDenied' });
    const latest = await engine.runAndReadAll('SELECT DISTINCT run_id FROM analytics.customer_360_latest');
    expect(latest.getRowObjectsJson()).toEqual([{ run_id: run.runId }]);
    const last = JSON.parse(readFileSync(outboxFile, 'utf8').trim().split('\n').at(-1) ?? '{}');
    expect(last.subject).toBe('Customer 360 run published, but retention failed');
    expect(last.message).toMatchObject({
      event: 'retention_failed',
      failedState: RETENTION_STATE,
      runDate: '2024-07-02',
    });
  }, 600_000);
});
