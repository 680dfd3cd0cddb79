import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { partitionPath } from '../lib/local/lake.js';
import { RawPartitionWriter } from '../lib/local/raw-writer.js';
import type { TableSchema } from '../lib/schema/types.js';

/*
 * The raw writer hands rows to DuckDB as CSV. Texts that a CSV round trip tends to change (empty,
 * the null marker itself, quotes, commas, line breaks, non-ASCII) must arrive exactly, and null must
 * stay null.
 */
const table: TableSchema = {
  name: 'writer_fixture',
  zone: 'raw',
  location: 'writer/fixture/',
  description: 'fixture',
  columns: [
    { name: 'id', type: 'bigint', description: 'id' },
    { name: 'text', type: 'string', description: 'text' },
  ],
  partitionKeys: [{ name: 'ingest_date', type: 'date', description: 'date' }],
};

describe('RawPartitionWriter', () => {
  const root = mkdtempSync(join(tmpdir(), 'c360-writer-'));
  let close: () => void;
  let engine: Awaited<ReturnType<typeof openLocalEngine>>['connection'];

  beforeAll(async () => {
    const opened = await openLocalEngine({ tempDirectory: join(root, 'tmp') });
    engine = opened.connection;
    close = () => {
      opened.connection.closeSync();
      opened.instance.closeSync();
    };
  });
  afterAll(() => close?.());

  it('lands every text exactly, nulls as nulls, across several files', async () => {
    const texts: (string | null)[] = [
      '',
      '\\N',
      'a,"b"\nc',
      null,
      'Zoë ✓ 🛒',
      '"',
      '\r\n',
      ' padded ',
      '{"S":"x, y"}',
    ];
    const writer = await RawPartitionWriter.open(engine, root, table, { ingest_date: '2024-06-01' }, 'fx', {
      rowsPerFile: 4,
    });
    for (const [i, text] of texts.entries()) await writer.append([String(i), text]);
    const { rows, files } = await writer.close();

    expect(rows).toBe(texts.length);
    expect(files).toHaveLength(3); // 4 + 4 + 1 rows
    expect(readdirSync(partitionPath(root, table, { ingest_date: '2024-06-01' })).sort()).toEqual([
      'fx-00000.parquet',
      'fx-00001.parquet',
      'fx-00002.parquet',
    ]);
    const read = await engine.runAndReadAll(
      `SELECT id, text FROM read_parquet('${partitionPath(root, table, { ingest_date: '2024-06-01' })}/*.parquet') ORDER BY id`,
    );
    expect(read.getRowObjectsJson().map((r) => r.text)).toEqual(texts);
    expect(read.getRowObjectsJson().map((r) => r.id)).toEqual(texts.map((_t, i) => String(i)));
  });
});
