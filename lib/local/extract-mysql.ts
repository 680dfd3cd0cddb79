import type { DuckDBConnection } from '@duckdb/node-api';
import mysql from 'mysql2';
import { rawMysqlCustomers, rawMysqlOrderItems, rawMysqlOrders, rawMysqlProducts } from '../schema/tables.js';
import type { TableSchema } from '../schema/types.js';
import { extractionPrefix, RawPartitionWriter } from './raw-writer.js';
import { withRetry } from './retry.js';
import { readState, writeState } from './state.js';

export type MysqlTableName = 'customers' | 'products' | 'orders' | 'order_items';

/** Each source table, its primary key (in order) and the raw table it lands in. */
export const MYSQL_TABLES: Readonly<
  Record<MysqlTableName, { primaryKey: readonly string[]; raw: TableSchema }>
> = {
  customers: { primaryKey: ['customer_id'], raw: rawMysqlCustomers },
  products: { primaryKey: ['product_id'], raw: rawMysqlProducts },
  orders: { primaryKey: ['order_id'], raw: rawMysqlOrders },
  order_items: { primaryKey: ['order_id', 'line_number'], raw: rawMysqlOrderItems },
};

export interface MysqlSource {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** Where the previous extraction stopped: the greatest (updated_at, primary key) it read. */
export interface MysqlWatermark {
  readonly updatedAt: string;
  readonly key: readonly string[];
}

interface MysqlTableState {
  readonly watermark: MysqlWatermark | null;
  readonly lastIngestDate: string;
  readonly lastRows: number;
  readonly lastUpperBound: string;
}

export interface ExtractMysqlOptions {
  readonly source: MysqlSource;
  readonly engine: DuckDBConnection;
  readonly lakeRoot: string;
  /** `yyyy-MM-dd`: the raw partition the rows land in. */
  readonly ingestDate: string;
  /** @default all four tables */
  readonly tables?: readonly MysqlTableName[];
  /**
   * Rows changed within this many seconds before the extraction started are left for the next run,
   * so a transaction that commits late with an earlier `updated_at` is not skipped.
   * @default 5
   */
  readonly safetyLagSeconds?: number;
  /** @default 200_000 */
  readonly rowsPerFile?: number;
  /** Progress callback. */
  readonly onProgress?: (message: string) => void;
}

export interface ExtractMysqlResult {
  readonly table: MysqlTableName;
  readonly rows: number;
  readonly files: readonly string[];
  readonly watermark: MysqlWatermark | null;
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_CON_COUNT_ERROR',
]);

export const isTransientMysqlError = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  TRANSIENT_CODES.has(String((error as { code?: unknown }).code));

/**
 * The incremental query for a table: rows after the watermark in (updated_at, primary key) order,
 * up to the upper bound. The comparison is spelt out rather than written as a row-value comparison
 * so that MySQL and MariaDB use the (updated_at, key) index.
 */
export function incrementalQuery(
  table: MysqlTableName,
  watermark: MysqlWatermark | null,
  upperBound: string,
): { sql: string; values: string[] } {
  const { primaryKey, raw } = MYSQL_TABLES[table];
  const columns = raw.columns.filter((c) => c.name !== 'ingested_at').map((c) => `\`${c.name}\``);
  const order = ['updated_at', ...primaryKey].map((c) => `\`${c}\``).join(', ');
  const values: string[] = [];
  const conditions: string[] = [];
  if (watermark) {
    if (watermark.key.length !== primaryKey.length) {
      throw new Error(
        `Watermark of ${table} has ${watermark.key.length} key values, expected ${primaryKey.length}`,
      );
    }
    // (updated_at, k1, k2) > (w0, w1, w2)  ==  u > w0 OR (u = w0 AND (k1 > w1 OR (k1 = w1 AND k2 > w2)))
    const keyed = [
      ['updated_at', watermark.updatedAt],
      ...primaryKey.map((k, i) => [k, watermark.key[i] ?? '']),
    ];
    const build = (index: number): string => {
      const [column, value] = keyed[index] as [string, string];
      values.push(value);
      if (index === keyed.length - 1) return `\`${column}\` > ?`;
      values.push(value);
      return `(\`${column}\` > ? OR (\`${column}\` = ? AND ${build(index + 1)}))`;
    };
    conditions.push(build(0));
  }
  conditions.push('`updated_at` <= ?');
  values.push(upperBound);
  return {
    sql: `SELECT ${columns.join(', ')} FROM \`${table}\` WHERE ${conditions.join(' AND ')} ORDER BY ${order}`,
    values,
  };
}

function describeSource(source: MysqlSource): string {
  return `MySQL ${source.host}:${source.port}/${source.database}`;
}

