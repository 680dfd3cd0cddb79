import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { partitionPath, tableGlob, writePartition } from '../lib/local/lake.js';
import { BI_TABLE_NAMES, dashboardViews } from '../lib/pipeline/views.js';
import {
  allTables,
  analyticsTables,
  assertNoPersonalDataInAnalytics,
  type ColumnType,
  duckdbCreateTable,
  glueTypeFromParquet,
  type ParquetColumnInfo,
  rawMysqlOrders,
  rowValidator,
  schemaMarkdown,
  stageOrders,
  type TableSchema,
} from '../lib/schema/index.js';
import { synthStack } from './helpers/stack.js';

/** A literal of each type, deliberately loosely typed so the writer's casts do the work. */
function sampleLiteral(type: ColumnType): string {
  if (type.startsWith('decimal')) return '12.5';
  const literals: Record<string, string> = {
    string: "'text'",
    boolean: 'true',
    int: '7',
    bigint: '7',
    double: '1.5',
    date: "'2024-02-29'",
    timestamp: "'2024-02-29 23:59:59'",
  };
  const literal = literals[type];
  if (literal === undefined) throw new Error(`no sample for ${type}`);
  return literal;
}

async function parquetColumns(connection: DuckDBConnection, file: string): Promise<ParquetColumnInfo[]> {
  const reader = await connection.runAndReadAll(
    `SELECT name, type, converted_type, logical_type, precision, scale FROM parquet_schema('${file}') WHERE num_children IS NULL`,
  );
  return reader.getRowObjectsJson() as unknown as ParquetColumnInfo[];
}

/** Glue columns of a table as synthesized into the CloudFormation template. */
function glueColumnsInTemplate(template: ReturnType<typeof synthStack>['template'], table: TableSchema) {
  const found = Object.values(template.findResources('AWS::Glue::Table')).find(
    (r) =>
      r.Properties.TableInput.Name === table.name &&
      String(r.Properties.DatabaseName).endsWith(`_${table.zone}`),
  );
  if (!found) throw new Error(`no Glue table ${table.zone}.${table.name} in the template`);
  return (found.Properties.TableInput.StorageDescriptor.Columns as { Name: string; Type: string }[]).map(
    (c) => ({
      name: c.Name,
      type: c.Type,
    }),
  );
}

