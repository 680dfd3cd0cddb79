import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LOCAL_NAMES } from '../local/athena.js';
import { folderControlStore, LocalExecutions } from '../local/control-store.js';
import { registerTable } from '../local/sql-runner.js';
import { writeFileAtomically } from '../local/state.js';
import type { Workspace } from '../local/workspace.js';
import { publishedRun } from '../pipeline/run-control.js';
import { stageSuppressedKeys } from '../schema/tables.js';
import {
  type ErasureDeps,
  type ErasureLogEntry,
  type ErasureObjectStore,
  type ErasurePlan,
  type ErasureRequest,
  eraseCustomers,
  logEntry,
  releaseErasureLock,
  type TableErasure,
  takeErasureLock,
} from './core.js';

/**
 * The lake folder as the erasure's object store: a bucket is `<lake>/<bucket>`, every file is its own one
 * version (no version ids), and an upload is a rename over the file, so a reader or a process killed at any
 * instant sees the old file or the new one.
 */
export function folderErasureStore(lakeRoot: string): ErasureObjectStore {
  return {
    async listVersions(bucket, prefix) {
      const root = join(lakeRoot, bucket);
      let entries: import('node:fs').Dirent[];
      try {
        entries = readdirSync(join(root, prefix), { recursive: true, withFileTypes: true });
      } catch {
        return [];
      }
      return entries
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)))
        .sort()
        .map((key) => ({ key, isLatest: true, isDeleteMarker: false }));
    },
    async download(bucket, key) {
      return { path: join(lakeRoot, bucket, key), release: () => undefined };
    },
    scratchPath(bucket, name) {
      // Inside the zone (one file system for the rename), outside every table.
      const dir = join(lakeRoot, bucket, '_tmp', `erase-${process.pid}-${randomUUID().slice(0, 8)}`);
      mkdirSync(dir, { recursive: true });
      return join(dir, name);
    },
    async upload(bucket, key, path) {
      const target = join(lakeRoot, bucket, key);
      mkdirSync(join(target, '..'), { recursive: true });
      renameSync(path, target);
      rmSync(join(path, '..'), { recursive: true, force: true });
      return undefined;
    },
    async deleteVersion() {
      throw new Error('A folder keeps no versions: nothing to delete by version id');
    },
  };
}

/** An id in text: not part of a longer number, word or key (`42` is not in `420`, `L0000042` or `05:42`). */
function idPattern(ids: readonly string[]): RegExp | undefined {
  if (ids.length === 0) return undefined;
  const alternatives = ids.map((id) => id.replace(/[-]/g, '\\-')).join('|');
  return new RegExp(`(?<![0-9A-Za-z_.:#-])(?:${alternatives})(?![0-9A-Za-z_.])`);
}

function mentions(text: string, plan: ErasurePlan): boolean {
  const lower = text.toLowerCase();
  if (plan.sensitive.emails.some((e) => lower.includes(e))) return true;
  if (plan.sensitive.names.some((n) => lower.includes(n.toLowerCase()))) return true;
  return idPattern([...plan.customerIds, ...plan.keys.mysql_customer_id])?.test(text) ?? false;
}

/**
 * Removes from the outbox (the local stand-in for SNS and SES) every message that mentions a customer:
 * an id, an email or a full name. A message about several customers goes whole: the outbox is a record
 * of what was sent, not a queue. Returns the lines removed.
 */
