import { z } from 'zod';
import type { Customer360Config } from '../config/schema.js';
import { runLocation } from '../pipeline/queries.js';
import {
  type ControlStore,
  type Executions,
  type PointerState,
  PUBLISHED_KEY,
  RUNS_PREFIX,
  type RunRecord,
  runIdFor,
} from '../pipeline/run-control.js';
import type { TableSchema, Zone } from '../schema/types.js';

/**
 * Retention of runs: which `run_date=D/run_id=R/` locations of the stage and analytics tables are
 * deleted, and why the others are kept.
 *
 * S3 lifecycle rules match a prefix, object tags and sizes, never "not published": Athena's UNLOAD
 * cannot tag what it writes, and tagging each object at publish would cost one request per object and
 * still know nothing of the snapshot the next run builds on or of runs still executing. So runs are
 * expired here, from the run records (`_control/runs/`), the published pointer and the executions
 * running, by the `Apply retention` step after each publish; the local run calls the same function.
 * Raw and rejects, which a prefix does describe, expire by lifecycle rules
 * (lib/constructs/data-lake-storage.ts).
 *
 * Never deleted: the run readers see (however old), the snapshot base the next run builds on, the
 * execution's own run, any run still executing and the snapshot base each of those reads.
 */

export const retentionInputSchema = z.strictObject({
  runDate: z.iso.date({ message: 'expected runDate as YYYY-MM-DD' }),
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected a run id of 1-80 letters, digits, - or _'),
});
export type RetentionInput = z.infer<typeof retentionInputSchema>;

/** Object storage as retention needs it: S3 in the cloud, the lake folder locally. */
export interface RetentionLake {
  /**
   * The "folders" directly under a prefix, each ending in `/` and relative to it (S3: the common
   * prefixes of a listing with delimiter `/`), for example `run_date=2026-01-01/`.
   */
  listFolders(bucket: string, prefix: string): Promise<string[]>;
  /** Deletes every object under the prefix; returns how many were deleted. */
  deletePrefix(bucket: string, prefix: string): Promise<number>;
}

export interface RetentionDeps {
  readonly retention: Customer360Config['storage']['retention'];
  readonly control: ControlStore;
  readonly executions: Executions;
  readonly lake: RetentionLake;
  /** Bucket per zone. */
  readonly buckets: Readonly<Record<Zone, string>>;
  /** The stage and analytics tables a run writes one location of. */
  readonly runTables: readonly TableSchema[];
  readonly now?: () => Date;
}

/** A run as retention sees it: from its record, or only from folders found in the lake (an orphan). */
export interface RunSeen {
  readonly runDate: string;
  readonly runId: string;
  /** Absent for an orphan: folders with no run record (written before records existed, or by hand). */
  readonly record?: RunRecord;
}

export interface RunDecision {
  readonly runDate: string;
  readonly runId: string;
  readonly action: 'keep' | 'delete';
  readonly reason: string;
}

export interface RetentionResult {
  readonly decisions: readonly RunDecision[];
  readonly deletedRuns: readonly string[];
  /** Objects deleted (files locally). */
  readonly deletedObjects: number;
}

const DAY_MS = 86_400_000;

/**
 * Decides, for every run seen, whether it is kept and why. Pure: the inputs are what the store and the
 * executions said, so the rules can be checked by hand.
 */
