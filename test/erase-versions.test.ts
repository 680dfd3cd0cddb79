import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ErasureDeps,
  type ErasureObjectStore,
  eraseTable,
  type ObjectVersion,
} from '../lib/erase/core.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { prepareEngine } from '../lib/local/sql-runner.js';
import { stageOrders } from '../lib/schema/tables.js';

/*
 * Erasure in a versioned bucket, as S3 keeps one: every version of an object holds rows, so a rewrite of
 * the current version is not enough. A store that keeps versions in memory (files on disk) stands in for
 * S3; the files are real Parquet and the rewrite is DuckDB's.
 */
interface Stored {
  readonly versionId: string;
  readonly path?: string;
  readonly deleteMarker: boolean;
}

class VersionedStore implements ErasureObjectStore {
  readonly objects = new Map<string, Stored[]>();
  readonly deleted: string[] = [];
  private next = 0;
  constructor(private readonly dir: string) {}

  add(key: string, path: string | undefined): string {
    const versionId = `v${++this.next}`;
    const kept = path && join(this.dir, versionId);
    if (path && kept) copyFileSync(path, kept);
    this.objects.set(key, [...(this.objects.get(key) ?? []), { versionId, path: kept, deleteMarker: !path }]);
    return versionId;
  }

  async listVersions(_bucket: string, prefix: string): Promise<ObjectVersion[]> {
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .flatMap(([key, versions]) =>
        versions.map((v, i) => ({
          key,
          versionId: v.versionId,
          isLatest: i === versions.length - 1,
          isDeleteMarker: v.deleteMarker,
        })),
      );
  }

  async download(_bucket: string, key: string, versionId?: string) {
    const found = this.objects.get(key)?.find((v) => v.versionId === versionId);
    if (!found?.path) throw new Error(`no ${key} ${versionId}`);
    return { path: found.path, release: () => undefined };
  }

  scratchPath(_bucket: string, name: string): string {
    return join(this.dir, `scratch-${++this.next}-${name}`);
  }

  async upload(_bucket: string, key: string, path: string) {
    return this.add(key, path);
  }

  async deleteVersion(_bucket: string, key: string, versionId: string) {
    this.deleted.push(`${key}@${versionId}`);
    this.objects.set(
      key,
      (this.objects.get(key) ?? []).filter((v) => v.versionId !== versionId),
    );
  }
}

describe('erasing every version of an object', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  const dir = mkdtempSync(join(tmpdir(), 'c360-erase-versions-'));
  const store = new VersionedStore(dir);
  const key = (run: string) => `${stageOrders.location}run_date=2025-06-30/run_id=${run}/part-0.parquet`;

  const orders = async (name: string, customers: readonly number[]) => {
    const path = join(dir, `${name}.parquet`);
    const values = customers
      .map((c, i) => `('m-${name}-${i}', ${c}, TIMESTAMP '2025-06-01 10:00:00')`)
      .join(', ');
    await connection.run(
      `COPY (SELECT order_id, CAST(customer_id AS BIGINT) AS customer_id, ordered_at FROM (VALUES ${values}) AS t(order_id, customer_id, ordered_at)) TO '${path}' (FORMAT parquet, COMPRESSION zstd)`,
    );
    return path;
  };
  const customersIn = async (path: string) =>
    (await connection.runAndReadAll(`SELECT customer_id FROM read_parquet('${path}') ORDER BY ALL`))
      .getRowObjectsJson()
      .map((r) => Number(r.customer_id));

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    ({ instance, connection } = await openLocalEngine({
      tempDirectory: join(dir, 'tmp'),
      memoryLimit: '512MB',
    }));
    await prepareEngine(connection);
    await connection.run(
      "CREATE TEMP TABLE erase_keys AS SELECT * FROM (VALUES ('customer_id', '7')) AS k(key_type, key_value)",
    );
    // run-a: an earlier version with customer 7, the current one with 7 and 8, a delete marker between.
    store.add(key('a'), await orders('a1', [7, 9]));
    store.add(key('a'), undefined);
    store.add(key('a'), await orders('a2', [7, 8]));
    // run-b: deleted (a delete marker is current); its only version holds customer 7.
    store.add(key('b'), await orders('b1', [7]));
    store.add(key('b'), undefined);
    // run-c: never held customer 7.
    store.add(key('c'), await orders('c1', [8, 9]));
  });

  afterAll(() => {
    connection?.closeSync();
    instance?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rewrites the current version, deletes every version and delete marker that held the rows, and leaves other objects alone', async () => {
    const deps = {
      store,
      buckets: { raw: 'raw', stage: 'stage', analytics: 'analytics' },
      connection,
    } as unknown as ErasureDeps;
    const result = await eraseTable(stageOrders, deps);

    // By hand: the current version of run-a loses one row (rewritten, then v3 deleted); v1 of run-a and v4
    // of run-b are deleted as they are (they are not current: nothing to rewrite); run-a's delete marker
    // v2 goes with them; run-b's current delete marker stays (it holds nothing and says the object is gone).
    expect(result).toMatchObject({ rowsRemoved: 1, filesRewritten: 1, versionsRead: 4 });
    expect(store.deleted.sort()).toEqual(
      [`${key('a')}@v1`, `${key('a')}@v2`, `${key('a')}@v3`, `${key('b')}@v4`].sort(),
    );
    expect(result.versionsDeleted).toBe(4);
    const a = store.objects.get(key('a')) ?? [];
    expect(a).toHaveLength(1);
    expect(await customersIn(a[0]?.path ?? '')).toEqual([8]);
    // Same compression as the file it replaced.
    const [codec] = (
      await connection.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${a[0]?.path}')`)
    ).getRowObjectsJson();
    expect(codec?.compression).toBe('ZSTD');
    expect(store.objects.get(key('b'))?.map((v) => v.deleteMarker)).toEqual([true]);
    expect(store.objects.get(key('c'))).toHaveLength(1);
  });

  it('stops at its deadline and says where to go on', async () => {
    const deps = {
      store,
      buckets: { raw: 'raw', stage: 'stage', analytics: 'analytics' },
      connection,
    } as unknown as ErasureDeps;
    const result = await eraseTable(stageOrders, deps, { deadline: Date.now() - 1 });
    expect(result.next).toBe(key('a'));
    const rest = await eraseTable(stageOrders, deps, { after: key('b') });
    expect(rest.next).toBeUndefined();
    expect(rest).toMatchObject({ versionsRead: 1, rowsRemoved: 0 });
  });
});