async function connect(
  source: MysqlSource,
  onProgress?: (message: string) => void,
): Promise<mysql.Connection> {
  try {
    return await withRetry(
      () =>
        new Promise<mysql.Connection>((resolve, reject) => {
          const connection = mysql.createConnection({
            host: source.host,
            port: source.port,
            user: source.user,
            password: source.password,
            database: source.database,
            // Dates as the text MySQL holds (zero dates included); big ids and decimals as exact strings.
            dateStrings: true,
            supportBigNumbers: true,
            bigNumberStrings: true,
            decimalNumbers: false,
            connectTimeout: 10_000,
            timezone: 'Z',
          });
          connection.connect((error) => (error ? reject(error) : resolve(connection)));
        }),
      {
        isTransient: isTransientMysqlError,
        onRetry: (error, attempt, delay) =>
          onProgress?.(
            `${describeSource(source)}: ${(error as Error).message}; retry ${attempt} in ${delay} ms`,
          ),
      },
    );
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new Error(
      `Cannot connect to ${describeSource(source)} as ${source.user}: ${code ? `${code}: ` : ''}${(error as Error).message}`,
      { cause: error },
    );
  }
}

function queryRows(
  connection: mysql.Connection,
  sql: string,
  values: string[],
): AsyncIterable<Record<string, unknown>> {
  return connection.query({ sql, values }).stream({ highWaterMark: 1_000 }) as AsyncIterable<
    Record<string, unknown>
  >;
}

async function serverNow(connection: mysql.Connection, lagSeconds: number): Promise<string> {
  const rows = await new Promise<Record<string, unknown>[]>((resolve, reject) =>
    connection.query(
      {
        sql: 'SELECT DATE_FORMAT(NOW(3) - INTERVAL ? SECOND, "%Y-%m-%d %H:%i:%s.%f") AS upper_bound',
        values: [lagSeconds],
      },
      (error, result) => (error ? reject(error) : resolve(result as Record<string, unknown>[])),
    ),
  );
  return String(rows[0]?.upper_bound);
}

/**
 * Extracts every configured table's changed rows into `raw/mysql/<table>/ingest_date=<date>/`, streaming
 * (never a whole table in memory), and advances each table's watermark only after its files are in place.
 */
export async function extractMysql(options: ExtractMysqlOptions): Promise<ExtractMysqlResult[]> {
  const tables = options.tables ?? (Object.keys(MYSQL_TABLES) as MysqlTableName[]);
  const connection = await connect(options.source, options.onProgress);
  const results: ExtractMysqlResult[] = [];
  try {
    for (const table of tables) {
      results.push(await extractTable(connection, table, options));
    }
  } finally {
    connection.destroy();
  }
  return results;
}

async function extractTable(
  connection: mysql.Connection,
  table: MysqlTableName,
  options: ExtractMysqlOptions,
): Promise<ExtractMysqlResult> {
  const { primaryKey, raw } = MYSQL_TABLES[table];
  const previous = readState<MysqlTableState>(options.lakeRoot, 'mysql', table);
  const watermark = previous?.watermark ?? null;
  const upperBound = await serverNow(connection, options.safetyLagSeconds ?? 5);
  const { sql, values } = incrementalQuery(table, watermark, upperBound);
  const ingestedAt = new Date().toISOString().replace('T', ' ').replace('Z', '');
  const writer = await RawPartitionWriter.open(
    options.engine,
    options.lakeRoot,
    raw,
    { ingest_date: options.ingestDate },
    extractionPrefix(table, watermark),
    { rowsPerFile: options.rowsPerFile },
  );
  const dataColumns = raw.columns.filter((c) => c.name !== 'ingested_at').map((c) => c.name);
  let last: Record<string, unknown> | undefined;
  try {
    for await (const row of queryRows(connection, sql, values)) {
      await writer.append([...dataColumns.map((c) => toText(row[c])), ingestedAt]);
      last = row;
    }
  } catch (error) {
    await writer.abort();
    throw new Error(
      `Extracting ${table} from ${describeSource(options.source)} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const written = await writer.close();
  const next: MysqlWatermark | null = last
    ? { updatedAt: String(last.updated_at), key: primaryKey.map((k) => String(last?.[k])) }
    : watermark;
  writeState(options.lakeRoot, 'mysql', table, {
    watermark: next,
    lastIngestDate: options.ingestDate,
    lastRows: written.rows,
    lastUpperBound: upperBound,
  } satisfies MysqlTableState);
  options.onProgress?.(`mysql.${table}: ${written.rows} changed rows`);
  return { table, rows: written.rows, files: written.files, watermark: next };
}

function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value);
}
