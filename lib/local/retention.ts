import { readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Customer360Config } from '../config/schema.js';
import type { RetentionLake } from '../retention/retention.js';
import { rawTables, stageRejects } from '../schema/tables.js';
import type { TableSchema } from '../schema/types.js';
import { folderLakeStore } from './athena.js';

/** The lake folder as retention's object store: a bucket is `<lake>/<bucket>`. */
export function folderRetentionLake(lakeRoot: string): RetentionLake {
  return {
    async listFolders(bucket, prefix) {
      try {
        return readdirSync(join(lakeRoot, bucket, prefix), { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => `${e.name}/`)
          .sort();
      } catch {
        return [];
      }
    },
    deletePrefix: folderLakeStore(lakeRoot).deletePrefix,
  };
}

export interface LifecycleExpiry {
  /** Raw files deleted (older than `rawDays`). */
  readonly raw: number;
  /** Rejects files deleted (older than `rejectsDays`). */
  readonly rejects: number;
  /** The tables that lost files: the local catalog must list them again. */
  readonly tables: readonly TableSchema[];
}

/**
 * What the S3 lifecycle rules of `DataLakeStorage` do in the cloud, done on the lake folder: raw table
 * files older than `rawDays` and `stage.rejects` files older than `rejectsDays` are deleted. Age is the
 * file's modification time, as S3 counts an object's age from its creation: a raw file is written once,
 * on the day it landed. (In S3 the deleted objects then linger as noncurrent versions for
 * noncurrentVersionExpirationDays; a folder has no versions.)
 */
export function expireLikeLifecycle(
  lakeRoot: string,
  retention: Customer360Config['storage']['retention'],
  now: Date,
): LifecycleExpiry {
  const expire = (tables: readonly TableSchema[], days: number | null) => {
    if (days === null) return { count: 0, touched: [] as TableSchema[] };
    const cutoff = now.getTime() - days * 86_400_000;
    let count = 0;
    const touched: TableSchema[] = [];
    for (const table of tables) {
      const removed = removeOlderThan(join(lakeRoot, table.zone, table.location), cutoff);
      if (removed > 0) touched.push(table);
      count += removed;
    }
    return { count, touched };
  };
  const raw = expire(rawTables, retention.rawDays);
  const rejects = expire([stageRejects], retention.rejectsDays);
  return { raw: raw.count, rejects: rejects.count, tables: [...raw.touched, ...rejects.touched] };
}

/** Deletes files modified before `cutoff` under `dir`, then the folders that left empty. */
function removeOlderThan(dir: string, cutoff: number): number {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let removed = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      // Writers' scratch space is not part of a table.
      if (entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
      removed += removeOlderThan(path, cutoff);
      if (readdirSync(path).length === 0) rmdirSync(path);
    } else if (entry.isFile() && statSync(path).mtimeMs < cutoff) {
      rmSync(path, { force: true });
      removed += 1;
    }
  }
  return removed;
}
