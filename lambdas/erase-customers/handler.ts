import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import {
  type ErasureDeps,
  ErasureError,
  type ErasureLogEntry,
  type ErasureObjectStore,
  type ErasurePlan,
  erasableTableNamed,
  erasableTables,
  eraseTable,
  erasureRequestSchema,
  forgetAlerts,
  loadErasureKeys,
  logEntry,
  releaseErasureLock,
  resolveErasure,
  type TableErasure,
  takeErasureLock,
  writeSuppression,
} from '../../lib/erase/core.js';
import { emptyKeys, KEY_TYPES, type KeyType } from '../../lib/erase/keys.js';
import type { ControlStore, Executions } from '../../lib/pipeline/run-control.js';
import type { Zone } from '../../lib/schema/types.js';

/**
 * The lake in S3 as erasure sees it: every version of every object (the buckets are versioned, so an
 * overwritten or deleted object's rows live on in its earlier versions), a copy in the function's /tmp for
 * DuckDB, a PUT that makes a new current version, and a delete by version id that really deletes (a plain
 * DELETE would only add a delete marker). The bucket's default KMS key encrypts what is put.
 */
export function s3ErasureStore(s3: S3Client, tmpRoot: string): ErasureObjectStore {
  let sequence = 0;
  const fresh = (name: string) => {
    sequence += 1;
    const dir = join(tmpRoot, `${process.pid}-${sequence}`);
    mkdirSync(dir, { recursive: true });
    return join(dir, name.replaceAll('/', '_'));
  };
  return {
    async listVersions(bucket, prefix) {
      const found: { key: string; versionId?: string; isLatest: boolean; isDeleteMarker: boolean }[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        );
        for (const v of page.Versions ?? [])
          if (v.Key)
            found.push({
              key: v.Key,
              versionId: v.VersionId,
              isLatest: v.IsLatest === true,
              isDeleteMarker: false,
            });
        for (const m of page.DeleteMarkers ?? [])
          if (m.Key)
            found.push({
              key: m.Key,
              versionId: m.VersionId,
              isLatest: m.IsLatest === true,
              isDeleteMarker: true,
            });
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker);
      return found;
    },
    async download(bucket, key, versionId) {
      const path = fresh(key);
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      if (!object.Body) throw new Error(`s3://${bucket}/${key} has no body`);
      await pipeline(object.Body as Readable, createWriteStream(path));
      return { path, release: () => rmSync(join(path, '..'), { recursive: true, force: true }) };
    },
    scratchPath(_bucket, name) {
      return fresh(name);
    },
    async upload(bucket, key, path) {
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(path) }));
      rmSync(join(path, '..'), { recursive: true, force: true });
      return put.VersionId;
    },
    async deleteVersion(bucket, key, versionId) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    },
  };
}

/** The pipeline's running executions (only whether any runs matters to the erasure lock). */
export function runningPipelines(sfn: SFNClient, stateMachineArn: string): Executions {
  return {
    async listRunning() {
      const running: { executionId: string; startTime: string; input: unknown }[] = [];
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(
          new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken }),
        );
        for (const e of page.executions ?? [])
          if (e.executionArn)
            running.push({
              executionId: e.executionArn,
              startTime: (e.startDate ?? new Date(0)).toISOString(),
              input: {},
            });
        nextToken = page.nextToken;
      } while (nextToken);
      return running;
    },
    async isRunning(executionId) {
      return (await this.listRunning()).some((e) => e.executionId === executionId);
    },
  };
}

const erasureIdSchema = z.string().regex(/^erasure-[A-Za-z0-9-]{1,100}$/, 'expected an erasure id');

/** The state machine's input, as an operator starts it: never an email (the execution history keeps it). */
export const stateMachineInputSchema = z.strictObject({
  customerIds: z.array(z.string()).min(1, 'expected at least one customer id'),
  requestedBy: z.string().optional(),
  reason: z.string().optional(),
});

export const eraseCustomersInputSchema = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('begin'),
    input: z.unknown(),
    executionName: z.string().min(1),
  }),
  z.strictObject({
    action: z.literal('erase_table'),
    erasureId: erasureIdSchema,
    table: z.string().regex(/^(raw|stage|analytics)\.[a-z0-9_]+$/),
    after: z.string().nullable().optional(),
  }),
  z.strictObject({
    action: z.literal('finish'),
    erasureId: erasureIdSchema,
    customerIds: z.array(z.string()),
    requestedBy: z.string(),
    requestedAt: z.string(),
    reason: z.string().nullable().optional(),
  }),
  z.strictObject({ action: z.literal('abort'), erasureId: erasureIdSchema }),
]);
export type EraseCustomersInput = z.infer<typeof eraseCustomersInputSchema>;

export interface EraseCustomersDeps extends ErasureDeps {
  readonly pipelines: Executions;
  /** Where erasure logs and per-table results are kept: the raw bucket's `_control/` (not a table). */
  readonly logStore: ControlStore;
  /** The time one invocation may spend on a table before it hands the rest to the next. */
  readonly budgetMs: number;
}

const LOG_PREFIX = '_control/erasure-log/';
const resultsPrefix = (erasureId: string) => `_control/erasures/${erasureId}/`;

