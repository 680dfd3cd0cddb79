import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { s3RetentionLake } from '../lambdas/retention/handler.js';
import { type ConfigError, parseConfig } from '../lib/config/load.js';
import { folderControlStore } from '../lib/local/control-store.js';
import { expireLikeLifecycle, folderRetentionLake } from '../lib/local/retention.js';
import type { Executions, RunRecord } from '../lib/pipeline/run-control.js';
import { applyRetention, type RetentionDeps } from '../lib/retention/retention.js';
import { stageAndAnalyticsRunTables } from '../lib/schema/tables.js';

/*
 * Retention on a folder lake laid out as in S3, with run records, the published pointer and run folders
 * made by hand. Every expected decision below is worked out from the dates in the comments.
 */

const NOW = new Date('2026-03-01T00:00:00Z');

class FakeExecutions implements Executions {
  constructor(readonly running: string[] = []) {}
  async listRunning() {
    return this.running.map((executionId) => ({ executionId, startTime: '', input: {} }));
  }
  async isRunning(id: string) {
    return this.running.includes(id);
  }
}

function touch(path: string, mtime?: Date): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, 'PAR1-not-read-by-retention-PAR1');
  if (mtime) utimesSync(path, mtime, mtime);
}

/** The two tables each hand-made run has files in (a run writes every table; two are enough to see). */
const runFiles = (lake: string, runDate: string, runId: string) => [
  join(lake, 'stage', 'orders', `run_date=${runDate}`, `run_id=${runId}`, 'part-0.parquet'),
  join(lake, 'analytics', 'rfm', `run_date=${runDate}`, `run_id=${runId}`, 'part-0.parquet'),
];

