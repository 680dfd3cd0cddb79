import type { DuckDBConnection } from '@duckdb/node-api';
import mysql from 'mysql2';
import {
  rawMysqlCustomers,
  rawMysqlKeys,
  rawMysqlOrderItems,
  rawMysqlOrders,
  rawMysqlProducts,
} from '../schema/tables.js';
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

/** How a lost connection is retried; each retry reconnects and re-reads the table from its saved watermark. */
export interface MysqlRetryOptions {
  /**
   * Attempts per table, the first included.
   * @default 5
   */
  readonly attempts?: number;
  /**
   * Upper bound of the first pause; it doubles with each retry, and the pause is drawn uniformly
   * below it (full jitter).
   * @default 1_000
   */
  readonly baseDelayMs?: number;
  /**
   * Ceiling of the doubled bound.
   * @default 15_000
   */
  readonly maxDelayMs?: number;
}

/** What `onBatch` is told after each batch of rows has gone into the raw writer. */
export interface MysqlBatchProgress {
  readonly table: MysqlTableName;
  /** Rows read so far in this attempt. */
  readonly rows: number;
  /** 1 for the first attempt; more after a lost connection. */
  readonly attempt: number;
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
   * Days between key scans (every primary key of each table into `raw.mysql_keys`, after the table's
   * rows), from which stage finds hard deletes; 0 never scans. A table is scanned when it has never
   * been, or when its last scan's ingest date is at least this many days before `ingestDate`.
   * @default 1
   */
  readonly keyScanEveryDays?: number;
  /**
   * Rows changed within this many seconds before the extraction started are left for the next run,
   * so a transaction that commits late with an earlier `updated_at` is not skipped.
   * @default 5
   */
  readonly safetyLagSeconds?: number;
  /** @default 200_000 */
  readonly rowsPerFile?: number;
  /**
   * Rows read from MariaDB before the socket is paused and the batch goes into the writer; bounds
   * the rows held in memory. Kept small so a batch dies young: at 10,000 rows the batches outlived
   * V8's young generation and garbage collection took a fifth of the extraction.
   * @default 2_000
   */
  readonly batchRows?: number;
  /** @default 5 attempts per table, pauses from 1 s doubling to at most 15 s, full jitter */
  readonly retry?: MysqlRetryOptions;
  /** Progress callback. */
  readonly onProgress?: (message: string) => void;
  /**
   * Called after each batch; the extraction waits for a returned promise before reading on, which
   * lets a test take the server down at a known point.
   */
  readonly onBatch?: (progress: MysqlBatchProgress) => void | Promise<void>;
}

export interface ExtractMysqlResult {
  readonly table: MysqlTableName;
  readonly rows: number;
  readonly files: readonly string[];
  readonly watermark: MysqlWatermark | null;
  /** Attempts the table took: more than 1 means the connection was lost and the table re-read. */
  readonly attempts: number;
  /** Primary keys landed in `raw.mysql_keys` by this extraction; undefined when no key scan was due. */
  readonly keys?: number;
}

/** The last key scan of a table, in `_state/mysql/<table>.keys.json`. */
interface MysqlKeyScanState {
  /** The ingest date (raw partition) of the last scan. */
  readonly lastScanDate: string;
  /** When it started (its rows' ingested_at). */
  readonly scannedAt: string;
  readonly keys: number;
}

/**
 * mysql2 error codes that mean the connection is gone, or cannot be made yet, while the server may
 * be back in a moment. Everything else (SQL errors, bad credentials, unknown database) is final.
 */
const LOST_CONNECTION_CODES: ReadonlySet<string> = new Set([
  // Node socket errors: nothing listening (server down or restarting), reset by the peer, a write to
  // a socket the server already closed (Node: "This socket has been ended by the other party"),
  // connect or socket timeout (mysql2 raises its connectTimeout as ETIMEDOUT).
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // mysql2: the socket closed with no error ("Connection lost: The server closed the connection.").
  'PROTOCOL_CONNECTION_LOST',
  // Server error packets while it shuts down or is full.
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
]);

/**
 * MariaDB's ER_CONNECTION_KILLED ("Connection was killed"), which a query gets when the server stops
 * under it or its connection is killed; mysql2's MySQL-derived table has no name for it and does not
 * mark it fatal (node-mysql2 issue #510).
 */
const MARIADB_CONNECTION_KILLED = 1927;

/** Whether a mysql2 error means the connection was lost (or refused), so a retry may succeed. */
export const isLostMysqlConnection = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errno, fatal } = error as { code?: unknown; errno?: unknown; fatal?: unknown };
  if (typeof code === 'string') return LOST_CONNECTION_CODES.has(code);
  // A command given to a connection that has already died fails with mysql2's fatal, code-less
  // "Can't add new command when connection is in closed state".
  return errno === MARIADB_CONNECTION_KILLED || fatal === true;
};

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

