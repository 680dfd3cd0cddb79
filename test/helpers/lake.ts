import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { parseConfig } from '../../lib/config/load.js';
import type { Customer360ConfigInput } from '../../lib/config/schema.js';
import { openLocalEngine } from '../../lib/local/duckdb.js';
import { writePartition } from '../../lib/local/lake.js';
import { prepareEngine, registerLake, registerTable, runModel } from '../../lib/local/sql-runner.js';
import type { TableSchema } from '../../lib/schema/types.js';
import { loadModels, tableModelsInOrder } from '../../lib/sql/models.js';
import { pipelineParameters } from '../../lib/sql/parameters.js';

export type FixtureRow = Readonly<Record<string, string | number | boolean | null>>;

/** The run id fixtures are written under and models run as (one run per date in these tests). */
export const FIXTURE_RUN_ID = 'fixture-run';

function sqlLiteral(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : `${value}`;
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return `'${value.replaceAll("'", "''")}'`;
}

/** Rows as a SELECT over VALUES with every declared column (missing ones NULL). */
export function rowsQuery(table: TableSchema, rows: readonly FixtureRow[]): string {
  const names = table.columns.map((c) => c.name);
  for (const row of rows) {
    for (const key of Object.keys(row)) {
      if (!names.includes(key))
        throw new Error(`Fixture row has column ${key}, which ${table.name} does not declare`);
    }
  }
  const header = names.map((n) => `"${n}"`).join(', ');
  if (rows.length === 0) return `SELECT ${names.map((n) => `NULL AS "${n}"`).join(', ')} WHERE FALSE`;
  const values = rows.map((row) => `(${names.map((n) => sqlLiteral(row[n])).join(', ')})`).join(',\n');
  return `SELECT * FROM (VALUES ${values}) AS fixture(${header})`;
}

/**
 * A throwaway lake on DuckDB for SQL tests: write hand-made rows into raw or stage partitions, run
 * stage or mart models for a run date exactly as the pipeline does, and read the results.
 */
export class FixtureLake {
  private constructor(
    readonly root: string,
    readonly engine: DuckDBConnection,
    private readonly instance: DuckDBInstance,
  ) {}

  static async open(): Promise<FixtureLake> {
    const root = mkdtempSync(join(tmpdir(), 'c360-fixture-'));
    const { instance, connection } = await openLocalEngine({
      tempDirectory: join(root, '.tmp'),
      memoryLimit: '1GB',
    });
    await prepareEngine(connection);
    await registerLake(connection, root);
    return new FixtureLake(root, connection, instance);
  }

  /**
   * Writes rows as one partition (`ingest_date` for raw tables, `run_date` and the fixture run id for
   * the others).
   */
  async write(
    table: TableSchema,
    partitionDate: string,
    rows: readonly FixtureRow[],
    runId = FIXTURE_RUN_ID,
  ): Promise<void> {
    const partition = Object.fromEntries(
      table.partitionKeys.map((k) => [k.name, k.name === 'run_id' ? runId : partitionDate]),
    );
    await writePartition(this.engine, this.root, table, partition, rowsQuery(table, rows));
    await registerTable(this.engine, this.root, table);
  }

  /** Runs one table model for a run date with the given configuration. Returns rows written. */
  async run(modelName: string, runDate: string, config: Customer360ConfigInput = {}): Promise<number> {
    const models = loadModels();
    const model = models.get(modelName);
    if (!model) throw new Error(`No SQL model ${modelName}`);
    return runModel(
      this.engine,
      this.root,
      model,
      models,
      pipelineParameters(parseConfig(config), runDate, FIXTURE_RUN_ID),
    );
  }

  /** Runs one table model as a run that builds on the published run `base` (its snapshot base). */
  async runWithSnapshot(
    modelName: string,
    runDate: string,
    base: { date: string; runId: string },
    config: Customer360ConfigInput = {},
  ): Promise<number> {
    const models = loadModels();
    const model = models.get(modelName);
    if (!model) throw new Error(`No SQL model ${modelName}`);
    return runModel(
      this.engine,
      this.root,
      model,
      models,
      pipelineParameters(parseConfig(config), runDate, FIXTURE_RUN_ID, {
        runDate: base.date,
        runId: base.runId,
        rawFromDate: base.date,
      }),
    );
  }

  /** Runs every model of a zone in dependency order. */
  async runZone(
    zone: 'stage' | 'analytics',
    runDate: string,
    config: Customer360ConfigInput = {},
  ): Promise<void> {
    const models = loadModels();
    const parameters = pipelineParameters(parseConfig(config), runDate, FIXTURE_RUN_ID);
    for (const model of tableModelsInOrder(models, zone)) {
      await runModel(this.engine, this.root, model, models, parameters);
    }
  }

  /** Rows of a table's partition for a run date, as JSON values, in a stable order. */
  async read(table: TableSchema, runDate: string, orderBy = 'ALL'): Promise<Record<string, unknown>[]> {
    const reader = await this.engine.runAndReadAll(
      `SELECT * EXCLUDE (run_date, run_id) FROM ${table.zone}.${table.name} WHERE run_date = DATE '${runDate}' AND run_id = '${FIXTURE_RUN_ID}' ORDER BY ${orderBy}`,
    );
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  }

  close(): void {
    this.engine.closeSync();
    this.instance.closeSync();
  }
}

let orderSequence = 0;

/** A `stage.orders` row of a MySQL order, with a fresh order id; `is_revenue` follows the status. */
export function stageOrder(
  customer_id: number,
  ordered_at: string,
  total_amount: number,
  { status = 'delivered', channel = 'web' }: { status?: string; channel?: string } = {},
): FixtureRow {
  orderSequence += 1;
  return {
    order_id: `m-${orderSequence}`,
    customer_id,
    ordered_at,
    status,
    channel,
    payment_method: 'card',
    currency: 'USD',
    total_amount,
    discount_amount: 0,
    item_quantity: 1,
    is_revenue: status !== 'cancelled' && status !== 'refunded',
    source: 'mysql',
  };
}
