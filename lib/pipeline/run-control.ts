import { z } from 'zod';
import type { Customer360Config } from '../config/schema.js';

/**
 * Run control: what makes a run write-audit-publish. Every execution writes under its own run id
 * (`run_date=D/run_id=R/`), so nothing it writes is visible until publishing; this module decides, at
 * the start, which date and run id an execution has and refuses a second execution of a date that is
 * already running; at the end it serializes publishing (one publisher at a time per deployment, never
 * an older date over a newer one unless forced) and records what is published; the records tell
 * retention (lib/retention/) which runs it may delete. Its state is a few small JSON objects under `_control/` in the analytics bucket
 * (a folder locally), written with compare-and-swap so two publishers cannot both win.
 */

/** The state machine's input: which kind of run this is. */
export const executionInputSchema = z.strictObject({
  runDate: z.iso.date({ message: 'expected runDate as YYYY-MM-DD' }).optional(),
  full: z.boolean({ message: 'expected full as true or false' }).optional(),
  force: z.boolean({ message: 'expected force as true or false' }).optional(),
  rebuild: z.boolean({ message: 'expected rebuild as true or false' }).optional(),
});
export type ExecutionInput = z.infer<typeof executionInputSchema>;

/**
 * The four kinds of run (the table in README.md and docs/operations.md):
 * - daily `{}`: extract, stage from the last published snapshot, publish;
 * - catch-up `{runDate, full: true}`: the same for a given date (never published over a newer date
 *   unless `force: true`);
 * - backfill `{runDate}`: stage from the published snapshot before the date; no extraction, no publishing;
 * - rebuild `{runDate, rebuild: true}`: stage from all of raw, for repairs; with `full: true` it
 *   extracts and publishes as a catch-up would.
 */
export type RunMode = 'daily' | 'catch-up' | 'backfill' | 'rebuild';

/**
 * What the stage snapshots of a run are built from: the snapshot a published run wrote
 * (`runDate`/`runId`), keeping its rows landed before `rawFromDate`, plus the raw partitions landed from
 * `rawFromDate` to the run date. The base's own date is read again from raw, so files landed on that date
 * after the base ran are not missed. A rebuild names its own (still empty) location as the base and
 * reads raw from 1970-01-01: all of it.
 */
export interface SnapshotBase {
  readonly runDate: string;
  readonly runId: string;
  readonly rawFromDate: string;
}

/** The raw date a rebuild reads from: before any extraction. */
export const ALL_OF_RAW = '1970-01-01';

const runDateSchema = z.iso.date({ message: 'expected runDate as YYYY-MM-DD' });
const runIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected a run id of 1-80 letters, digits, - or _');
const publishedRunSchema = z.object({
  runDate: runDateSchema,
  runId: runIdSchema,
  executionId: z.string(),
  publishedAt: z.string(),
  forced: z.boolean().optional(),
});
export type PublishedRun = z.infer<typeof publishedRunSchema>;

export const runControlInputSchema = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('begin'),
    input: z.unknown(),
    executionId: z.string().min(1),
    executionName: z.string().min(1),
    startTime: z.string().min(1),
  }),
  z.strictObject({
    action: z.literal('claim_publish'),
    runDate: runDateSchema,
    runId: runIdSchema,
    executionId: z.string().min(1),
    force: z.boolean(),
  }),
  z.strictObject({
    action: z.literal('complete_publish'),
    runDate: runDateSchema,
    runId: runIdSchema,
    executionId: z.string().min(1),
  }),
]);
export type RunControlInput = z.infer<typeof runControlInputSchema>;