/** `CODE message`, the way mysql2 errors are best recognised in a log. */
function describeError(error: unknown): string {
  const { code, errno, message } = error as { code?: string; errno?: number; message?: string };
  const label = code ?? (typeof errno === 'number' ? `errno ${errno}` : undefined);
  return [label, message ?? String(error)].filter(Boolean).join(' ');
}

/** Closes a connection for good, including a socket paused in the middle of a result set. */
function destroyConnection(connection: mysql.Connection): void {
  connection.destroy();
  // destroy() only ends the socket politely; a paused one would keep the event loop alive.
  (connection as unknown as { stream?: { destroy?: () => void } }).stream?.destroy?.();
}

/** One connection attempt; retrying is the caller's business. */
function openConnection(
  source: MysqlSource,
  onLost: (connection: mysql.Connection, error: unknown) => void,
): Promise<mysql.Connection> {
  return new Promise((resolve, reject) => {
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
    // mysql2 reports a connection that dies between commands, or under a streamed query, only as an
    // 'error' event on the connection; without a listener Node ends the process.
    connection.on('error', (error) => onLost(connection, error));
    connection.connect((error) => {
      if (!error) return resolve(connection);
      destroyConnection(connection);
      reject(error);
    });
  });
}

/** The extraction's connection: opened on first use, replaced after it is lost. */
class SourceSession {
  private current: mysql.Connection | undefined;
  private lost: unknown;
  /** Whether any connection succeeded, which tells "cannot connect" from "lost the connection". */
  connected = false;

  constructor(private readonly source: MysqlSource) {}

  async connection(): Promise<mysql.Connection> {
    if (this.current && this.lost === undefined) return this.current;
    this.drop();
    const connection = await openConnection(this.source, (lostConnection, error) => {
      if (this.current === lostConnection) this.lost ??= error;
    });
    this.current = connection;
    this.connected = true;
    return connection;
  }

  drop(): void {
    if (this.current) destroyConnection(this.current);
    this.current = undefined;
    this.lost = undefined;
  }
}

type Row = readonly unknown[];

/**
 * The rows of a query in batches of about `batchRows`, as arrays in select order. The socket is
 * paused while a full batch waits for the consumer, so memory stays bounded however large the
 * table. mysql2 signals a lost connection during a callback-less query on the connection, not on
 * the query, so both are watched and either ends the iteration with the error.
 */
