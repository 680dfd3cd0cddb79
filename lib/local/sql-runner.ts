import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbType } from '../schema/derive.js';
import { allTables } from '../schema/tables.js';
import type { TableSchema } from '../schema/types.js';
import { DUCKDB_COMPAT_MACROS } from '../sql/compat.js';
import { compileModel, type ParameterValue, renderParameters, type SqlModel } from '../sql/models.js';
import { tableGlob, writePartition } from './lake.js';

/** Installs the Athena-name macros and the `raw`, `stage`, `analytics` schemas. */
export async function prepareEngine(connection: DuckDBConnection): Promise<void> {
  for (const macro of DUCKDB_COMPAT_MACROS) await connection.run(macro.sql);
  for (const zone of ['raw', 'stage', 'analytics'])
    await connection.run(`CREATE SCHEMA IF NOT EXISTS ${zone}`);
}

function hasFiles(dir: string): boolean {
  if (!existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
    if (entry.isFile() && entry.name.endsWith('.parquet')) return true;
    if (entry.isDirectory() && hasFiles(join(dir, entry.name))) return true;
  }
  return false;
}

/**
 * Makes one lake table queryable as `<zone>.<table>`, as the Glue catalog does on Athena: a view over
 * its Parquet files with the partition keys as typed columns, or an empty table of the declared
 * shape while no partition exists yet (Athena returns no rows; a missing glob would be an error).
 */
export async function registerTable(
  connection: DuckDBConnection,
  lakeRoot: string,
  table: TableSchema,
): Promise<void> {
  const name = `${table.zone}.${table.name}`;
  const existing = await connection.runAndReadAll(
    `SELECT table_type FROM information_schema.tables WHERE table_schema = '${table.zone}' AND table_name = '${table.name}'`,
  );
  const type = existing.getRowObjectsJson()[0]?.table_type;
  if (type === 'VIEW') await connection.run(`DROP VIEW ${name}`);
  else if (type !== undefined) await connection.run(`DROP TABLE ${name}`);
  const columns = [...table.columns, ...table.partitionKeys];
  if (hasFiles(join(lakeRoot, table.zone, table.location))) {
    const casts = columns.map((c) => `CAST("${c.name}" AS ${duckdbType(c.type)}) AS "${c.name}"`).join(', ');
    await connection.run(
      `CREATE VIEW ${name} AS SELECT ${casts} FROM read_parquet('${tableGlob(lakeRoot, table)}', hive_partitioning = true, union_by_name = true)`,
    );
  } else {
    const ddl = columns.map((c) => `"${c.name}" ${duckdbType(c.type)}`).join(', ');
    await connection.run(`CREATE TABLE ${name} (${ddl})`);
  }
}

export async function registerLake(
  connection: DuckDBConnection,
  lakeRoot: string,
  tables: readonly TableSchema[] = allTables,
): Promise<void> {
  for (const table of tables) await registerTable(connection, lakeRoot, table);
}

/** Compiles and renders a model for DuckDB. */
export function renderModel(
  model: SqlModel,
  models: ReadonlyMap<string, SqlModel>,
  parameters: Readonly<Record<string, ParameterValue>>,
): string {
  return renderParameters(compileModel(model, models), parameters);
}

/**
 * Runs a table model for a run date: writes its `run_date=` partition (replacing a previous one) and
 * re-registers the table so later models read the new partition. Returns the rows written.
 */
export async function runModel(
  connection: DuckDBConnection,
  lakeRoot: string,
  model: SqlModel,
  models: ReadonlyMap<string, SqlModel>,
  parameters: Readonly<Record<string, ParameterValue>>,
): Promise<number> {
  const target = model.target;
  if (model.kind !== 'table' || !target) throw new Error(`SQL model ${model.name} is not materialized`);
  const runDate = parameters.run_date;
  if (typeof runDate !== 'object' || Array.isArray(runDate) || !('date' in runDate)) {
    throw new Error('SQL parameter run_date must be a date');
  }
  const sql = renderModel(model, models, parameters);
  try {
    const rows = await writePartition(connection, lakeRoot, target, { run_date: runDate.date }, sql);
    await registerTable(connection, lakeRoot, target);
    return rows;
  } catch (error) {
    throw new Error(`SQL model ${model.name} (${model.file}) failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
