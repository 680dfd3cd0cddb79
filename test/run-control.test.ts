import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { s3ControlStore, stepFunctionsExecutions } from '../lambdas/run-control/handler.js';
import { parseConfig } from '../lib/config/load.js';
import { folderControlStore } from '../lib/local/control-store.js';
import { publishedMetricLine } from '../lib/pipeline/metrics.js';
import {
  beginRun,
  claimPublish,
  completePublish,
  dateInZone,
  type Executions,
  publishedRun,
  type RunControlDeps,
} from '../lib/pipeline/run-control.js';

class FakeExecutions implements Executions {
  running: { executionId: string; startTime: string; input: unknown }[] = [];
  async listRunning() {
    return this.running;
  }
  async isRunning(id: string) {
    return this.running.some((r) => r.executionId === id);
  }
}

describe('run control', () => {
  let deps: RunControlDeps & { executions: FakeExecutions };
  let now: Date;

  beforeEach(() => {
    now = new Date('2026-03-10T03:00:00Z');
    deps = {
      config: parseConfig({ schedule: { timezone: 'America/Los_Angeles' } }),
      control: folderControlStore(mkdtempSync(join(tmpdir(), 'c360-control-'))),
      executions: new FakeExecutions(),
      now: () => now,
    };
  });
  const begin = (executionName: string, input: unknown = {}, startTime = '2026-03-10T03:00:00.000Z') =>
    beginRun(
      { action: 'begin', input, executionId: `arn:x:${executionName}`, executionName, startTime },
      deps,
    );
  const publish = async (runDate: string, runId: string, force = false) => {
    await claimPublish(
      { action: 'claim_publish', runDate, runId, executionId: `arn:x:${runId}`, force },
      deps,
    );
    return completePublish(
      { action: 'complete_publish', runDate, runId, executionId: `arn:x:${runId}` },
      deps,
    );
  };

  it("takes a scheduled run's date in the schedule's time zone, not UTC", async () => {
    // 03:00 UTC on 10 March is 20:00 on 9 March in Los Angeles (PDT starts on 8 March 2026: UTC-7).
    const run = await begin('sched-1');
    expect(run).toEqual({
      runDate: '2026-03-09',
      runId: 'sched-1',
      mode: 'daily',
      extract: true,
      publish: true,
      force: false,
      // Nothing published yet: the snapshots are built from all of raw.
      snapshot: { runDate: '2026-03-09', runId: 'sched-1', rawFromDate: '1970-01-01' },
    });
    expect(dateInZone('2026-03-10T03:00:00Z', 'UTC')).toBe('2026-03-10');
  });

  it('names the four input shapes, and refuses anything else with what was expected', async () => {
    expect((await begin('a', { runDate: '2026-01-05' })).mode).toBe('backfill');
    expect(await begin('b', { runDate: '2026-01-05', full: true })).toMatchObject({
      mode: 'catch-up',
      extract: true,
      publish: true,
    });
    expect(await begin('r', { runDate: '2026-01-05', rebuild: true })).toMatchObject({
      mode: 'rebuild',
      extract: false,
      publish: false,
      snapshot: { runDate: '2026-01-05', runId: 'r', rawFromDate: '1970-01-01' },
    });
    expect(await begin('rf', { runDate: '2026-01-06', rebuild: true, full: true })).toMatchObject({
      mode: 'rebuild',
      extract: true,
      publish: true,
    });
    await expect(begin('c', { rundate: '2026-01-05' })).rejects.toThrow(
      'unknown key rundate; expected runDate, full, force, rebuild',
    );
    await expect(begin('f', { rebuild: true })).rejects.toThrow('add "runDate"');
    await expect(begin('d', { runDate: '5/1/2026' })).rejects.toThrow('expected runDate as YYYY-MM-DD');
    await expect(begin('e', { runDate: '2026-01-05', force: true })).rejects.toThrow('add "full": true');
  });

  it('stops the later of two executions of one date, and lets another date run beside it', async () => {
    deps.executions.running = [
      { executionId: 'arn:x:first', startTime: '2026-03-10T02:59:00.000Z', input: {} },
      {
        executionId: 'arn:x:other-date',
        startTime: '2026-03-10T02:00:00.000Z',
        input: { runDate: '2026-01-01' },
      },
    ];
    await expect(begin('second')).rejects.toMatchObject({
      name: 'ConcurrentRun',
      message: expect.stringContaining('arn:x:first'),
    });
    // The earlier one, seeing the later one running, goes on.
    deps.executions.running.push({
      executionId: 'arn:x:second',
      startTime: '2026-03-10T03:00:00.000Z',
      input: {},
    });
    await expect(
      beginRun(
        {
          action: 'begin',
          input: {},
          executionId: 'arn:x:first',
          executionName: 'first',
          startTime: '2026-03-10T02:59:00.000Z',
        },
        deps,
      ),
    ).resolves.toMatchObject({ runId: 'first' });
    await expect(begin('third', { runDate: '2026-02-01' })).resolves.toMatchObject({ runDate: '2026-02-01' });
  });

  it('publishes, refuses an older date unless forced, and records what was replaced', async () => {
    await begin('r1');
    await publish('2026-03-09', 'r1');
    expect(await publishedRun(deps.control)).toMatchObject({ runDate: '2026-03-09', runId: 'r1' });

    await expect(
      claimPublish(
        {
          action: 'claim_publish',
          runDate: '2026-03-01',
          runId: 'r0',
          executionId: 'arn:x:r0',
          force: false,
        },
        deps,
      ),
    ).rejects.toMatchObject({
      name: 'OlderThanPublished',
      message: expect.stringContaining('"force": true'),
    });
    expect(await publishedRun(deps.control)).toMatchObject({ runId: 'r1' });

    const forced = await claimPublish(
      { action: 'claim_publish', runDate: '2026-03-01', runId: 'r0', executionId: 'arn:x:r0', force: true },
      deps,
    );
    expect(forced.previous).toMatchObject({ runDate: '2026-03-09', runId: 'r1' });
    const done = await completePublish(
      { action: 'complete_publish', runDate: '2026-03-01', runId: 'r0', executionId: 'arn:x:r0' },
      deps,
    );
    expect(done.published).toMatchObject({ runDate: '2026-03-01', runId: 'r0', forced: true });
  });

  it('starts each run from the latest published snapshot dated before it, or from all of raw', async () => {
    // r1 (03-05) and r3 (03-07) are published; r2 (03-06) ran but never published; r4 (03-08) was
    // published by a version that wrote no snapshots (a record without writesSnapshots).
    for (const [runId, date] of [
      ['r1', '2026-03-05'],
      ['r2', '2026-03-06'],
      ['r3', '2026-03-07'],
    ] as const) {
      await begin(runId, { runDate: date, full: true });
      if (runId !== 'r2') await publish(date, runId);
    }
    await deps.control.write(
      '_control/runs/r4.json',
      JSON.stringify({
        runDate: '2026-03-08',
        runId: 'r4',
        executionId: 'arn:x:r4',
        startedAt: now.toISOString(),
        mode: 'daily',
        publishedAt: now.toISOString(),
      }),
      undefined,
    );

    // The daily run of 03-09 (Los Angeles) starts from r3: r4 has no snapshot; it re-reads raw from 03-07.
    expect((await begin('d1')).snapshot).toEqual({
      runDate: '2026-03-07',
      runId: 'r3',
      rawFromDate: '2026-03-07',
    });
    // A backfill of 03-07 needs a snapshot dated before it: r1, not the unpublished r2 or r3 itself.
    expect((await begin('b1', { runDate: '2026-03-07' })).snapshot).toEqual({
      runDate: '2026-03-05',
      runId: 'r1',
      rawFromDate: '2026-03-05',
    });
    // Nothing published before 03-05: all of raw, from the run's own (empty) location.
    expect((await begin('b2', { runDate: '2026-03-05' })).snapshot).toEqual({
      runDate: '2026-03-05',
      runId: 'b2',
      rawFromDate: '1970-01-01',
    });
  });

  it('refuses a catch-up older than the published date before it extracts, unless forced', async () => {
    await begin('p1', { runDate: '2026-03-07', full: true });
    await publish('2026-03-07', 'p1');

    await expect(begin('late', { runDate: '2026-03-06', full: true })).rejects.toMatchObject({
      name: 'OlderThanPublished',
      message: expect.stringContaining('{"runDate": "2026-03-06"}'),
    });
    await expect(begin('forced', { runDate: '2026-03-06', full: true, force: true })).resolves.toMatchObject({
      extract: true,
    });
    // A backfill of the older date publishes nothing, so it may run.
    await expect(begin('back', { runDate: '2026-03-06' })).resolves.toMatchObject({ mode: 'backfill' });
  });

  it('makes a second publisher wait while the first is still running, and takes over from a dead one', async () => {
    deps.executions.running = [{ executionId: 'arn:x:p1', startTime: '', input: {} }];
    await claimPublish(
      { action: 'claim_publish', runDate: '2026-03-09', runId: 'p1', executionId: 'arn:x:p1', force: false },
      deps,
    );

    await expect(
      claimPublish(
        {
          action: 'claim_publish',
          runDate: '2026-03-09',
          runId: 'p2',
          executionId: 'arn:x:p2',
          force: false,
        },
        deps,
      ),
    ).rejects.toMatchObject({ name: 'PublishInProgress' });

    // p1 was killed mid-publish: its claim is stale and p2 may publish.
    deps.executions.running = [];
    await expect(publish('2026-03-09', 'p2')).resolves.toMatchObject({ published: { runId: 'p2' } });
    // p1 cannot complete over p2.
    await expect(
      completePublish(
        { action: 'complete_publish', runDate: '2026-03-09', runId: 'p1', executionId: 'arn:x:p1' },
        deps,
      ),
    ).rejects.toMatchObject({ name: 'PublishClaimLost' });
  });

  it('emits the published metric with exactly the one dimension the alarm matches', () => {
    const line = JSON.parse(publishedMetricLine('customer360-pipeline', new Date(0)));
    expect(line).toEqual({
      _aws: {
        Timestamp: 0,
        CloudWatchMetrics: [
          {
            Namespace: 'Customer360',
            Dimensions: [['Pipeline']],
            Metrics: [{ Name: 'RunsPublished', Unit: 'Count' }],
          },
        ],
      },
      Pipeline: 'customer360-pipeline',
      RunsPublished: 1,
    });
  });
});

