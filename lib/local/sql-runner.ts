import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbType, sqlString } from '../schema/derive.js';
import { allTables } from '../schema/tables.js';
import type { TableSchema } from '../schema/types.js';
import { DUCKDB_COMPAT_MACROS } from '../sql/compat.js';
import { compileModel, type ParameterValue, renderParameters, type SqlModel } from '../sql/models.js';
import { tableFiles, writePartition } from './lake.js';

/** Installs the Athena-name macros and the `raw`, `stage`, `analytics` schemas. */
export async function prepareEngine(connection: DuckDBConnection): Promise<void> {
  for (const macro of DUCKDB_COMPAT_MACROS) await connection.run(macro.sql);
  for (const zone of ['raw', 'stage', 'analytics'])
    await connection.run(`CREATE SCHEMA IF NOT EXISTS ${zone}`);
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
  onSkippedFile: (path: string) => void = warnSkipped,
): Promise<void> {
  const name = `${table.zone}.${table.name}`;
  const columns = [...table.columns, ...table.partitionKeys];
  const { files, skipped } = tableFiles(lakeRoot, table);
  for (const file of skipped) onSkippedFile(file);
  let definition: string;
  if (files.length > 0) {
    const list = files.map((f) => sqlString(f)).join(', ');
    const hive = table.partitionKeys.length > 0;
    const source = `read_parquet([${list}], hive_partitioning = ${hive}, union_by_name = true)`;
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
    const present = new Set(described.getRowObjectsJson().map((r) => String(r.column_name)));
    // Columns are read by name, as Athena reads Parquet: a column added to the schema after a partition
    // was written reads as NULL there, and a column dropped from the schema is not read.
    const casts = columns
      .map((c) =>
        present.has(c.name)
          ? `CAST("${c.name}" AS ${duckdbType(c.type)}) AS "${c.name}"`
          : `CAST(NULL AS ${duckdbType(c.type)}) AS "${c.name}"`,
      )
      .join(', ');
    definition = `CREATE VIEW ${name} AS SELECT ${casts} FROM ${source}`;
  } else {
    definition = `CREATE TABLE ${name} (${columns.map((c) => `"${c.name}" ${duckdbType(c.type)}`).join(', ')})`;
  }
  // Replaced in one transaction: a run that ends (and interrupts its tasks) while a table is being
  // re-registered must not leave the catalog without it.
  const existing = await connection.runAndReadAll(
    `SELECT table_type FROM information_schema.tables WHERE table_schema = '${table.zone}' AND table_name = '${table.name}'`,
  );
  const type = existing.getRowObjectsJson()[0]?.table_type;
  const drop = type === 'VIEW' ? `DROP VIEW ${name}; ` : type !== undefined ? `DROP TABLE ${name}; ` : '';
  await connection.run('BEGIN TRANSACTION');
  try {
    await connection.run(`${drop}${definition}`);
    await connection.run('COMMIT');
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

const warned = new Set<string>();
function warnSkipped(path: string): void {
  if (warned.has(path)) return;
  warned.add(path);
  process.stderr.write(`warning: ignoring ${path}: not a whole Parquet file, or not in a partition folder\n`);
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
 * Runs a table model for a run: writes its `run_date=D/run_id=R/` partition (replacing a previous one) and
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
  const runId = parameters.run_id;
  if (typeof runId !== 'string') throw new Error('SQL parameter run_id must be a string');
  const sql = renderModel(model, models, parameters);
  try {
    const partition = { run_date: runDate.date, run_id: runId };
    const rows = await writePartition(connection, lakeRoot, target, partition, sql);
    await registerTable(connection, lakeRoot, target);
    return rows;
  } catch (error) {
    throw new Error(`SQL model ${model.name} (${model.file}) failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