describe('retention of runs on a folder lake', () => {
  let lake: string;
  let deps: RetentionDeps;
  const control = () => folderControlStore(join(lake, 'analytics'));

  const record = (
    runId: string,
    runDate: string,
    startedAt: string,
    extra: Partial<RunRecord> = {},
  ): RunRecord => ({
    runId,
    runDate,
    startedAt,
    executionId: `arn:aws:states:us-east-1:1:execution:customer360-pipeline:${runId}`,
    mode: 'daily',
    writesSnapshots: true,
    ...extra,
  });
  const addRun = async (run: RunRecord | { runId: string; runDate: string }, published = false) => {
    for (const file of runFiles(lake, run.runDate, run.runId)) touch(file);
    if ('startedAt' in run) {
      const body = published ? { ...run, publishedAt: run.startedAt } : run;
      await control().write(`_control/runs/${run.runId}.json`, JSON.stringify(body), undefined);
    }
  };

  beforeEach(() => {
    lake = mkdtempSync(join(tmpdir(), 'c360-retention-'));
    deps = {
      retention: parseConfig({}).storage.retention, // unpublished 7 days, published 30 days
      control: control(),
      executions: new FakeExecutions(),
      lake: folderRetentionLake(lake),
      buckets: { raw: 'raw', stage: 'stage', analytics: 'analytics' },
      runTables: stageAndAnalyticsRunTables,
      now: () => NOW,
    };
  });

  it('deletes expired runs, keeps the published run, the snapshot base, running runs and their bases', async () => {
    // Ages on 2026-03-01T00:00Z (each run started at 03:00 on the day given, so 3 hours less than whole days).
    await addRun(record('old-published', '2026-01-10', '2026-01-10T03:00:00Z'), true); // 49.875 d > 30: delete
    // The latest-dated published run: what the next run's snapshot is built from. 34.875 d > 30, kept.
    await addRun(record('base', '2026-01-25', '2026-01-25T03:00:00Z'), true);
    // Readers see it (a forced catch-up of an older date, published last). 31.875 d > 30, kept.
    await addRun(record('current', '2026-01-15', '2026-01-28T03:00:00Z', { mode: 'catch-up' }), true);
    await addRun(record('failed-old', '2026-02-20', '2026-02-20T03:00:00Z')); // 8.875 d > 7: delete
    await addRun(record('failed-recent', '2026-02-25', '2026-02-25T03:00:00Z')); // 3.875 d <= 7: keep
    // A backfill still running (18.875 d old, never published) and the old base it reads (56.875 d).
    await addRun(record('older-base', '2026-01-03', '2026-01-03T03:00:00Z'), true);
    await addRun(
      record('running-backfill', '2026-01-05', '2026-02-10T03:00:00Z', {
        mode: 'backfill',
        snapshot: { runDate: '2026-01-03', runId: 'older-base', rawFromDate: '2026-01-03' },
      }),
    );
    deps = { ...deps, executions: new FakeExecutions([record('running-backfill', '', '').executionId]) };
    // Folders without a record: aged by their run date (28.0 d > 7: delete; 1.0 d: keep).
    await addRun({ runId: 'orphan-old', runDate: '2026-02-01' });
    await addRun({ runId: 'orphan-new', runDate: '2026-02-28' });
    // This execution's own run (shown unpublished here, so that 'base' stays the latest-dated published run).
    await addRun(record('today', '2026-03-01', '2026-02-28T23:00:00Z'));
    await control().write(
      '_control/published.json',
      JSON.stringify({
        current: { ...record('current', '2026-01-15', ''), publishedAt: '2026-01-28T05:00:00Z' },
      }),
      undefined,
    );
    // Not run locations retention may touch: the publish history (same layout) and raw.
    const history = join(
      lake,
      'analytics',
      'published_runs',
      'run_date=2026-01-10',
      'run_id=old-published',
      'p.parquet',
    );
    const raw = join(lake, 'raw', 'mysql', 'orders', 'ingest_date=2026-01-01', 'part-0.parquet');
    touch(history);
    touch(raw);

    const result = await applyRetention({ runDate: '2026-03-01', runId: 'today' }, deps);

    expect(result.decisions).toEqual([
      {
        runDate: '2026-01-03',
        runId: 'older-base',
        action: 'keep',
        reason: 'the snapshot base of running-backfill, still running',
      },
      { runDate: '2026-01-05', runId: 'running-backfill', action: 'keep', reason: 'still running' },
      {
        runDate: '2026-01-10',
        runId: 'old-published',
        action: 'delete',
        reason: 'published; started 49.9 days ago, over publishedRunsDays (30)',
      },
      { runDate: '2026-01-15', runId: 'current', action: 'keep', reason: 'published: the run readers see' },
      {
        runDate: '2026-01-25',
        runId: 'base',
        action: 'keep',
        reason: 'the snapshot base the next run builds on',
      },
      {
        runDate: '2026-02-01',
        runId: 'orphan-old',
        action: 'delete',
        reason: 'no run record; run date 28.0 days ago, over unpublishedRunsDays (7)',
      },
      {
        runDate: '2026-02-20',
        runId: 'failed-old',
        action: 'delete',
        reason: 'never published; started 8.9 days ago, over unpublishedRunsDays (7)',
      },
      {
        runDate: '2026-02-25',
        runId: 'failed-recent',
        action: 'keep',
        reason: 'never published; started 3.9 days ago, within unpublishedRunsDays (7)',
      },
      {
        runDate: '2026-02-28',
        runId: 'orphan-new',
        action: 'keep',
        reason: 'no run record; run date 1.0 days ago, within unpublishedRunsDays (7)',
      },
      { runDate: '2026-03-01', runId: 'today', action: 'keep', reason: "this execution's run" },
    ]);
    expect(result.deletedRuns).toEqual(['old-published', 'orphan-old', 'failed-old']);
    // Two files per deleted run (stage.orders and analytics.rfm), three runs.
    expect(result.deletedObjects).toBe(6);
    for (const runId of ['old-published', 'orphan-old', 'failed-old']) {
      const run = result.decisions.find((d) => d.runId === runId);
      for (const file of runFiles(lake, run?.runDate ?? '', runId))
        expect(existsSync(file), file).toBe(false);
    }
    for (const kept of result.decisions.filter((d) => d.action === 'keep')) {
      for (const file of runFiles(lake, kept.runDate, kept.runId)) expect(existsSync(file), file).toBe(true);
    }
    // Records go with their runs; the others stay.
    expect(readdirSync(join(lake, 'analytics', '_control', 'runs')).sort()).toEqual(
      ['base', 'current', 'failed-recent', 'older-base', 'running-backfill', 'today'].map((r) => `${r}.json`),
    );
    expect(existsSync(history)).toBe(true);
    expect(existsSync(raw)).toBe(true);
  });

  it('with unpublishedRunsDays 0 deletes every unpublished run at once, but never a running one', async () => {
    deps = { ...deps, retention: { ...deps.retention, unpublishedRunsDays: 0 } };
    await addRun(record('failed-minute-ago', '2026-02-28', '2026-02-28T23:59:00Z'));
    await addRun(record('running', '2026-02-28', '2026-02-28T23:00:00Z'));
    await addRun(record('today', '2026-03-01', '2026-02-28T23:30:00Z'), true);
    deps = { ...deps, executions: new FakeExecutions([record('running', '', '').executionId]) };

    const result = await applyRetention({ runDate: '2026-03-01', runId: 'today' }, deps);

    expect(result.deletedRuns).toEqual(['failed-minute-ago']);
    expect(result.decisions.find((d) => d.runId === 'running')?.reason).toBe('still running');
  });

  it('finishes a pass that stopped half-way: files gone, record left', async () => {
    await addRun(record('half-deleted', '2026-01-01', '2026-01-01T00:00:00Z'));
    // A pass deleted the stage files and stopped before the analytics ones and the record.
    rmSync(join(lake, 'stage', 'orders', 'run_date=2026-01-01'), { recursive: true });

    const result = await applyRetention({ runDate: '2026-03-01', runId: 'today' }, deps);

    expect(result.deletedRuns).toEqual(['half-deleted']);
    expect(result.deletedObjects).toBe(1);
    expect(existsSync(join(lake, 'analytics', '_control', 'runs', 'half-deleted.json'))).toBe(false);
  });
});