describe('run control on AWS (mocked clients)', () => {
  const s3 = mockClient(S3Client);
  const sfn = mockClient(SFNClient);
  beforeEach(() => {
    s3.reset();
    sfn.reset();
  });

  it('writes with If-None-Match for a new object and If-Match for a known version, and reports a lost race as false', async () => {
    const store = s3ControlStore(new S3Client({}), 'analytics');
    s3.on(PutObjectCommand)
      .resolvesOnce({})
      .rejectsOnce(
        Object.assign(
          new S3ServiceException({
            name: 'PreconditionFailed',
            $fault: 'client',
            $metadata: { httpStatusCode: 412 },
          }),
          {},
        ),
      );

    expect(await store.write('_control/published.json', '{}', undefined)).toBe(true);
    expect(await store.write('_control/published.json', '{}', '"etag-1"')).toBe(false);
    const calls = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({ Bucket: 'analytics', IfNoneMatch: '*' });
    expect(calls[1]).toMatchObject({ IfMatch: '"etag-1"' });
    expect(calls[1]?.IfNoneMatch).toBeUndefined();
  });

  it('reads a missing control object as absent, and fails on other errors', async () => {
    const store = s3ControlStore(new S3Client({}), 'analytics');
    s3.on(GetObjectCommand)
      .rejectsOnce(new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: {} }))
      .rejectsOnce(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: {} }));
    expect(await store.read('_control/published.json')).toBeUndefined();
    await expect(store.read('_control/published.json')).rejects.toThrow();
  });

  it('lists running executions with their input, and tells a finished one from a running one', async () => {
    const executions = stepFunctionsExecutions(
      new SFNClient({}),
      'arn:aws:states:eu-west-1:1:stateMachine:p',
    );
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: 'arn:e1',
          stateMachineArn: 'arn:sm',
          name: 'e1',
          status: 'RUNNING',
          startDate: new Date('2026-03-10T03:00:00Z'),
        },
      ],
    });
    sfn.on(DescribeExecutionCommand, { executionArn: 'arn:e1' }).resolves({
      status: 'RUNNING',
      input: '{"runDate":"2026-03-09"}',
      executionArn: 'arn:e1',
      stateMachineArn: 'x',
      startDate: new Date(),
    });
    sfn
      .on(DescribeExecutionCommand, { executionArn: 'arn:e0' })
      .resolves({ status: 'FAILED', executionArn: 'arn:e0', stateMachineArn: 'x', startDate: new Date() });

    expect(await executions.listRunning()).toEqual([
      { executionId: 'arn:e1', startTime: '2026-03-10T03:00:00.000Z', input: { runDate: '2026-03-09' } },
    ]);
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toMatchObject({
      statusFilter: 'RUNNING',
    });
    expect(await executions.isRunning('arn:e1')).toBe(true);
    expect(await executions.isRunning('arn:e0')).toBe(false);
  });
});
