import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { releaseErasureLock, takeErasureLock } from '../lib/erase/core.js';
import { folderControlStore } from '../lib/local/control-store.js';
import { beginRun, ERASURE_LOCK_KEY, type Executions } from '../lib/pipeline/run-control.js';
import { stageAndAnalyticsRunTables } from '../lib/schema/tables.js';

/* Erasure and a pipeline run never overlap: the erasure takes its lock, then looks for running runs. */
const running = (ids: string[]): Executions => ({
  listRunning: async () =>
    ids.map((executionId) => ({ executionId, startTime: '2025-07-01T00:00:00Z', input: {} })),
  isRunning: async (id) => ids.includes(id),
});
const now = () => new Date('2025-07-01T08:00:00Z');

function deps(pipelines: Executions) {
  const control = folderControlStore(mkdtempSync(join(tmpdir(), 'c360-erase-lock-')));
  return {
    control,
    run: {
      config: parseConfig({}),
      control,
      executions: pipelines,
      lake: { deletePrefix: async () => 0 },
      buckets: { raw: 'raw', stage: 'stage', analytics: 'analytics' },
      runTables: stageAndAnalyticsRunTables,
      now,
    },
  };
}
const begin = {
  action: 'begin' as const,
  input: {},
  executionId: 'arn:e2',
  executionName: 'e2',
  startTime: '2025-07-01T08:00:00Z',
};

describe('the erasure lock', () => {
  it('stops a run from beginning while held, and lets it begin once released', async () => {
    const { control, run } = deps(running([]));
    await takeErasureLock('erasure-1', { control, pipelines: running([]), now });
    await expect(beginRun(begin, run)).rejects.toMatchObject({
      name: 'ErasureInProgress',
      message: expect.stringContaining('erasure-1'),
    });
    await releaseErasureLock('erasure-1', control);
    await expect(beginRun(begin, run)).resolves.toMatchObject({ runDate: '2025-07-01' });
  });

  it('is not taken while a pipeline execution runs, and is left free', async () => {
    const { control } = deps(running([]));
    await expect(
      takeErasureLock('erasure-1', { control, pipelines: running(['arn:pipeline:run-1']), now }),
    ).rejects.toMatchObject({
      name: 'PipelineRunning',
      message: expect.stringContaining('arn:pipeline:run-1'),
    });
    expect(await control.read(ERASURE_LOCK_KEY)).toBeUndefined();
  });

  it('refuses a second erasure while one holds it, and takes over a lock past its expiry', async () => {
    const { control } = deps(running([]));
    await takeErasureLock('erasure-1', { control, pipelines: running([]), now });
    await expect(
      takeErasureLock('erasure-2', { control, pipelines: running([]), now }),
    ).rejects.toMatchObject({
      name: 'ErasureInProgress',
    });
    // Six hours later the first is taken for stopped without its cleanup.
    const later = () => new Date('2025-07-01T14:00:01Z');
    await takeErasureLock('erasure-2', { control, pipelines: running([]), now: later });
    expect(JSON.parse((await control.read(ERASURE_LOCK_KEY))?.body ?? '{}').erasureId).toBe('erasure-2');
  });
});