describe('Glue definitions agree with the Parquet the local pipeline writes', () => {
  const lake = mkdtempSync(join(tmpdir(), 'c360-schema-'));
  const { template } = synthStack();
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;

  beforeAll(async () => {
    ({ instance, connection } = await openLocalEngine({ tempDirectory: join(lake, '.tmp') }));
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
  });

  it.each(allTables.map((t) => [`${t.zone}.${t.name}`, t] as const))('%s', async (_name, table) => {
    const query = `SELECT ${table.columns.map((c) => `${sampleLiteral(c.type)} AS "${c.name}"`).join(', ')}`;
    const partition = Object.fromEntries(
      table.partitionKeys.map((k) => [k.name, k.type === 'date' ? '2024-03-01' : 'run-1']),
    );

    const rows = await writePartition(connection, lake, table, partition, query);
    const written = await parquetColumns(
      connection,
      join(partitionPath(lake, table, partition), 'part-0.parquet'),
    );

    expect(rows).toBe(1);
    expect(written.map((c) => ({ name: c.name, type: glueTypeFromParquet(c) }))).toEqual(
      glueColumnsInTemplate(template, table),
    );
  });

  it('catches a file whose column type drifts from the declaration', async () => {
    const file = join(lake, 'drift.parquet');
    await connection.run(
      `COPY (SELECT 1::INTEGER AS order_id, 'x' AS customer_id) TO '${file}' (FORMAT parquet)`,
    );

    const written = await parquetColumns(connection, file);
    const declared = glueColumnsInTemplate(template, rawMysqlOrders).slice(0, 2);

    expect(written.map((c) => ({ name: c.name, type: glueTypeFromParquet(c) }))).not.toEqual(declared);
    expect(written.map((c) => glueTypeFromParquet(c))).toEqual(['int', 'string']);
  });

  it('reads partitions back with the date and run id keys, and a rerun of a run replaces its partition', async () => {
    const query = (id: number) =>
      `SELECT '${id}' AS order_id, 1 AS customer_id, '2024-01-01 10:00:00' AS ordered_at, 'placed' AS status,
              'web' AS channel, 'card' AS payment_method, 'USD' AS currency, 10 AS total_amount,
              0 AS discount_amount, 1 AS item_quantity, true AS is_revenue, 'mysql' AS source`;
    await writePartition(connection, lake, stageOrders, { run_date: '2024-05-01', run_id: 'a' }, query(1));
    await writePartition(connection, lake, stageOrders, { run_date: '2024-05-01', run_id: 'a' }, query(2));
    await writePartition(connection, lake, stageOrders, { run_date: '2024-05-01', run_id: 'b' }, query(4));
    await writePartition(connection, lake, stageOrders, { run_date: '2024-05-02', run_id: 'a' }, query(3));

    const reader = await connection.runAndReadAll(
      `SELECT run_date, typeof(run_date) AS run_date_type, run_id, list(order_id ORDER BY order_id) AS ids
       FROM read_parquet('${tableGlob(lake, stageOrders)}', hive_partitioning = true)
       WHERE run_date >= DATE '2024-05-01' GROUP BY run_date, run_id ORDER BY run_date, run_id`,
    );

    expect(reader.getRowObjectsJson()).toEqual([
      { run_date: '2024-05-01', run_date_type: 'DATE', run_id: 'a', ids: ['2'] },
      { run_date: '2024-05-01', run_date_type: 'DATE', run_id: 'b', ids: ['4'] },
      { run_date: '2024-05-02', run_date_type: 'DATE', run_id: 'a', ids: ['3'] },
    ]);
  });

  it('refuses a partition value that is not a date', () => {
    expect(() => partitionPath(lake, stageOrders, { run_date: '2024/05/01', run_id: 'a' })).toThrow(
      'Partition orders.run_date must be yyyy-MM-dd, got "2024/05/01"',
    );
    expect(() => partitionPath(lake, stageOrders, { run_date: '2024-05-01', run_id: '../x' })).toThrow(
      'Partition orders.run_id must be 1-80 letters, digits, - or _, got "../x"',
    );
  });

  it('creates DuckDB tables from the same declaration', async () => {
    await connection.run(duckdbCreateTable(rawMysqlOrders, 'ddl_check'));
    const reader = await connection.runAndReadAll(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'ddl_check' ORDER BY ordinal_position",
    );
    expect(reader.getRowObjectsJson().slice(0, 3)).toEqual([
      { column_name: 'order_id', data_type: 'BIGINT' },
      { column_name: 'customer_id', data_type: 'BIGINT' },
      { column_name: 'order_at', data_type: 'VARCHAR' },
    ]);
    expect(reader.getRowObjectsJson()).toContainEqual({
      column_name: 'total_amount',
      data_type: 'DECIMAL(12,2)',
    });
  });
});

describe('zod row validators derived from the schema', () => {
  const validOrder = {
    order_id: 'm-1',
    customer_id: 42,
    ordered_at: '2024-01-01T10:00:00',
    status: 'delivered',
    channel: 'web',
    payment_method: 'card',
    currency: 'USD',
    total_amount: 19.99,
    discount_amount: 0,
    item_quantity: 2,
    is_revenue: true,
    source: 'mysql',
  };

  it('accepts a well-formed row', () => {
    expect(rowValidator(stageOrders).parse(validOrder)).toEqual(validOrder);
  });

  it.each([
    ['a missing required key', { ...validOrder, customer_id: null }, 'customer_id'],
    ['a wrong type', { ...validOrder, item_quantity: 'two' }, 'item_quantity'],
    ['an amount beyond decimal(12,2)', { ...validOrder, total_amount: 1e12 }, 'total_amount'],
    ['an undeclared column', { ...validOrder, email: 'a@b.c' }, 'email'],
  ])('rejects %s', (_what, row, key) => {
    expect(() => rowValidator(stageOrders).parse(row)).toThrow(key);
  });
});

describe('schema rules', () => {
  it('keeps personal data out of the analytics zone', () => {
    expect(() => assertNoPersonalDataInAnalytics(allTables)).not.toThrow();
    const leaky: TableSchema = {
      ...stageOrders,
      name: 'leaky',
      zone: 'analytics',
      columns: [{ name: 'email', type: 'string', description: 'oops', pii: true }],
    };
    expect(() => assertNoPersonalDataInAnalytics([...analyticsTables, leaky])).toThrow(
      'Personal data columns are not allowed in the analytics zone: leaky.email',
    );
  });

  it('gives every table a unique name within its zone and a location ending in a slash', () => {
    const keys = allTables.map((t) => `${t.zone}.${t.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const t of allTables) expect(t.location).toMatch(/^[a-z0-9_/]+\/$/);
  });

  it('has docs/schema.md generated from the current declarations', () => {
    const docs = readFileSync(join(import.meta.dirname, '..', 'docs', 'schema.md'), 'utf8');
    expect(docs).toBe(schemaMarkdown(allTables, { bi: BI_TABLE_NAMES, dashboards: dashboardViews }));
  });
});