describe('the lifecycle rules, done on the folder lake', () => {
  it('deletes raw table files older than rawDays and rejects older than rejectsDays, nothing else', () => {
    const lake = mkdtempSync(join(tmpdir(), 'c360-lifecycle-'));
    const retention = parseConfig({ storage: { retention: { rawDays: 45, rejectsDays: 2 } } }).storage
      .retention;
    const at = (iso: string) => new Date(iso);
    const files = {
      // 2026-01-01 is 59 days before NOW: over 45.
      rawOld: [
        join(lake, 'raw', 'mysql', 'orders', 'ingest_date=2026-01-01', 'part-0.parquet'),
        at('2026-01-01T06:00:00Z'),
      ],
      // 44.75 days: within 45.
      rawRecent: [
        join(lake, 'raw', 'dynamodb', 'interactions', 'ingest_date=2026-01-15', 'part-0.parquet'),
        at('2026-01-15T06:00:00Z'),
      ],
      // Not raw tables: the extraction state and the history landing prefix stay.
      state: [join(lake, 'raw', '_state', 'mysql', 'watermark.json'), at('2025-01-01T00:00:00Z')],
      landing: [join(lake, 'raw', 'landing', 'history', 'orders.csv'), at('2025-01-01T00:00:00Z')],
      // 8.75 days: over 2.
      rejectsOld: [
        join(lake, 'stage', 'rejects', 'run_date=2026-02-20', 'run_id=a', 'part-0.parquet'),
        at('2026-02-20T06:00:00Z'),
      ],
      // 0.5 days: within 2.
      rejectsRecent: [
        join(lake, 'stage', 'rejects', 'run_date=2026-02-28', 'run_id=b', 'part-0.parquet'),
        at('2026-02-28T12:00:00Z'),
      ],
      // Other stage tables are the runs' retention's, not the lifecycle's.
      stageOld: [
        join(lake, 'stage', 'orders', 'run_date=2026-01-01', 'run_id=a', 'part-0.parquet'),
        at('2026-01-01T00:00:00Z'),
      ],
    } as const;
    for (const [path, mtime] of Object.values(files)) touch(path, mtime);

    const expired = expireLikeLifecycle(lake, retention, NOW);

    expect({ raw: expired.raw, rejects: expired.rejects }).toEqual({ raw: 1, rejects: 1 });
    expect(expired.tables.map((t) => `${t.zone}.${t.name}`)).toEqual(['raw.mysql_orders', 'stage.rejects']);
    const left = Object.entries(files)
      .filter(([, [path]]) => existsSync(path))
      .map(([name]) => name);
    expect(left).toEqual(['rawRecent', 'state', 'landing', 'rejectsRecent', 'stageOld']);
    // The emptied partition folders go too, so no empty partition is listed.
    expect(existsSync(join(lake, 'raw', 'mysql', 'orders', 'ingest_date=2026-01-01'))).toBe(false);
  });

  it('deletes nothing with the defaults (raw and rejects kept)', () => {
    const lake = mkdtempSync(join(tmpdir(), 'c360-lifecycle-'));
    const path = join(lake, 'raw', 'mysql', 'orders', 'ingest_date=2000-01-01', 'part-0.parquet');
    touch(path, new Date('2000-01-01T00:00:00Z'));
    expect(expireLikeLifecycle(lake, parseConfig({}).storage.retention, NOW)).toMatchObject({
      raw: 0,
      rejects: 0,
    });
    expect(existsSync(path)).toBe(true);
  });
});