/** Small JSON objects with compare-and-swap: S3 conditional writes in the cloud, files locally. */
export interface ControlStore {
  read(key: string): Promise<{ readonly body: string; readonly etag: string } | undefined>;
  /**
   * Writes `body` if the object's current version is `expectedEtag` (`undefined`: if it does not exist).
   * Returns false when another writer got there first.
   */
  write(key: string, body: string, expectedEtag: string | undefined): Promise<boolean>;
  /** Keys under a prefix. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

/** The executions of this state machine: Step Functions in the cloud, the local runner's registry locally. */
export interface Executions {
  /** Executions still running, with their start time and input. */
  listRunning(): Promise<readonly { executionId: string; startTime: string; input: unknown }[]>;
  isRunning(executionId: string): Promise<boolean>;
}

export interface RunControlDeps {
  readonly config: Customer360Config;
  readonly control: ControlStore;
  readonly executions: Executions;
  readonly now?: () => Date;
  /** Called once a run is published (the cloud emits the metric the no-publish alarm watches). */
  readonly onPublished?: (run: PublishedRun) => void | Promise<void>;
}

/** An error Step Functions matches by name (`Retry`/`Catch` `ErrorEquals`). */
export class RunControlError extends Error {
  constructor(
    name:
      | 'ConcurrentRun'
      | 'PublishInProgress'
      | 'OlderThanPublished'
      | 'PublishClaimLost'
      | 'ErasureInProgress',
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}

export const PUBLISHED_KEY = '_control/published.json';
/**
 * Held while customers are erased (lib/erase/core.ts): `{ erasureId, startedAt, expiresAt }`. A run does
 * not begin while it is held and not expired: erasure rewrites the files a run reads and writes.
 */
export const ERASURE_LOCK_KEY = '_control/erasure.json';
/** One run record per run: `_control/runs/<run id>.json`. */
export const RUNS_PREFIX = '_control/runs/';

export interface PointerState {
  readonly current?: PublishedRun;
  readonly publishing?: { runDate: string; runId: string; executionId: string; startedAt: string };
}

export interface RunRecord {
  readonly runDate: string;
  readonly runId: string;
  readonly executionId: string;
  readonly startedAt: string;
  readonly mode: RunMode;
  readonly publishedAt?: string;
  /**
   * The run wrote the stage snapshots (`stage.snapshot_*`) a later run may start from; runs recorded
   * before snapshots existed lack it and are never a base.
   */
  readonly writesSnapshots?: boolean;
  /** The snapshot the run stages from: retention keeps it while the run is running. */
  readonly snapshot?: SnapshotBase;
}

/** The calendar date of an instant in a time zone (the schedule's), as YYYY-MM-DD. */
export function dateInZone(instant: string, timeZone: string): string {
  const date = new Date(instant);
  if (Number.isNaN(date.getTime())) throw new Error(`Not a time: ${instant}`);
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(date);
}

/** A run id from an execution name: the characters S3 keys and Athena literals take without escaping. */
export function runIdFor(executionName: string): string {
  return executionName.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
}

function describeInput(input: unknown): ExecutionInput {
  const parsed = executionInputSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown key ${i.keys.join(', ')}; expected runDate, full, force, rebuild`
        : `${i.path.join('.') || '(input)'}: ${i.message}`,
    );
    throw new Error(
      `Invalid execution input ${JSON.stringify(input)}: ${problems.join('; ')}. Expected {} (daily), {"runDate": "YYYY-MM-DD", "full": true} (catch-up), {"runDate": "YYYY-MM-DD"} (backfill) or {"runDate": "YYYY-MM-DD", "rebuild": true} (rebuild from all of raw).`,
    );
  }
  if (parsed.data.force && !parsed.data.full) {
    throw new Error('Invalid execution input: force applies to a run that publishes; add "full": true.');
  }
  if (parsed.data.rebuild && parsed.data.runDate === undefined) {
    throw new Error('Invalid execution input: rebuild repairs a given date; add "runDate": "YYYY-MM-DD".');
  }
  return parsed.data;
}

export function runModeOf(input: ExecutionInput): RunMode {
  if (input.runDate === undefined) return 'daily';
  if (input.rebuild) return 'rebuild';
  return input.full ? 'catch-up' : 'backfill';
}

export interface BeganRun {
  readonly runDate: string;
  readonly runId: string;
  readonly mode: RunMode;
  readonly extract: boolean;
  readonly publish: boolean;
  readonly force: boolean;
  readonly snapshot: SnapshotBase;
}

export async function runControl(
  input: RunControlInput,
  deps: RunControlDeps,
): Promise<BeganRun | { previous: PublishedRun | null } | { published: PublishedRun }> {
  switch (input.action) {
    case 'begin':
      return beginRun(input, deps);
    case 'claim_publish':
      return claimPublish(input, deps);
    case 'complete_publish':
      return completePublish(input, deps);
  }
}

/**
 * Settles the run date (given, or the start date in the schedule's time zone) and the run id (the
 * execution name), and stops an execution whose date another running execution already has: the
 * earlier one (by start time, then id) goes on, so of two started together exactly one proceeds.
 */
export async function beginRun(
  input: Extract<RunControlInput, { action: 'begin' }>,
  deps: RunControlDeps,
): Promise<BeganRun> {
  const given = describeInput(input.input);
  const timeZone = deps.config.schedule.timezone;
  const runDate = given.runDate ?? dateInZone(input.startTime, timeZone);
  const mode = runModeOf(given);
  const runId = runIdFor(input.executionName);
  for (const other of await deps.executions.listRunning()) {
    if (other.executionId === input.executionId) continue;
    let otherDate: string;
    try {
      const otherInput = executionInputSchema.parse(other.input ?? {});
      otherDate = otherInput.runDate ?? dateInZone(other.startTime, timeZone);
    } catch {
      continue; // Its own Begin run refuses it.
    }
    if (otherDate !== runDate) continue;
    const earlier =
      other.startTime < input.startTime ||
      (other.startTime === input.startTime && other.executionId < input.executionId);
    if (earlier) {
      throw new RunControlError(
        'ConcurrentRun',
        `Another execution is already running for ${runDate} (${other.executionId}, started ${other.startTime}); this one stopped before writing anything. Wait for it to finish (or stop it), then start again with the same input.`,
      );
    }
  }
  const erasure = await deps.control.read(ERASURE_LOCK_KEY);
  if (erasure) {
    const held = JSON.parse(erasure.body) as { erasureId: string; startedAt: string; expiresAt: string };
    if (held.expiresAt > (deps.now?.() ?? new Date()).toISOString())
      throw new RunControlError(
        'ErasureInProgress',
        `Erasure ${held.erasureId} (started ${held.startedAt}) is rewriting the lake; this run stopped before writing anything and is retried.`,
      );
  }
  const publishes = mode === 'daily' || given.full === true;
  const current = await publishedRun(deps.control);
  if (publishes && current && current.runDate > runDate && !given.force) {
    // Refused before extracting: rows landed under an older date than the published snapshot's would be
    // missed by the incremental runs that start from it, and the run could not publish anyway.
    throw new RunControlError(
      'OlderThanPublished',
      `Not started: ${runDate} is older than the published ${current.runDate} (run ${current.runId}), and the dashboards never move back in time by accident. To compute the date without publishing, start {"runDate": "${runDate}"}; to publish it anyway, {"runDate": "${runDate}", "full": true, "force": true}.`,
    );
  }
  const snapshot =
    mode === 'rebuild'
      ? { runDate, runId, rawFromDate: ALL_OF_RAW }
      : ((await snapshotBefore(runDate, deps)) ?? { runDate, runId, rawFromDate: ALL_OF_RAW });
  const record: RunRecord = {
    runDate,
    runId,
    executionId: input.executionId,
    startedAt: (deps.now?.() ?? new Date()).toISOString(),
    mode,
    writesSnapshots: true,
    snapshot,
  };
  await deps.control.write(`${RUNS_PREFIX}${runId}.json`, JSON.stringify(record), undefined);
  return {
    runDate,
    runId,
    mode,
    extract: publishes,
    publish: publishes,
    force: given.force ?? false,
    snapshot,
  };
}

/**
 * The snapshot an incremental run starts from: the latest published run with a date before `runDate`
 * that wrote snapshots and is still kept (its run record is deleted with its files). Undefined when there
 * is none, and the run stages from all of raw.
 */
export async function snapshotBefore(
  runDate: string,
  deps: RunControlDeps,
): Promise<SnapshotBase | undefined> {
  let best: RunRecord | undefined;
  for (const key of await deps.control.list(RUNS_PREFIX)) {
    const found = await deps.control.read(key);
    if (!found) continue;
    const run = JSON.parse(found.body) as RunRecord;
    if (!run.publishedAt || !run.writesSnapshots || run.runDate >= runDate) continue;
    if (
      !best ||
      run.runDate > best.runDate ||
      (run.runDate === best.runDate && run.publishedAt > (best.publishedAt ?? ''))
    )
      best = run;
  }
  return best && { runDate: best.runDate, runId: best.runId, rawFromDate: best.runDate };
}

async function readPointer(deps: RunControlDeps): Promise<{ state: PointerState; etag: string | undefined }> {
  const found = await deps.control.read(PUBLISHED_KEY);
  if (!found) return { state: {}, etag: undefined };
  return { state: JSON.parse(found.body) as PointerState, etag: found.etag };
}

/**
 * Takes the deployment's publishing slot. Refused (`OlderThanPublished`) when the date is older than
 * the published one and not forced, so a late catch-up never moves the dashboards back in time; asks to
 * be retried (`PublishInProgress`) while another running execution publishes.
 */
export async function claimPublish(
  input: Extract<RunControlInput, { action: 'claim_publish' }>,
  deps: RunControlDeps,
): Promise<{ previous: PublishedRun | null }> {
  const { state, etag } = await readPointer(deps);
  const holder = state.publishing;
  if (
    holder &&
    holder.executionId !== input.executionId &&
    (await deps.executions.isRunning(holder.executionId))
  ) {
    throw new RunControlError(
      'PublishInProgress',
      `Execution ${holder.executionId} is publishing ${holder.runDate} since ${holder.startedAt}; publishing waits for it.`,
    );
  }
  const current = state.current;
  if (current && current.runDate > input.runDate && !input.force) {
    throw new RunControlError(
      'OlderThanPublished',
      `Not published: ${input.runDate} is older than the published ${current.runDate} (run ${current.runId}), and the dashboards never move back in time by accident. The run's data is kept under run_id=${input.runId}. To publish it anyway, start {"runDate": "${input.runDate}", "full": true, "force": true}.`,
    );
  }
  const next: PointerState = {
    ...(current ? { current } : {}),
    publishing: {
      runDate: input.runDate,
      runId: input.runId,
      executionId: input.executionId,
      startedAt: (deps.now?.() ?? new Date()).toISOString(),
    },
  };
  if (!(await deps.control.write(PUBLISHED_KEY, JSON.stringify(next), etag))) {
    throw new RunControlError(
      'PublishInProgress',
      'Another execution changed the published run at the same moment; retrying.',
    );
  }
  return { previous: current ?? null };
}