/**
 * One step of the erase-customers state machine, over the core in lib/erase/core.ts:
 * - `begin`: validates the input, takes the erasure lock (fails `PipelineRunning` while a run runs; the
 *   state machine retries), resolves the ids, writes the suppression list, and returns the tables to go
 *   through. An unknown id fails it (`UnknownCustomer`) before anything changes.
 * - `erase_table`: goes through one table's objects until its time budget is spent; returns `next` when
 *   it must be called again.
 * - `finish`: forgets the sent alerts, writes the erasure log entry, releases the lock.
 * - `abort`: releases the lock after a failure.
 */
export async function eraseCustomersStep(
  input: EraseCustomersInput,
  deps: EraseCustomersDeps,
): Promise<unknown> {
  switch (input.action) {
    case 'begin': {
      const given = stateMachineInputSchema.safeParse(input.input);
      if (!given.success)
        throw new ErasureError(
          'InvalidErasure',
          `Invalid input ${JSON.stringify(input.input)}: ${given.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}. Expected {"customerIds": ["123"], "requestedBy": "who", "reason": "why"}.`,
        );
      const request = {
        customerIds: given.data.customerIds,
        // Step Functions does not pass the caller to a task; CloudTrail's StartExecution event names it.
        requestedBy:
          given.data.requestedBy ??
          `the principal that started ${input.executionName} (CloudTrail: StartExecution)`,
        ...(given.data.reason ? { reason: given.data.reason } : {}),
      };
      erasureRequestSchema.parse(request);
      const plan = await resolveErasure(request, deps);
      await takeErasureLock(plan.erasureId, {
        control: deps.control,
        pipelines: deps.pipelines,
        now: deps.now,
      });
      try {
        await writeSuppression(plan, deps);
      } catch (error) {
        await releaseErasureLock(plan.erasureId, deps.control);
        throw error;
      }
      return {
        erasureId: plan.erasureId,
        customerIds: plan.customerIds,
        requestedBy: plan.requestedBy,
        requestedAt: plan.requestedAt,
        reason: plan.reason ?? null,
        tables: erasableTables().map((t) => `${t.zone}.${t.name}`),
      };
    }
    case 'erase_table': {
      const [zone, name] = input.table.split('.') as [Zone, string];
      await loadErasureKeys(input.erasureId, deps);
      const result = await eraseTable(erasableTableNamed(zone, name), deps, {
        ...(input.after ? { after: input.after } : {}),
        deadline: Date.now() + deps.budgetMs,
      });
      const key = `${resultsPrefix(input.erasureId)}${input.table}/${(input.after ?? '').replaceAll('/', '|') || 'first'}.json`;
      await deps.logStore.write(key, JSON.stringify(result), (await deps.logStore.read(key))?.etag);
      return { done: result.next === undefined, after: result.next ?? null };
    }
    case 'finish': {
      await loadErasureKeys(input.erasureId, deps);
      const counted = await deps.connection.runAndReadAll(
        'SELECT key_type, count(*) AS n FROM erase_keys GROUP BY key_type',
      );
      const keys = emptyKeys();
      for (const row of counted.getRowObjectsJson())
        if (KEY_TYPES.includes(row.key_type as KeyType))
          keys[row.key_type as KeyType] = Array.from({ length: Number(row.n) }, (_, i) => String(i));
      const totals = new Map<string, TableErasure>();
      for (const key of await deps.logStore.list(resultsPrefix(input.erasureId))) {
        const part = JSON.parse((await deps.logStore.read(key))?.body ?? '{}') as TableErasure;
        const sum = totals.get(part.table);
        totals.set(part.table, {
          table: part.table,
          rowsRemoved: (sum?.rowsRemoved ?? 0) + part.rowsRemoved,
          versionsRead: (sum?.versionsRead ?? 0) + part.versionsRead,
          filesRewritten: (sum?.filesRewritten ?? 0) + part.filesRewritten,
          versionsDeleted: (sum?.versionsDeleted ?? 0) + part.versionsDeleted,
        });
      }
      const plan: ErasurePlan = {
        erasureId: input.erasureId,
        requestedBy: input.requestedBy,
        requestedAt: input.requestedAt,
        ...(input.reason ? { reason: input.reason } : {}),
        customerIds: input.customerIds,
        requestedEmailSha256: [],
        keys,
        sensitive: { emails: [], names: [] },
      };
      const alertItems = await forgetAlerts(input.customerIds, deps);
      const entry: ErasureLogEntry = logEntry(
        plan,
        [...totals.values()],
        alertItems,
        deps.now?.() ?? new Date(),
      );
      // One object per erasure, never overwritten: the log is append-only.
      if (
        !(await deps.logStore.write(`${LOG_PREFIX}${input.erasureId}.json`, JSON.stringify(entry), undefined))
      )
        throw new Error(`The erasure log already has ${input.erasureId}`);
      for (const key of await deps.logStore.list(resultsPrefix(input.erasureId)))
        await deps.logStore.delete(key);
      await releaseErasureLock(input.erasureId, deps.control);
      return entry;
    }
    case 'abort':
      await releaseErasureLock(input.erasureId, deps.control);
      return { released: input.erasureId };
  }
}

/** The Lambda's environment, checked once at start-up. */
export const environmentSchema = z.object({
  BUCKETS: z
    .string()
    .transform((text) =>
      z.strictObject({ raw: z.string(), stage: z.string(), analytics: z.string() }).parse(JSON.parse(text)),
    ),
  PIPELINE_STATE_MACHINE_ARN: z.string().startsWith('arn:'),
  ALERTS_TABLE: z.string().min(1),
});

export function scratchRoot(): string {
  return mkdtempSync('/tmp/erase-');
}
