import { parquetMetadata, parquetRead } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { Column, TableSchema } from '../schema/types.js';

/**
 * Parquet in and out of the Fit models Lambda, by the one schema. hyparquet and hyparquet-writer are
 * pure JavaScript (no native build for the Lambda's ARM runtime) and read the Snappy Parquet that both
 * Athena's UNLOAD and DuckDB's COPY write.
 */

/** Object storage as the Fit models Lambda needs it: S3 in the cloud, the lake folder locally. */
export interface ObjectStore {
  /** Keys under the prefix. */
  list(bucket: string, prefix: string): Promise<string[]>;
  get(bucket: string, key: string): Promise<Uint8Array>;
  put(bucket: string, key: string, body: Uint8Array): Promise<void>;
  /** Deletes every object under the prefix; returns how many were deleted. */
  deletePrefix(bucket: string, prefix: string): Promise<number>;
}

export type Row = Record<string, string | number | boolean | null>;

const DAY_MS = 86_400_000;

/**
 * Every row of the Parquet files under a prefix: bigints as numbers (as exact text beyond 2^53), dates as
 * yyyy-MM-dd, timestamps as ISO text. Read column by column (hyparquet's `onChunk`), and only the
 * `columns` asked for: building a row object per value costs more than decoding, and the samples are
 * the Lambda's largest input.
 */
export async function readRows(
  store: ObjectStore,
  bucket: string,
  prefix: string,
  columns?: readonly string[],
): Promise<Row[]> {
  const keys = (await store.list(bucket, prefix)).filter((k) => k.endsWith('.parquet')).sort();
  const rows: Row[] = [];
  for (const key of keys) {
    const bytes = await store.get(bucket, key);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const metadata = parquetMetadata(file);
    const count = Number(metadata.num_rows);
    const names = columns ?? metadata.schema.slice(1).map((element) => element.name);
    const fileRows: Row[] = Array.from({ length: count }, () => ({}));
    await parquetRead({
      file,
      metadata,
      columns: [...names],
      onChunk: ({ columnName, columnData, rowStart, rowEnd }) => {
        for (let i = rowStart; i < Math.min(rowEnd, count); i++) {
          const row = fileRows[i];
          if (row) row[columnName] = plain(columnData[i - rowStart]);
        }
      },
    });
    for (const row of fileRows) rows.push(row);
  }
  return rows;
}

function plain(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    // Hashed ids and sample hashes use all 63 bits: kept exact as text rather than rounded.
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
      return String(value);
    return Number(value);
  }
  if (value instanceof Date) {
    return value.getTime() % DAY_MS === 0 ? value.toISOString().slice(0, 10) : value.toISOString();
  }
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  throw new Error(`Unexpected Parquet value ${String(value)}`);
}

/** One Parquet file of a table's columns (its partition keys live in the path, as Athena writes them). */
export function writeRows(table: TableSchema, rows: readonly Row[]): Uint8Array {
  const columns = table.columns;
  const schema = [
    { name: 'root', num_children: columns.length },
    ...columns.map((c) => ({ name: c.name, ...parquetType(c), repetition_type: 'OPTIONAL' as const })),
  ];
  const columnData = columns.map((c) => ({
    name: c.name,
    data: rows.map((row) => toParquet(c, row[c.name], table.name)),
  }));
  return new Uint8Array(parquetWriteBuffer({ columnData, schema } as never));
}

function parquetType(column: Column): Record<string, string> {
  switch (column.type) {
    case 'string':
      return { type: 'BYTE_ARRAY', converted_type: 'UTF8' };
    case 'boolean':
      return { type: 'BOOLEAN' };
    case 'int':
      return { type: 'INT32' };
    case 'bigint':
      return { type: 'INT64' };
    case 'double':
      return { type: 'DOUBLE' };
    case 'date':
      return { type: 'INT32', converted_type: 'DATE' };
    case 'timestamp':
      return { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' };
    default:
      // Decimals are not written by the Lambda: say so rather than guess an encoding.
      throw new Error(`Column ${column.name} has type ${column.type}, which the model writer does not write`);
  }
}

function toParquet(column: Column, value: Row[string] | undefined, table: string): unknown {
  if (value === null || value === undefined) {
    if (column.nullable === false) throw new Error(`${table}.${column.name} is null but declared not null`);
    return null;
  }
  const wrong = () =>
    new Error(`${table}.${column.name} expected ${column.type}, got ${JSON.stringify(value)}`);
  switch (column.type) {
    case 'string':
      if (typeof value !== 'string') throw wrong();
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong();
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrong();
      return value;
    case 'bigint':
      // Exact text too: readRows gives values beyond 2^53 as text.
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrong();
      return BigInt(value);
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrong();
      return value;
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw wrong();
      return Date.parse(`${value}T00:00:00Z`) / DAY_MS;
    case 'timestamp': {
      const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (!Number.isFinite(ms)) throw wrong();
      return BigInt(ms);
    }
    default:
      throw wrong();
  }
}
