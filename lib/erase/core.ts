import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import { alertKey } from '../alerts/dedupe.js';
import type { ControlStore, Executions, PublishedRun } from '../pipeline/run-control.js';
import { ERASURE_LOCK_KEY, publishedRun } from '../pipeline/run-control.js';
import { sqlString } from '../schema/derive.js';
import { allTables, stageSuppressedKeys, tableNamed } from '../schema/tables.js';
import type { TableSchema, Zone } from '../schema/types.js';
import {
  type ErasureKeys,
  emailSha256,
  emptyKeys,
  erasurePredicate,
  KEY_TYPES,
  type KeyType,
  keySet,
  normalizeEmail,
} from './keys.js';

/*
 * Erasing customers on request, everywhere the pipeline keeps them: resolve the customer ids (or an email)
 * to every source key of theirs through the published identity map; put those keys on the suppression
 * list (stage.suppressed_keys) so no later run stages them again; rewrite every Parquet file of every zone
 * and run that holds one of their rows without those rows (every version of it, in a versioned bucket);
 * forget their sent alerts. The local command and the erase-customers state machine run this same code
 * over an injected object store (a folder, or S3 with versions), DuckDB and DynamoDB client.
 */

const customerIdText = z
  .string()
  .regex(/^-?\d{1,19}$/, 'expected a customer id: a whole number, as in analytics.customer_360');

/** What an erasure is asked for. `emails` only from the local command: a state machine input is logged. */
export const erasureRequestSchema = z
  .strictObject({
    customerIds: z
      .array(customerIdText)
      .max(1000, 'expected at most 1000 customer ids per erasure')
      .default([]),
    emails: z
      .array(
        z
          .string()
          .trim()
          .regex(/^[^@\s]+@[^@\s]+$/, 'expected an email address'),
      )
      .default([]),
    requestedBy: z.string().trim().min(1, 'expected who asked for the erasure').max(200),
    reason: z
      .string()
      .max(500)
      .refine((r) => !r.includes('@'), 'expected a reason without an email address: the erasure log keeps it')
      .optional(),
  })
  .refine((r) => r.customerIds.length + r.emails.length > 0, 'expected at least one customer id or email');
export type ErasureRequest = z.input<typeof erasureRequestSchema>;

/** One stored version of an object (a folder has one per file and no version ids). */
export interface ObjectVersion {
  readonly key: string;
  /** Undefined in an unversioned store. */
  readonly versionId?: string;
  readonly isLatest: boolean;
  readonly isDeleteMarker: boolean;
}

/**
 * The lake as erasure needs it: every version of every object (S3 keeps an overwritten or deleted
 * object's earlier versions, which hold the same rows), a local copy DuckDB can read, and a way to
 * replace one object and delete its earlier versions. Specific to erasure: the pipeline's ObjectStore
 * never sees versions.
 */
export interface ErasureObjectStore {
  /** Every version and delete marker of every object under the prefix. */
  listVersions(bucket: string, prefix: string): Promise<ObjectVersion[]>;
  /** A local file holding that version, and what to call when done with it. */
  download(bucket: string, key: string, versionId?: string): Promise<{ path: string; release(): void }>;
  /** A path for a file about to be uploaded (in the same file system as the lake, locally). */
  scratchPath(bucket: string, name: string): string;
  /** Makes the file the object's current content (atomically); returns the new version's id. */
  upload(bucket: string, key: string, path: string): Promise<string | undefined>;
  deleteVersion(bucket: string, key: string, versionId: string): Promise<void>;
}

export interface ErasureDeps {
  readonly store: ErasureObjectStore;
  /** Bucket per zone (locally the zone folders). */
  readonly buckets: Readonly<Record<Zone, string>>;
  /** The run-control objects (published run, the erasure lock). */
  readonly control: ControlStore;
  /** DuckDB with the compatibility macros (lib/sql/compat.ts): it reads and rewrites the files. */
  readonly connection: DuckDBConnection;
  /** The sent-alerts table; without it no alert item is looked for. */
  readonly alerts?: { readonly client: DynamoDBClient; readonly tableName: string };
  readonly now?: () => Date;
}

