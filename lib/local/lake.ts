import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbConformingSelect, sqlString } from '../schema/derive.js';
import type { TableSchema, Zone } from '../schema/types.js';

/**
 * The local data lake mirrors S3: `<root>/<zone>/<table location><key>=<value>/part-0.parquet`, where
 * the zone folder stands for the zone's bucket. Paths here are exactly the object keys in the cloud.
 */
export type PartitionValues = Readonly<Record<string, string>>;

const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

export function partitionPath(root: string, table: TableSchema, partition: PartitionValues): string {
  const parts = table.partitionKeys.map((key) => {
    const value = partition[key.name];
    if (value === undefined) throw new Error(`Partition value for ${table.name}.${key.name} is missing`);
    if (key.type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
      throw new Error(`Partition ${table.name}.${key.name} must be yyyy-MM-dd, got "${value}"`);
    }
    if (key.type === 'string' && !RUN_ID.test(value)) {
      throw new Error(
        `Partition ${table.name}.${key.name} must be 1-80 letters, digits, - or _, got "${value}"`,
      );
    }
    return `${key.name}=${value}`;
  });
  return join(root, table.zone, table.location, ...parts);
}

/** Glob over every partition of a table, for `read_parquet(..., hive_partitioning = true)`. */
export function tableGlob(root: string, table: TableSchema): string {
  if (table.partitionKeys.length === 0) return join(root, table.zone, table.location, '**', '*.parquet');
  return join(root, table.zone, table.location, ...table.partitionKeys.map(() => '*'), '*.parquet');
}

/**
 * A scratch folder for one write, inside the zone (so the final rename stays on one file system) but
 * outside every table: a write killed half-way leaves its debris where no reader looks.
 */
export function scratchDir(root: string, zone: Zone): string {
  const dir = join(root, zone, '_tmp', `write-${process.pid}-${randomUUID().slice(0, 8)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Moves a finished folder into place as `target`, replacing what was there. Each rename is atomic, so
 * a reader (or a process killed at any instant) sees the old folder or the new one, never a half file.
 */
export function swapInto(finished: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  const retired = `${finished}.retired`;
  let hadOld = false;
  try {
    renameSync(target, retired);
    hadOld = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  renameSync(finished, target);
  if (hadOld) rmSync(retired, { recursive: true, force: true });
}

/**
 * Materializes a query as one partition of a table, with the table's declared columns and types.
 * Writes in a scratch folder and swaps it in, so a rerun replaces the partition whole and a failed or
 * killed write leaves the previous one intact. Returns the number of rows written.
 */
export async function writePartition(
  connection: DuckDBConnection,
  root: string,
  table: TableSchema,
  partition: PartitionValues,
  query: string,
): Promise<number> {
  const target = partitionPath(root, table, partition);
  const scratch = scratchDir(root, table.zone);
  try {
    const result = await connection.run(
      `COPY (${duckdbConformingSelect(table, query)}) TO ${sqlString(join(scratch, 'part-0.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
    );
    const rows = Number(result.rowsChanged);
    swapInto(scratch, target);
    return rows;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Whether a file is a whole Parquet file: long enough, `PAR1` at both ends. */
export function isWholeParquetFile(path: string): boolean {
  let fd: number | undefined;
  try {
    const size = statSync(path).size;
    if (size < 12) return false;
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4);
    const tail = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    readSync(fd, tail, 0, 4, size - 4);
    return head.toString('latin1') === 'PAR1' && tail.toString('latin1') === 'PAR1';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The Parquet files of a table, and the ones skipped because they are not whole (a copy interrupted
 * by a crash in an older version, a file dropped in by hand): a stray file must not stop every query.
 * Folders starting with `_` or `.` are the writers' scratch space and are never part of a table.
 */
export function tableFiles(root: string, table: TableSchema): { files: string[]; skipped: string[] } {
  const files: string[] = [];
  const skipped: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, depth + 1);
      else if (entry.isFile() && entry.name.endsWith('.parquet')) {
        // A partitioned table keeps its files exactly one folder per partition key deep.
        const atDepth = table.partitionKeys.length === 0 || depth === table.partitionKeys.length;
        if (atDepth && isWholeParquetFile(path)) files.push(path);
        else skipped.push(path);
      }
    }
  };
  walk(join(root, table.zone, table.location), 0);
  return { files: files.sort(), skipped: skipped.sort() };
}