export function scrubOutbox(outboxFile: string, plan: ErasurePlan): number {
  if (!existsSync(outboxFile)) return 0;
  const lines = readFileSync(outboxFile, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  const kept = lines.filter((line) => !mentions(line, plan));
  if (kept.length !== lines.length)
    writeFileAtomically(outboxFile, kept.length > 0 ? `${kept.join('\n')}\n` : '');
  return lines.length - kept.length;
}

/**
 * Run summaries carry counts, states and SQL, not customers; this makes sure: a value under a key about
 * customers that is one of the ids, or any text holding an email or a full name, is replaced. Returns the
 * summaries changed.
 */
export function scrubRunSummaries(runsDir: string, plan: ErasurePlan): number {
  if (!existsSync(runsDir)) return 0;
  const ids = new Set([...plan.customerIds, ...plan.keys.mysql_customer_id]);
  let changed = 0;
  for (const file of readdirSync(runsDir).filter((f) => f.endsWith('.json'))) {
    const path = join(runsDir, file);
    const text = readFileSync(path, 'utf8');
    let touched = false;
    const walk = (value: unknown, aboutCustomers: boolean): unknown => {
      if (Array.isArray(value)) {
        const kept = value.filter((v) => !(aboutCustomers && ids.has(String(v))));
        if (kept.length !== value.length) touched = true;
        return kept.map((v) => walk(v, aboutCustomers));
      }
      if (value && typeof value === 'object')
        return Object.fromEntries(
          Object.entries(value).map(([k, v]) => [k, walk(v, aboutCustomers || /customer/i.test(k))]),
        );
      if (
        (typeof value === 'string' || typeof value === 'number') &&
        aboutCustomers &&
        ids.has(String(value))
      ) {
        touched = true;
        return '[erased]';
      }
      if (typeof value === 'string') {
        const lower = value.toLowerCase();
        if (
          [...plan.sensitive.emails, ...plan.sensitive.names.map((n) => n.toLowerCase())].some((s) =>
            lower.includes(s),
          )
        ) {
          touched = true;
          return '[erased]';
        }
      }
      return value;
    };
    const scrubbed = walk(JSON.parse(text), false);
    if (touched) {
      writeFileAtomically(path, `${JSON.stringify(scrubbed, null, 2)}\n`);
      changed += 1;
    }
  }
  return changed;
}

export interface LocalErasureOptions {
  readonly workspace: Workspace;
  readonly connection: DuckDBConnection;
  readonly request: ErasureRequest;
  /** The workspace's sent-alerts table (dynalite). */
  readonly alerts?: { readonly client: DynamoDBClient; readonly tableName: string };
  readonly now?: () => Date;
}

export interface LocalErasureResult {
  readonly entry: ErasureLogEntry;
  readonly tables: readonly TableErasure[];
}

/** The erasure log of a workspace: one JSON line per erasure, appended, never rewritten. */
export function erasureLogFile(workspace: Workspace): string {
  return join(workspace.root, 'erasure-log.jsonl');
}

/**
 * `c360 erase`: the erasure core over the workspace's lake, then the workspace's own files (outbox, run
 * summaries), then one line in the erasure log. The caller holds the workspace lock, so no run writes
 * meanwhile; the erasure lock is taken too, as in the cloud, so the run-control check is the same.
 */
export async function eraseLocally(options: LocalErasureOptions): Promise<LocalErasureResult> {
  const { workspace } = options;
  const control = folderControlStore(join(workspace.lake, LOCAL_NAMES.analytics));
  const deps: ErasureDeps = {
    store: folderErasureStore(workspace.lake),
    buckets: LOCAL_NAMES,
    control,
    connection: options.connection,
    ...(options.alerts ? { alerts: options.alerts } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
  const lockId = `local-erase-${process.pid}`;
  await takeErasureLock(lockId, { control, pipelines: new LocalExecutions(), now: options.now });
  try {
    const result = await eraseCustomers(options.request, deps);
    // Rewritten files keep their paths; the new suppression file must be listed by the local catalog.
    await registerTable(options.connection, workspace.lake, stageSuppressedKeys);
    const local = {
      outbox_lines_removed: scrubOutbox(workspace.outboxFile, result.plan),
      run_summaries_scrubbed: scrubRunSummaries(workspace.runsDir, result.plan),
    };
    const entry = logEntry(
      result.plan,
      result.tables,
      result.alertItemsDeleted,
      options.now?.() ?? new Date(),
      local,
    );
    appendFileSync(erasureLogFile(workspace), `${JSON.stringify(entry)}\n`);
    return { entry, tables: result.tables };
  } finally {
    await releaseErasureLock(lockId, control);
  }
}

/** The execution input that republishes a date: `c360 run --date D --rebuild --full`. */
export interface RepublishInput {
  readonly runDate: string;
  readonly rebuild: true;
  readonly full: true;
}

/**
 * What `c360 erase --republish` runs after an erasure: the latest published date again, staged from all of
 * raw (which no longer holds the customer) and published, so the run readers see and the next run compares
 * with has every figure computed as if the customer never existed. Erasure removes their rows from the
 * published run but leaves the other customers' scores (RFM quintiles, K-Means labels, fitted models) as
 * they were computed with them in the population.
 *
 * No run kind publishes without extracting, so this one extracts too (what landed since is then in the
 * republished date, as in a second daily run of that date). Not `force`: the date is the latest published
 * one, so force changes nothing, unless another date were published meanwhile, and then the rebuild must
 * not move the dashboards back to it. Undefined when nothing is published yet (nothing to recompute).
 */
export async function republishInput(workspace: Workspace): Promise<RepublishInput | undefined> {
  const current = await publishedRun(folderControlStore(join(workspace.lake, LOCAL_NAMES.analytics)));
  return current && { runDate: current.runDate, rebuild: true, full: true };
}
