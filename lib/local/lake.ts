import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbConformingSelect, sqlString } from '../schema/derive.js';
import type { TableSchema } from '../schema/types.js';

/**
 * The local data lake mirrors S3: `<root>/<zone>/<table location><key>=<value>/part-0.parquet`, where
 * the zone folder stands for the zone's bucket. Paths here are exactly the object keys in the cloud.
 */
export type PartitionValues = Readonly<Record<string, string>>;

export function partitionPath(root: string, table: TableSchema, partition: PartitionValues): string {
  const parts = table.partitionKeys.map((key) => {
    const value = partition[key.name];
    if (value === undefined) throw new Error(`Partition value for ${table.name}.${key.name} is missing`);
    if (key.type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
      throw new Error(`Partition ${table.name}.${key.name} must be yyyy-MM-dd, got "${value}"`);
    }
    return `${key.name}=${value}`;
  });
  return join(root, table.zone, table.location, ...parts);
}

/** Glob over every partition of a table, for `read_parquet(..., hive_partitioning = true)`. */
export function tableGlob(root: string, table: TableSchema): string {
  return join(root, table.zone, table.location, ...table.partitionKeys.map(() => '*'), '*.parquet');
}

/**
 * Materializes a query as one partition of a table, with the table's declared columns and types.
 * Writes to a temporary folder and swaps it in, so a rerun replaces the partition whole and a failed
 * write leaves the previous one intact. Returns the number of rows written.
 */
export async function writePartition(
  connection: DuckDBConnection,
  root: string,
  table: TableSchema,
  partition: PartitionValues,
  query: string,
): Promise<number> {
  const target = partitionPath(root, table, partition);
  const staging = `${target}.writing-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const file = join(staging, 'part-0.parquet');
  const result = await connection.run(
    `COPY (${duckdbConformingSelect(table, query)}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION snappy)`,
  );
  const rows = Number(result.rowsChanged);
  mkdirSync(dirname(target), { recursive: true });
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  return rows;
}