/** An error the state machine matches by name, or that the command prints as it is. */
export class ErasureError extends Error {
  constructor(
    name: 'UnknownCustomer' | 'PipelineRunning' | 'ErasureInProgress' | 'InvalidErasure',
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}

/** What an erasure resolved: no personal value except in `sensitive`, which is never written anywhere. */
export interface ErasurePlan {
  readonly erasureId: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason?: string;
  /** The unified customer ids erased. */
  readonly customerIds: readonly string[];
  /** SHA-256 of the emails asked for (`--email`), so the log says what was asked without the address. */
  readonly requestedEmailSha256: readonly string[];
  /** The identity map the ids were resolved through, if a run was published. */
  readonly resolvedThrough?: { readonly runDate: string; readonly runId: string };
  readonly keys: ErasureKeys;
  /**
   * Emails and names of the customers, in memory only: the local command scrubs its outbox and run
   * summaries with them. Never logged, never stored.
   */
  readonly sensitive: { readonly emails: readonly string[]; readonly names: readonly string[] };
}

export interface TableErasure {
  /** `zone.table`. */
  readonly table: string;
  readonly rowsRemoved: number;
  /** Object versions read (files, locally). */
  readonly versionsRead: number;
  readonly filesRewritten: number;
  /** Earlier versions (and delete markers) deleted after a rewrite, or because they held rows. */
  readonly versionsDeleted: number;
}

/** One line of the erasure log: who, when, which ids, what was removed; never a personal value. */
export interface ErasureLogEntry {
  readonly erasure_id: string;
  readonly requested_by: string;
  readonly requested_at: string;
  readonly finished_at: string;
  readonly reason?: string;
  readonly customer_ids: readonly string[];
  readonly requested_email_sha256: readonly string[];
  readonly resolved_through?: { readonly runDate: string; readonly runId: string };
  readonly suppressed_keys: Readonly<Record<KeyType, number>>;
  readonly rows_removed: Readonly<Record<string, number>>;
  readonly files_rewritten: number;
  readonly versions_deleted: number;
  readonly alert_items_deleted: number;
  /** Local only: outbox lines and run summaries scrubbed. */
  readonly local?: Readonly<Record<string, number>>;
}

const idList = (ids: readonly string[]) => ids.map((id) => sqlString(id)).join(', ');

/** Keys of the Parquet files under a table's prefix, every version, skipping writers' scratch folders. */
async function tableVersions(table: TableSchema, deps: ErasureDeps): Promise<ObjectVersion[]> {
  const versions = await deps.store.listVersions(deps.buckets[table.zone], table.location);
  return versions.filter((v) => {
    const rest = v.key.slice(table.location.length);
    return v.key.endsWith('.parquet') && !rest.split('/').some((p) => p.startsWith('_') || p.startsWith('.'));
  });
}

/** Reads a query over the current version of every file of a table (nothing when it has none). */
async function readTable(
  table: TableSchema,
  deps: ErasureDeps,
  select: (source: string) => string,
  prefix = table.location,
): Promise<Record<string, unknown>[]> {
  const versions = (await tableVersions(table, deps)).filter(
    (v) => v.isLatest && !v.isDeleteMarker && v.key.startsWith(prefix),
  );
  if (versions.length === 0) return [];
  const copies = await Promise.all(
    versions.map((v) => deps.store.download(deps.buckets[table.zone], v.key, v.versionId)),
  );
  try {
    const source = `read_parquet([${copies.map((c) => sqlString(c.path)).join(', ')}], hive_partitioning = false, union_by_name = true)`;
    return (await deps.connection.runAndReadAll(select(source))).getRowObjectsJson() as Record<
      string,
      unknown
    >[];
  } finally {
    for (const copy of copies) copy.release();
  }
}

const partitionOf = (run: { runDate: string; runId: string }) =>
  `run_date=${run.runDate}/run_id=${run.runId}/`;

/**
 * Resolves the request to every source key of the customers, through the published identity map (the
 * run readers see), and checks it before anything changes: an id that the published identity map does
 * not know and raw does not hold either is an error that names it, and nothing is erased. An id only raw
 * holds (a MySQL customer extracted after the last publish, or known only from rejected rows) is erased
 * by its MySQL keys.
 */
export async function resolveErasure(request: ErasureRequest, deps: ErasureDeps): Promise<ErasurePlan> {
  const parsed = erasureRequestSchema.safeParse(request);
  if (!parsed.success)
    throw new ErasureError(
      'InvalidErasure',
      `Invalid erasure request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ')}`,
    );
  const { customerIds, emails, requestedBy, reason } = parsed.data;
  const now = deps.now?.() ?? new Date();
  const published: PublishedRun | undefined = await publishedRun(deps.control);
  const run = published && { runDate: published.runDate, runId: published.runId };
  const identityMap = tableNamed('stage', 'identity_map');
  const customers = tableNamed('stage', 'customers');

  const emailHashes = keySet(emails.map(emailSha256));
  const ids = new Set(customerIds.map((id) => String(BigInt(id))));
  if (emailHashes.length > 0) {
    if (!run)
      throw new ErasureError(
        'UnknownCustomer',
        'An email is resolved through the published identity map, and no run is published yet: erase by --customer id instead. Nothing was erased.',
      );
    const hashes = `(${idList(emailHashes)})`;
    const owners = [
      ...(await readTable(
        identityMap,
        deps,
        (source) =>
          `SELECT DISTINCT CAST(customer_id AS VARCHAR) AS id FROM ${source} WHERE source_key_type = 'email' AND lower(to_hex(sha256(to_utf8(lower(trim(CASE WHEN strpos(source_key, '#') > 0 THEN substr(source_key, strpos(source_key, '#') + 1) ELSE source_key END)))))) IN ${hashes}`,
        `${identityMap.location}${partitionOf(run)}`,
      )),
      ...(await readTable(
        customers,
        deps,
        (source) =>
          `SELECT DISTINCT CAST(customer_id AS VARCHAR) AS id FROM ${source} WHERE lower(to_hex(sha256(to_utf8(email_normalized)))) IN ${hashes}`,
        `${customers.location}${partitionOf(run)}`,
      )),
    ].map((r) => String(r.id));
    if (owners.length === 0)
      throw new ErasureError(
        'UnknownCustomer',
        `No customer has that email in the published identity map or customers (run ${run.runDate} ${run.runId}). Nothing was erased.`,
      );
    for (const id of owners) ids.add(id);
  }
  const wanted = [...ids].sort();

  const keys = emptyKeys();
  keys.email_sha256.push(...emailHashes);
  const known = new Set<string>();
  if (run) {
    const identities = await readTable(
      identityMap,
      deps,
      (source) =>
        `SELECT source, source_key_type, source_key, CAST(customer_id AS VARCHAR) AS customer_id FROM ${source} WHERE CAST(customer_id AS VARCHAR) IN (${idList(wanted)})`,
      `${identityMap.location}${partitionOf(run)}`,
    );
    for (const row of identities) {
      const key = String(row.source_key);
      known.add(String(row.customer_id));
      if (row.source === 'mysql') keys.mysql_customer_id.push(key);
      else if (row.source_key_type === 'email')
        keys.email_sha256.push(
          emailSha256(key.includes('#') && row.source === 'dynamodb' ? key.slice(key.indexOf('#') + 1) : key),
        );
      else if (row.source === 'dynamodb') keys.dynamodb_customer_key.push(key);
      else if (row.source === 'history') keys.legacy_id.push(key);
    }
  }
  // Raw holds what the published map may not know yet: MySQL customers and their orders by id.
  const positive = wanted.filter((id) => !id.startsWith('-'));
  const rawCustomers = tableNamed('raw', 'mysql_customers');
  const rawOrders = tableNamed('raw', 'mysql_orders');
  const profiles =
    positive.length === 0
      ? []
      : await readTable(
          rawCustomers,
          deps,
          (source) =>
            `SELECT DISTINCT CAST(customer_id AS VARCHAR) AS id, email, first_name, last_name FROM ${source} WHERE CAST(customer_id AS VARCHAR) IN (${idList(positive)})`,
        );
  const orders =
    positive.length === 0
      ? []
      : await readTable(
          rawOrders,
          deps,
          (source) =>
            `SELECT DISTINCT CAST(customer_id AS VARCHAR) AS id, CAST(order_id AS VARCHAR) AS order_id FROM ${source} WHERE CAST(customer_id AS VARCHAR) IN (${idList(positive)})`,
        );
  for (const row of [...profiles, ...orders]) known.add(String(row.id));
  const unknown = wanted.filter((id) => !known.has(id));
  if (unknown.length > 0)
    throw new ErasureError(
      'UnknownCustomer',
      `Unknown customer id ${unknown.join(', ')}: not in the published identity map (${run ? `run ${run.runDate} ${run.runId}` : 'no run is published yet'}) and no MySQL customer or order in raw has it. Nothing was erased.`,
    );
  for (const id of positive) {
    keys.mysql_customer_id.push(id);
    keys.dynamodb_customer_key.push(`customer#${id}`);
  }
  keys.mysql_order_id.push(...orders.map((r) => String(r.order_id)));
  keys.customer_id.push(...wanted);

  // Emails and names, only to scrub local text files: the published profile and every raw version.
  const sensitiveEmails = new Set(emails.map(normalizeEmail));
  const names = new Set<string>();
  for (const row of profiles) {
    if (typeof row.email === 'string' && row.email.trim()) sensitiveEmails.add(normalizeEmail(row.email));
    const full = [row.first_name, row.last_name].filter((v) => typeof v === 'string' && v.trim()).join(' ');
    if (full.includes(' ')) names.add(full);
  }
  if (run) {
    const profile = await readTable(
      customers,
      deps,
      (source) =>
        `SELECT email_normalized FROM ${source} WHERE CAST(customer_id AS VARCHAR) IN (${idList(wanted)}) AND email_normalized IS NOT NULL`,
      `${customers.location}${partitionOf(run)}`,
    );
    for (const row of profile) {
      sensitiveEmails.add(String(row.email_normalized));
      keys.email_sha256.push(emailSha256(String(row.email_normalized)));
    }
  }
  for (const email of sensitiveEmails) keys.email_sha256.push(emailSha256(email));

  const sorted = Object.fromEntries(KEY_TYPES.map((t) => [t, keySet(keys[t])])) as Record<KeyType, string[]>;
  return {
    erasureId: `erasure-${now.toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`,
    requestedBy,
    requestedAt: now.toISOString(),
    ...(reason ? { reason } : {}),
    customerIds: wanted,
    requestedEmailSha256: emailHashes,
    ...(run ? { resolvedThrough: run } : {}),
    keys: sorted,
    sensitive: { emails: [...sensitiveEmails].sort(), names: [...names].sort() },
  };
}

/** The suppression file of an erasure: `suppressed_keys/<erasure id>.parquet` in the stage bucket. */
export function suppressionKey(erasureId: string): string {
  return `${stageSuppressedKeys.location}${erasureId}.parquet`;
}

/**
 * Puts the keys on the suppression list first, before any file is rewritten: an erasure that stops half
 * way already keeps the customer out of the next run, and running it again finishes the rewrite.
 */
export async function writeSuppression(plan: ErasurePlan, deps: ErasureDeps): Promise<void> {
  const rows = KEY_TYPES.flatMap((type) => plan.keys[type].map((value) => [type, value]));
  const values = rows.map(([t, v]) => `(${sqlString(t ?? '')}, ${sqlString(v ?? '')})`).join(', ');
  const select =
    rows.length === 0
      ? `SELECT CAST(NULL AS VARCHAR) AS key_type, CAST(NULL AS VARCHAR) AS key_value, CAST(NULL AS VARCHAR) AS erasure_id, CAST(NULL AS TIMESTAMP) AS erased_at WHERE FALSE`
      : `SELECT key_type, key_value, ${sqlString(plan.erasureId)} AS erasure_id, CAST(${sqlString(plan.requestedAt.replace('T', ' ').replace('Z', ''))} AS TIMESTAMP) AS erased_at FROM (VALUES ${values}) AS k(key_type, key_value)`;
  const bucket = deps.buckets.stage;
  const path = deps.store.scratchPath(bucket, `${plan.erasureId}.parquet`);
  await deps.connection.run(`COPY (${select}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION snappy)`);
  await deps.store.upload(bucket, suppressionKey(plan.erasureId), path);
}

/** Loads an erasure's keys (from its suppression file) as the temporary table the predicates read. */
export async function loadErasureKeys(erasureId: string, deps: ErasureDeps): Promise<void> {
  const copy = await deps.store.download(deps.buckets.stage, suppressionKey(erasureId));
  try {
    await deps.connection.run(
      `CREATE OR REPLACE TEMP TABLE erase_keys AS SELECT key_type, key_value FROM read_parquet(${sqlString(copy.path)})`,
    );
  } finally {
    copy.release();
  }
}

/**
 * The local DynamoDB extraction's key listings (`raw/_state/dynamodb/<table>.keys/`: the key of every
 * item its last Scan saw, to land deleted items as removals). Not a catalog table, but they hold the
 * customer's keys. Dropping them from the listing is safe: the next Scan lands an item as removed only
 * when the listing has it, and staging already drops the customer's rows. The cloud reads exports and
 * keeps no listing.
 */
export const dynamodbKeyListings: TableSchema = {
  name: 'dynamodb_key_listings',
  zone: 'raw',
  location: '_state/dynamodb/',
  description: 'Keys of every item the last local Scan of a DynamoDB table saw.',
  columns: [
    { name: 'customer_key', type: 'string', description: 'Partition key.' },
    { name: 'event_key', type: 'string', description: 'Sort key.' },
  ],
  partitionKeys: [],
};

/** The tables an erasure goes through: every table that can hold a row of a customer. */
export function erasableTables(): TableSchema[] {
  return [...allTables, dynamodbKeyListings].filter((t) => erasurePredicate(t) !== undefined);
}

/** One of erasableTables() by its `zone.name`, as the state machine passes it. */
export function erasableTableNamed(zone: string, name: string): TableSchema {
  const table = erasableTables().find((t) => t.zone === zone && t.name === name);
  if (!table) throw new Error(`No erasable table ${zone}.${name}`);
  return table;
}

async function columnsOf(connection: DuckDBConnection, source: string): Promise<[string, string][]> {
  const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
  return described.getRowObjectsJson().map((r) => [String(r.column_name), String(r.column_type)]);
}

/**
 * Goes through every version of every file of one table: a version that holds rows of the customers is
 * rewritten without them (the current one: the rewritten file replaces it, with the same columns, types
 * and compression) and then deleted, with every earlier version and delete marker of that key. Files
 * without such rows are only read (the predicate's columns), never written. `erase_keys` must be loaded.
 * `after` and `deadline` let the state machine go through a large table in several invocations.
 */
export async function eraseTable(
  table: TableSchema,
  deps: ErasureDeps,
  options: { readonly after?: string; readonly deadline?: number } = {},
): Promise<TableErasure & { readonly next?: string }> {
  const bucket = deps.buckets[table.zone];
  const versions = await tableVersions(table, deps);
  const byKey = new Map<string, ObjectVersion[]>();
  for (const v of versions) byKey.set(v.key, [...(byKey.get(v.key) ?? []), v]);
  let rowsRemoved = 0;
  let versionsRead = 0;
  let filesRewritten = 0;
  let versionsDeleted = 0;
  for (const key of [...byKey.keys()].sort()) {
    if (options.after !== undefined && key <= options.after) continue;
    if (options.deadline !== undefined && Date.now() > options.deadline) {
      return {
        table: `${table.zone}.${table.name}`,
        rowsRemoved,
        versionsRead,
        filesRewritten,
        versionsDeleted,
        next: key,
      };
    }
    const all = byKey.get(key) ?? [];
    let touched = false;
    for (const version of all.filter((v) => !v.isDeleteMarker)) {
      versionsRead += 1;
      const copy = await deps.store.download(bucket, key, version.versionId);
      try {
        const source = `read_parquet(${sqlString(copy.path)}, hive_partitioning = false)`;
        const columns = await columnsOf(deps.connection, source);
        const predicate = erasurePredicate(table, new Set(columns.map(([name]) => name)));
        if (!predicate) continue;
        const counted = await deps.connection.runAndReadAll(
          `SELECT count(*) AS matching, (SELECT count(*) FROM ${source}) AS total FROM ${source} WHERE ${predicate}`,
        );
        const row = counted.getRowObjectsJson()[0] ?? {};
        const matching = Number(row.matching ?? 0);
        if (matching === 0) continue;
        touched = true;
        rowsRemoved += version.isLatest ? matching : 0;
        if (version.isLatest) {
          const codec = String(
            (
              await deps.connection.runAndReadAll(
                `SELECT compression FROM parquet_metadata(${sqlString(copy.path)}) LIMIT 1`,
              )
            ).getRowObjectsJson()[0]?.compression ?? 'SNAPPY',
          );
          const rewritten = deps.store.scratchPath(bucket, `${key.replaceAll('/', '_')}`);
          const written = await deps.connection.run(
            `COPY (SELECT * FROM ${source} WHERE NOT (${predicate})) TO ${sqlString(rewritten)} (FORMAT parquet, COMPRESSION ${codec === 'UNCOMPRESSED' ? 'uncompressed' : codec.toLowerCase()})`,
          );
          const kept = Number(written.rowsChanged);
          const after = await columnsOf(
            deps.connection,
            `read_parquet(${sqlString(rewritten)}, hive_partitioning = false)`,
          );
          if (JSON.stringify(after) !== JSON.stringify(columns) || kept !== Number(row.total) - matching)
            throw new Error(
              `Rewriting ${bucket}/${key} would change it beyond the erased rows (columns ${JSON.stringify(columns)} -> ${JSON.stringify(after)}, rows ${row.total} - ${matching} -> ${kept}); left as it was.`,
            );
          await deps.store.upload(bucket, key, rewritten);
          filesRewritten += 1;
        }
        if (version.versionId !== undefined) {
          await deps.store.deleteVersion(bucket, key, version.versionId);
          versionsDeleted += 1;
        }
      } finally {
        copy.release();
      }
    }
    if (touched) {
      // Delete markers carry no rows, but they stand for the deleted versions: none is left behind.
      for (const marker of all.filter((v) => v.isDeleteMarker && !v.isLatest && v.versionId !== undefined)) {
        await deps.store.deleteVersion(bucket, key, marker.versionId ?? '');
        versionsDeleted += 1;
      }
    }
  }
  return { table: `${table.zone}.${table.name}`, rowsRemoved, versionsRead, filesRewritten, versionsDeleted };
}

/** The alert kinds whose dedupe items are keyed by a customer id (lib/alerts/raise.ts). */
export const CUSTOMER_ALERT_KINDS = ['fraud', 'churn_risk'] as const;

/** Deletes the customers' sent-alert items (`fraud#<id>`, `churn_risk#<id>`); returns how many there were. */
export async function forgetAlerts(customerIds: readonly string[], deps: ErasureDeps): Promise<number> {
  if (!deps.alerts) return 0;
  let deleted = 0;
  for (const id of customerIds) {
    for (const kind of CUSTOMER_ALERT_KINDS) {
      const result = await deps.alerts.client.send(
        new DeleteItemCommand({
          TableName: deps.alerts.tableName,
          Key: { alert_key: { S: alertKey(kind, id) } },
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (result.Attributes) deleted += 1;
    }
  }
  return deleted;
}

export function logEntry(
  plan: ErasurePlan,
  tables: readonly TableErasure[],
  alertItemsDeleted: number,
  finishedAt: Date,
  local?: Readonly<Record<string, number>>,
): ErasureLogEntry {
  return {
    erasure_id: plan.erasureId,
    requested_by: plan.requestedBy,
    requested_at: plan.requestedAt,
    finished_at: finishedAt.toISOString(),
    ...(plan.reason ? { reason: plan.reason } : {}),
    customer_ids: plan.customerIds,
    requested_email_sha256: plan.requestedEmailSha256,
    ...(plan.resolvedThrough ? { resolved_through: plan.resolvedThrough } : {}),
    suppressed_keys: Object.fromEntries(KEY_TYPES.map((t) => [t, plan.keys[t].length])) as Record<
      KeyType,
      number
    >,
    rows_removed: Object.fromEntries(
      tables.filter((t) => t.rowsRemoved > 0).map((t) => [t.table, t.rowsRemoved]),
    ),
    files_rewritten: tables.reduce((sum, t) => sum + t.filesRewritten, 0),
    versions_deleted: tables.reduce((sum, t) => sum + t.versionsDeleted, 0),
    alert_items_deleted: alertItemsDeleted,
    ...(local ? { local } : {}),
  };
}

// ---------------------------------------------------------------- the lock

/** A lock older than this is stale: an erasure that was stopped without releasing it. */
export const ERASURE_LOCK_HOURS = 6;

type ErasureLock = { readonly erasureId: string; readonly startedAt: string; readonly expiresAt: string };

/**
 * Takes the erasure lock, then checks that no pipeline execution is running; if one is, lets the lock go
 * and fails with `PipelineRunning` (the state machine retries). Lock first, check second: a run that
 * begins between the two sees the lock at its Begin run and stops (or waits), and a run that began before
 * is seen running here, so the two never both go on.
 */
export async function takeErasureLock(
  erasureId: string,
  deps: { readonly control: ControlStore; readonly pipelines: Executions; readonly now?: () => Date },
): Promise<void> {
  const now = deps.now?.() ?? new Date();
  const found = await deps.control.read(ERASURE_LOCK_KEY);
  if (found) {
    const held = JSON.parse(found.body) as ErasureLock;
    if (held.erasureId !== erasureId && held.expiresAt > now.toISOString())
      throw new ErasureError(
        'ErasureInProgress',
        `Erasure ${held.erasureId} (started ${held.startedAt}) holds the erasure lock until it ends (at the latest ${held.expiresAt}).`,
      );
  }
  const lock: ErasureLock = {
    erasureId,
    startedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ERASURE_LOCK_HOURS * 3_600_000).toISOString(),
  };
  if (!(await deps.control.write(ERASURE_LOCK_KEY, JSON.stringify(lock), found?.etag)))
    throw new ErasureError('ErasureInProgress', 'Another erasure took the erasure lock at the same moment.');
  const running = await deps.pipelines.listRunning();
  if (running.length > 0) {
    await releaseErasureLock(erasureId, deps.control);
    throw new ErasureError(
      'PipelineRunning',
      `A pipeline execution is running (${running.map((r) => r.executionId).join(', ')}); erasure waits for it: it rewrites files a run reads and writes.`,
    );
  }
}

export async function releaseErasureLock(erasureId: string, control: ControlStore): Promise<void> {
  const found = await control.read(ERASURE_LOCK_KEY);
  if (found && (JSON.parse(found.body) as ErasureLock).erasureId === erasureId)
    await control.delete(ERASURE_LOCK_KEY);
}

// ---------------------------------------------------------------- all of it

export interface ErasureResult {
  readonly plan: ErasurePlan;
  readonly tables: readonly TableErasure[];
  readonly alertItemsDeleted: number;
}

/**
 * The whole erasure in one call (the local command): resolve, suppress, rewrite every table, forget the
 * alerts. The caller holds the lock (locally the workspace lock) and writes the log.
 */
export async function eraseCustomers(request: ErasureRequest, deps: ErasureDeps): Promise<ErasureResult> {
  const plan = await resolveErasure(request, deps);
  await writeSuppression(plan, deps);
  await loadErasureKeys(plan.erasureId, deps);
  const tables: TableErasure[] = [];
  for (const table of erasableTables()) tables.push(await eraseTable(table, deps));
  const alertItemsDeleted = await forgetAlerts(plan.customerIds, deps);
  return { plan, tables, alertItemsDeleted };
}