/**
 * Records the run as the published one and releases the slot. Expired runs are deleted later, by the
 * `Apply retention` step (lib/retention/), so a failure there can never fail a publish.
 */
export async function completePublish(
  input: Extract<RunControlInput, { action: 'complete_publish' }>,
  deps: RunControlDeps,
): Promise<{ published: PublishedRun }> {
  const { state, etag } = await readPointer(deps);
  if (state.publishing?.executionId !== input.executionId) {
    throw new RunControlError(
      'PublishClaimLost',
      `Execution ${input.executionId} no longer holds the publishing slot (now ${state.publishing?.executionId ?? 'nobody'}); the views it wrote may have been replaced. Start a new execution with the same input.`,
    );
  }
  const now = deps.now?.() ?? new Date();
  const published: PublishedRun = {
    runDate: input.runDate,
    runId: input.runId,
    executionId: input.executionId,
    publishedAt: now.toISOString(),
    ...(state.current && state.current.runDate > input.runDate ? { forced: true } : {}),
  };
  if (!(await deps.control.write(PUBLISHED_KEY, JSON.stringify({ current: published }), etag))) {
    throw new RunControlError(
      'PublishClaimLost',
      'The published run changed while this execution held the slot.',
    );
  }
  const recordKey = `${RUNS_PREFIX}${input.runId}.json`;
  const record = await deps.control.read(recordKey);
  if (record) {
    const updated = { ...(JSON.parse(record.body) as RunRecord), publishedAt: published.publishedAt };
    await deps.control.write(recordKey, JSON.stringify(updated), record.etag);
  }
  await deps.onPublished?.(published);
  return { published };
}

/** The run readers see now, if any. */
export async function publishedRun(control: ControlStore): Promise<PublishedRun | undefined> {
  const found = await control.read(PUBLISHED_KEY);
  if (!found) return undefined;
  const current = (JSON.parse(found.body) as PointerState).current;
  return current ? publishedRunSchema.parse(current) : undefined;
}