export function planRetention(args: {
  readonly runs: readonly RunSeen[];
  readonly current: PointerState['current'];
  /** Execution ids still running. */
  readonly running: ReadonlySet<string>;
  /** This execution's own run. */
  readonly own: RetentionInput;
  readonly retention: RetentionDeps['retention'];
  readonly now: Date;
}): RunDecision[] {
  const { runs, current, running, own, retention, now } = args;
  const runningRunIds = new Set([...running].map((id) => runIdFor(id.split(':').at(-1) ?? id)));
  // The base the next run builds on: the latest-dated published run that wrote snapshots (as
  // snapshotBefore in lib/pipeline/run-control.ts chooses it for any later date).
  let base: RunRecord | undefined;
  for (const { record } of runs) {
    if (!record?.publishedAt || !record.writesSnapshots) continue;
    if (
      !base ||
      record.runDate > base.runDate ||
      (record.runDate === base.runDate && record.publishedAt > (base.publishedAt ?? ''))
    )
      base = record;
  }
  // Bases that executions still running read from.
  const readByRunning = new Map<string, string>();
  for (const { record } of runs) {
    if (record?.snapshot && running.has(record.executionId) && record.snapshot.runId !== record.runId)
      readByRunning.set(record.snapshot.runId, record.runId);
  }

  return runs.map(({ runDate, runId, record }): RunDecision => {
    const keep = (reason: string): RunDecision => ({ runDate, runId, action: 'keep', reason });
    const remove = (reason: string): RunDecision => ({ runDate, runId, action: 'delete', reason });
    if (runId === own.runId) return keep("this execution's run");
    if (runId === current?.runId) return keep('published: the run readers see');
    if (runId === base?.runId) return keep('the snapshot base the next run builds on');
    if (record ? running.has(record.executionId) : runningRunIds.has(runId)) return keep('still running');
    const reader = readByRunning.get(runId);
    if (reader) return keep(`the snapshot base of ${reader}, still running`);
    if (!record) {
      // No start time: the run date is the best age there is (a run starts on or after its date).
      const days = (now.getTime() - Date.parse(`${runDate}T00:00:00Z`)) / DAY_MS;
      return days > retention.unpublishedRunsDays
        ? remove(
            `no run record; run date ${ageText(days)} ago, over unpublishedRunsDays (${retention.unpublishedRunsDays})`,
          )
        : keep(
            `no run record; run date ${ageText(days)} ago, within unpublishedRunsDays (${retention.unpublishedRunsDays})`,
          );
    }
    const days = (now.getTime() - Date.parse(record.startedAt)) / DAY_MS;
    const [kind, limit, key] = record.publishedAt
      ? (['published', retention.publishedRunsDays, 'publishedRunsDays'] as const)
      : (['never published', retention.unpublishedRunsDays, 'unpublishedRunsDays'] as const);
    return days > limit
      ? remove(`${kind}; started ${ageText(days)} ago, over ${key} (${limit})`)
      : keep(`${kind}; started ${ageText(days)} ago, within ${key} (${limit})`);
  });
}

function ageText(days: number): string {
  return `${days.toFixed(1)} days`;
}

/**
 * Finds every run (records and folders), decides, and deletes the expired runs' locations in every run
 * table, then their records: a pass stopped half-way leaves the record, and the next pass finishes.
 */
export async function applyRetention(input: RetentionInput, deps: RetentionDeps): Promise<RetentionResult> {
  const now = deps.now?.() ?? new Date();
  const runs = new Map<string, RunSeen>();
  for (const key of await deps.control.list(RUNS_PREFIX)) {
    const found = await deps.control.read(key);
    if (!found) continue;
    const record = JSON.parse(found.body) as RunRecord;
    runs.set(record.runId, { runDate: record.runDate, runId: record.runId, record });
  }
  for (const [runDate, runId] of await runFolders(deps)) {
    if (!runs.has(runId)) runs.set(runId, { runDate, runId });
  }
  const pointer = await deps.control.read(PUBLISHED_KEY);
  const current = pointer ? (JSON.parse(pointer.body) as PointerState).current : undefined;
  const running = new Set((await deps.executions.listRunning()).map((r) => r.executionId));
  const decisions = planRetention({
    runs: [...runs.values()].sort(
      (a, b) => a.runDate.localeCompare(b.runDate) || a.runId.localeCompare(b.runId),
    ),
    current,
    running,
    own: input,
    retention: deps.retention,
    now,
  });
  let deletedObjects = 0;
  const deletedRuns: string[] = [];
  for (const decision of decisions) {
    if (decision.action !== 'delete') continue;
    for (const table of deps.runTables) {
      deletedObjects += await deps.lake.deletePrefix(
        deps.buckets[table.zone],
        runLocation(table, decision.runDate, decision.runId),
      );
    }
    if (runs.get(decision.runId)?.record) await deps.control.delete(`${RUNS_PREFIX}${decision.runId}.json`);
    deletedRuns.push(decision.runId);
  }
  return { decisions, deletedRuns, deletedObjects };
}

const RUN_DATE_FOLDER = /^run_date=(\d{4}-\d{2}-\d{2})\/$/;
const RUN_ID_FOLDER = /^run_id=([A-Za-z0-9_-]{1,80})\/$/;

/** Every (run date, run id) with a folder in some run table. */
async function runFolders(deps: RetentionDeps): Promise<[string, string][]> {
  const found = new Map<string, [string, string]>();
  for (const table of deps.runTables) {
    const bucket = deps.buckets[table.zone];
    for (const dateFolder of await deps.lake.listFolders(bucket, table.location)) {
      const runDate = RUN_DATE_FOLDER.exec(dateFolder)?.[1];
      if (!runDate) continue;
      for (const idFolder of await deps.lake.listFolders(bucket, `${table.location}${dateFolder}`)) {
        const runId = RUN_ID_FOLDER.exec(idFolder)?.[1];
        if (runId) found.set(`${runDate}/${runId}`, [runDate, runId]);
      }
    }
  }
  return [...found.values()];
}