async function* queryBatches(
  connection: mysql.Connection,
  sql: string,
  values: readonly string[],
  batchRows: number,
): AsyncGenerator<Row[]> {
  let rows: Row[] = [];
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  const signal = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const onError = (error: unknown) => {
    failure ??= error ?? new Error('unknown mysql2 error');
    signal();
  };
  connection.on('error', onError);
  try {
    const query = connection.query({ sql, values: [...values], rowsAsArray: true });
    query.on('result', (row: unknown) => {
      rows.push(row as Row);
      if (rows.length >= batchRows) {
        connection.pause();
        signal();
      }
    });
    query.on('error', onError);
    query.on('end', () => {
      ended = true;
      signal();
    });
    for (;;) {
      if (failure !== undefined) throw failure;
      if (rows.length >= batchRows || (ended && rows.length > 0)) {
        const batch = rows;
        rows = [];
        // Resumed before the batch is written, so the next one arrives while this one is.
        connection.resume();
        yield batch;
      } else if (ended) {
        return;
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    connection.removeListener('error', onError);
  }
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
 *
 * A lost connection (see `isLostMysqlConnection`) is retried per table with exponential backoff and
 * full jitter: the table's unfinished file set is discarded, and the next attempt reconnects and
 * re-reads from the table's saved watermark into the same file-set name, so nothing lands twice and
 * nothing is skipped. Tables finished before the loss keep their files and watermarks. When the
 * attempts run out, or on any other error, the returned promise rejects with an Error that names
 * the table, the server and the cause.
 */
export async function extractMysql(options: ExtractMysqlOptions): Promise<ExtractMysqlResult[]> {
  const tables = options.tables ?? (Object.keys(MYSQL_TABLES) as MysqlTableName[]);
  const session = new SourceSession(options.source);
  const results: ExtractMysqlResult[] = [];
  try {
    for (const table of tables) {
      const extracted = await extractTableWithRetry(session, table, options);
      // The key scan comes after the table's rows (see scanKeys for why the order matters).
      const keys = keyScanDue(options, table) ? await scanKeysWithRetry(session, table, options) : undefined;
      results.push(keys === undefined ? extracted : { ...extracted, keys });
    }
  } finally {
    session.drop();
  }
  return results;
}

async function extractTableWithRetry(
  session: SourceSession,
  table: MysqlTableName,
  options: ExtractMysqlOptions,
): Promise<ExtractMysqlResult> {
  const { source } = options;
  const maxAttempts = options.retry?.attempts ?? 5;
  let phase: 'connect' | 'read' = 'connect';
  let attempts = 0;
  let firstLoss: unknown;
  try {
    return await withRetry(
      async (attempt) => {
        attempts = attempt;
        phase = 'connect';
        const connection = await session.connection();
        phase = 'read';
        return await extractTable(connection, table, options, attempt);
      },
      {
        attempts: maxAttempts,
        baseDelayMs: options.retry?.baseDelayMs ?? 1_000,
        maxDelayMs: options.retry?.maxDelayMs ?? 15_000,
        isTransient: isLostMysqlConnection,
        onRetry: (error, attempt, delay) => {
          firstLoss ??= error;
          session.drop();
          options.onProgress?.(
            `mysql.${table}: connection to ${source.host}:${source.port} lost (${describeError(error)}); ` +
              `attempt ${attempt + 1} of ${maxAttempts} in ${delay} ms, from the saved watermark`,
          );
        },
      },
    );
  } catch (error) {
    session.drop();
    const first = firstLoss ?? error;
    const cause =
      first === error
        ? describeError(error)
        : `${describeError(first)}; last attempt: ${describeError(error)}`;
    const tried = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    let message: string;
    if (isLostMysqlConnection(error) && session.connected) {
      message = `lost the connection to ${source.host}:${source.port} while reading ${table} (${tried}): ${cause}`;
    } else if (phase === 'connect') {
      message = `cannot connect to ${describeSource(source)} as ${source.user} (${tried}): ${cause}`;
    } else {
      message = `reading ${table} from ${describeSource(source)} failed: ${cause}`;
    }
    throw new Error(`Extract mysql: ${message}`, { cause: error });
  }
}

/** One attempt at one table, from its saved watermark; saves the new watermark only on success. */
async function extractTable(
  connection: mysql.Connection,
  table: MysqlTableName,
  options: ExtractMysqlOptions,
  attempt: number,
): Promise<ExtractMysqlResult> {
  const { primaryKey, raw } = MYSQL_TABLES[table];
  const previous = readState<MysqlTableState>(options.lakeRoot, 'mysql', table);
  const watermark = previous?.watermark ?? null;
  const upperBound = await serverNow(connection, options.safetyLagSeconds ?? 5);
  const { sql, values } = incrementalQuery(table, watermark, upperBound);
  const ingestedAt = new Date().toISOString().replace('T', ' ').replace('Z', '');
  const dataColumns = raw.columns.filter((c) => c.name !== 'ingested_at').map((c) => c.name);
  const updatedAtIndex = dataColumns.indexOf('updated_at');
  const keyIndexes = primaryKey.map((k) => dataColumns.indexOf(k));
  const writer = await RawPartitionWriter.open(
    options.engine,
    options.lakeRoot,
    raw,
    { ingest_date: options.ingestDate },
    extractionPrefix(table, watermark),
    { rowsPerFile: options.rowsPerFile },
  );
  let last: Row | undefined;
  let read = 0;
  try {
    for await (const batch of queryBatches(connection, sql, values, options.batchRows ?? 2_000)) {
      for (const row of batch) {
        const text: (string | null)[] = row.map(toText);
        text.push(ingestedAt);
        await writer.append(text);
      }
      last = batch[batch.length - 1];
      read += batch.length;
      await options.onBatch?.({ table, rows: read, attempt });
    }
  } catch (error) {
    // The half-written file set is dropped; the error that matters is the one that got us here.
    await writer.abort().catch(() => {});
    throw error;
  }
  const written = await writer.close();
  const next: MysqlWatermark | null = last
    ? {
        updatedAt: String(last[updatedAtIndex]),
        key: keyIndexes.map((i) => String(last?.[i])),
      }
    : watermark;
  writeState(options.lakeRoot, 'mysql', table, {
    watermark: next,
    lastIngestDate: options.ingestDate,
    lastRows: written.rows,
    lastUpperBound: upperBound,
  } satisfies MysqlTableState);
  options.onProgress?.(
    `mysql.${table}: ${written.rows} changed rows${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
  );
  return { table, rows: written.rows, files: written.files, watermark: next, attempts: attempt };
}

const DAY_MS = 86_400_000;

/** Whether a table's key scan is due on `options.ingestDate` (see `keyScanEveryDays`). */
function keyScanDue(options: ExtractMysqlOptions, table: MysqlTableName): boolean {
  const everyDays = options.keyScanEveryDays ?? 1;
  if (!Number.isInteger(everyDays) || everyDays < 0)
    throw new Error(`keyScanEveryDays must be a whole number of days >= 0, got ${everyDays}`);
  if (everyDays === 0) return false;
  const previous = readState<MysqlKeyScanState>(options.lakeRoot, 'mysql', `${table}.keys`);
  if (!previous) return true;
  const days = (Date.parse(options.ingestDate) - Date.parse(previous.lastScanDate)) / DAY_MS;
  return days >= everyDays;
}

/** Every primary key of a table (no ORDER BY: MySQL answers it from its smallest index). */
export function keyScanQuery(table: MysqlTableName): string {
  return `SELECT ${MYSQL_TABLES[table].primaryKey.map((k) => `\`${k}\``).join(', ')} FROM \`${table}\``;
}

/** The `raw.mysql_keys` column each key column of a table fills. */
const KEY_COLUMNS = rawMysqlKeys.columns
  .map((c) => c.name)
  .filter((name) => name !== 'source_table' && name !== 'ingested_at');

async function scanKeysWithRetry(
  session: SourceSession,
  table: MysqlTableName,
  options: ExtractMysqlOptions,
): Promise<number> {
  try {
    return await withRetry(async () => scanKeys(await session.connection(), table, options), {
      attempts: options.retry?.attempts ?? 5,
      baseDelayMs: options.retry?.baseDelayMs ?? 1_000,
      maxDelayMs: options.retry?.maxDelayMs ?? 15_000,
      isTransient: isLostMysqlConnection,
      onRetry: (error, attempt, delay) => {
        session.drop();
        options.onProgress?.(
          `mysql.${table} keys: connection lost (${describeError(error)}); attempt ${attempt + 1} in ${delay} ms`,
        );
      },
    });
  } catch (error) {
    session.drop();
    throw new Error(
      `Extract mysql: scanning the keys of ${table} in ${describeSource(options.source)} failed: ${describeError(error)}`,
      { cause: error },
    );
  }
}

/**
 * Lands every current primary key of a table in `raw.mysql_keys`, stamped with the time the scan
 * started, and records the scan in `_state/mysql/<table>.keys.json` once its files are in place.
 *
 * Stage drops a key when the latest scan lacks it and every version of it was read before that scan
 * started (`ingested_at` earlier than the scan's). Why that is safe: such a version was in the
 * database when it was read, and the scan is one consistent read begun later, so a key it lacks was
 * deleted in between. A row deleted and inserted again gets a new `updated_at`, so a version read by
 * a later extraction, stamped after this scan, which the scan cannot drop.
 *
 * Why the scan comes after the row read: a row's `ingested_at` is when its extraction started, not
 * when the row was read. Were the scan taken before or during the row read, a row inserted after the
 * scan and read by this extraction would carry an `ingested_at` earlier than the scan without being
 * in it, and be dropped by mistake. Taken after the read has finished, "stamped before the scan"
 * means "read before the scan". A row inserted between the two is in the scan (kept) and lands with
 * the next run.
 */
async function scanKeys(
  connection: mysql.Connection,
  table: MysqlTableName,
  options: ExtractMysqlOptions,
): Promise<number> {
  const previous = readState<MysqlKeyScanState>(options.lakeRoot, 'mysql', `${table}.keys`);
  const scannedAt = new Date().toISOString().replace('T', ' ').replace('Z', '');
  const { primaryKey } = MYSQL_TABLES[table];
  const writer = await RawPartitionWriter.open(
    options.engine,
    options.lakeRoot,
    rawMysqlKeys,
    { ingest_date: options.ingestDate },
    // A rerun after a crash before the state was saved starts from the same state: same prefix,
    // so its files replace the crashed attempt's.
    extractionPrefix(`keys-${table}`, previous ?? null),
    { rowsPerFile: options.rowsPerFile },
  );
  let keys = 0;
  try {
    for await (const batch of queryBatches(connection, keyScanQuery(table), [], options.batchRows ?? 2_000)) {
      for (const row of batch) {
        const values = KEY_COLUMNS.map((column) => {
          const index = primaryKey.indexOf(column);
          return index === -1 ? null : toText(row[index]);
        });
        await writer.append([table, ...values, scannedAt]);
      }
      keys += batch.length;
    }
  } catch (error) {
    await writer.abort().catch(() => {});
    throw error;
  }
  await writer.close();
  writeState(options.lakeRoot, 'mysql', `${table}.keys`, {
    lastScanDate: options.ingestDate,
    scannedAt,
    keys,
  } satisfies MysqlKeyScanState);
  options.onProgress?.(`mysql.${table}: ${keys} keys scanned for deletions`);
  return keys;
}

function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value);
}