describe('storage.retention configuration', () => {
  const problems = (input: unknown) => {
    try {
      parseConfig(input);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('defaults: raw and rejects kept, unpublished runs 7 days, published runs 30 days', () => {
    expect(parseConfig({}).storage.retention).toEqual({
      rawDays: null,
      rejectsDays: null,
      unpublishedRunsDays: 7,
      publishedRunsDays: 30,
    });
  });

  it('refuses raw retention that the snapshot chain would outrun, naming the rule', () => {
    // publishedRunsDays 30 + 14 days to repair a stopped pipeline = 44: 44 is refused, 45 accepted.
    expect(problems({ storage: { retention: { rawDays: 44 } } })).toEqual([
      'storage.retention.rawDays: got 44; expected more than storage.retention.publishedRunsDays + 14 (44), or null: an incremental run reads raw from the date of the published run it builds on, so raw must outlive every published run kept plus 14 days to repair a stopped pipeline',
    ]);
    expect(problems({ storage: { retention: { rawDays: 45 } } })).toEqual([]);
    expect(problems({ storage: { retention: { rawDays: 45, publishedRunsDays: 90 } } })[0]).toMatch(
      /^storage\.retention\.rawDays: got 45; expected more than storage\.retention\.publishedRunsDays \+ 14 \(104\)/,
    );
  });

  it('takes 0 unpublished days (deleted at the next publish) but no negative or fractional days', () => {
    expect(
      parseConfig({ storage: { retention: { unpublishedRunsDays: 0 } } }).storage.retention
        .unpublishedRunsDays,
    ).toBe(0);
    expect(problems({ storage: { retention: { unpublishedRunsDays: -1, rejectsDays: 1.5 } } })).toEqual([
      'storage.retention.rejectsDays: got 1.5; expected int',
      'storage.retention.unpublishedRunsDays: got -1; expected 0 or more days',
    ]);
  });

  it('says where the retention keys moved', () => {
    expect(problems({ storage: { publishedRunRetentionDays: 30, unpublishedRunRetentionDays: 3 } })).toEqual([
      'storage.publishedRunRetentionDays: got 30; expected storage.retention.publishedRunsDays instead (the key moved there)',
      'storage.unpublishedRunRetentionDays: got 3; expected storage.retention.unpublishedRunsDays instead (the key moved there)',
    ]);
  });
});

describe('retention on S3 (mocked client)', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());

  it('lists the folders under a prefix by delimiter, across pages, relative to the prefix', async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'orders/', Delimiter: '/', ContinuationToken: undefined })
      .resolves({
        CommonPrefixes: [{ Prefix: 'orders/run_date=2026-01-01/' }],
        IsTruncated: true,
        NextContinuationToken: 't',
      })
      .on(ListObjectsV2Command, { Prefix: 'orders/', Delimiter: '/', ContinuationToken: 't' })
      .resolves({ CommonPrefixes: [{ Prefix: 'orders/run_date=2026-01-02/' }], IsTruncated: false });

    const folders = await s3RetentionLake(new S3Client({})).listFolders('stage', 'orders/');

    expect(folders).toEqual(['run_date=2026-01-01/', 'run_date=2026-01-02/']);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(2);
  });
});
