import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { partitionPath, tableFiles, writePartition } from '../lib/local/lake.js';
import { prepareEngine, registerTable } from '../lib/local/sql-runner.js';
import { rfm } from '../lib/schema/marts/rfm.js';
import type { TableSchema } from '../lib/schema/types.js';

// A narrow copy of rfm's declaration, as it was "before" a column was added: a partition written with
// it must still be readable once the table declares the column.
const rfmBefore: TableSchema = { ...rfm, columns: rfm.columns.filter((c) => c.name !== 'segment') };
const select = (table: TableSchema, customer: number) =>
  `SELECT ${table.columns
    .map((c) => {
      if (c.name === 'customer_id') return `${customer} AS customer_id`;
      if (c.name === 'segment') return `'Champions' AS segment`;
      return `NULL AS "${c.name}"`;
    })
    .join(', ')}`;

describe('the local lake survives what a crash or a schema change leaves behind', () => {
  const lake = mkdtempSync(join(tmpdir(), 'c360-lake-'));
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;

  beforeAll(async () => {
    ({ instance, connection } = await openLocalEngine({ tempDirectory: join(lake, '.tmp') }));
    await prepareEngine(connection);
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
  });

  it('reads a partition written before a column was added, with the new column as NULL', async () => {
    await writePartition(
      connection,
      lake,
      rfmBefore,
      { run_date: '2024-05-01', run_id: 'old' },
      select(rfmBefore, 1),
    );
    await writePartition(connection, lake, rfm, { run_date: '2024-05-02', run_id: 'new' }, select(rfm, 2));
    await registerTable(connection, lake, rfm);

    const reader = await connection.runAndReadAll(
      'SELECT customer_id, segment, run_id FROM analytics.rfm ORDER BY customer_id',
    );

    expect(reader.getRowObjectsJson()).toEqual([
      { customer_id: '1', segment: null, run_id: 'old' },
      { customer_id: '2', segment: 'Champions', run_id: 'new' },
    ]);
  });

  it('reads the column as NULL when no partition has it yet', async () => {
    const root = mkdtempSync(join(tmpdir(), 'c360-lake-'));
    await writePartition(
      connection,
      root,
      rfmBefore,
      { run_date: '2024-05-01', run_id: 'old' },
      select(rfmBefore, 7),
    );
    await registerTable(connection, root, rfm);

    const reader = await connection.runAndReadAll('SELECT customer_id, segment FROM analytics.rfm');

    expect(reader.getRowObjectsJson()).toEqual([{ customer_id: '7', segment: null }]);
  });

  it('ignores a 0-byte or truncated part file (what kill -9 left before writes were atomic) instead of failing every query', async () => {
    const root = mkdtempSync(join(tmpdir(), 'c360-lake-'));
    await writePartition(connection, root, rfm, { run_date: '2024-05-01', run_id: 'good' }, select(rfm, 3));
    const broken = partitionPath(root, rfm, { run_date: '2024-05-02', run_id: 'killed' });
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'part-0.parquet'), '');
    writeFileSync(join(broken, 'part-1.parquet'), 'PAR1 and then the process died');
    const skipped: string[] = [];

    await registerTable(connection, root, rfm, (path) => skipped.push(path));
    const reader = await connection.runAndReadAll('SELECT customer_id, run_id FROM analytics.rfm');

    expect(reader.getRowObjectsJson()).toEqual([{ customer_id: '3', run_id: 'good' }]);
    expect(skipped.map((p) => p.slice(broken.length + 1))).toEqual(['part-0.parquet', 'part-1.parquet']);
  });

  it('never lists a writer scratch folder, and a failed write leaves the previous partition whole', async () => {
    const root = mkdtempSync(join(tmpdir(), 'c360-lake-'));
    const partition = { run_date: '2024-05-01', run_id: 'r' };
    await writePartition(connection, root, rfm, partition, select(rfm, 4));
    // The scratch space of a write killed half-way.
    mkdirSync(join(root, 'analytics', '_tmp', 'write-1-dead'), { recursive: true });
    writeFileSync(join(root, 'analytics', '_tmp', 'write-1-dead', 'part-0.parquet'), '');

    await expect(
      writePartition(connection, root, rfm, partition, 'SELECT 1 / 0 AS customer_id FROM no_such_table'),
    ).rejects.toThrow();
    await registerTable(connection, root, rfm);
    const reader = await connection.runAndReadAll('SELECT customer_id FROM analytics.rfm');

    expect(reader.getRowObjectsJson()).toEqual([{ customer_id: '4' }]);
    expect(tableFiles(root, rfm).files).toHaveLength(1);
    expect(readdirSync(join(root, 'analytics', '_tmp'))).toEqual(['write-1-dead']);
  });
});
