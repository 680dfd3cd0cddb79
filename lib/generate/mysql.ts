import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { type DatasetSink, Waits } from './files.js';
import type { PersonBatch } from './model.js';
import { MYSQL_COLUMNS, MYSQL_TABLES, type MysqlTable, type SqlRow, tsvLine } from './rows.js';

export interface MysqlConnectionInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface MysqlTarget {
  readonly connection: MysqlConnectionInfo;
  /**
   * `load-data`: LOAD DATA LOCAL INFILE fed from memory (the server must allow local_infile);
   * `insert`: multi-row INSERT statements.
   * @default 'load-data'
   */
  readonly method?: 'load-data' | 'insert';
  /**
   * Drop and recreate the four tables first. Without it, loading into tables that hold rows fails.
   * @default false
   */
  readonly reset?: boolean;
  /**
   * Rows per LOAD DATA statement (per INSERT statement: a tenth of it). Each table holds at most two
   * chunks in memory: one being filled, one being loaded.
   * @default 20000
   */
  readonly chunkRows?: number;
}

const SCHEMA_FILE = fileURLToPath(new URL('../sources/mysql-schema.sql', import.meta.url));

/** The CREATE TABLE statements of lib/sources/mysql-schema.sql. */
export function mysqlSchemaStatements(): string[] {
  const text = readFileSync(SCHEMA_FILE, 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return text
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Session settings for loading: UTC, and a sql_mode that keeps what legacy databases hold (zero dates,
 * impossible calendar dates such as 2024-02-30) instead of rejecting or silently zeroing it.
 */
export async function prepareLoadSession(conn: mysql.Connection): Promise<void> {
  await conn.query("SET SESSION sql_mode = 'ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION'");
  await conn.query("SET SESSION time_zone = '+00:00'");
}

export function connectMysql(info: MysqlConnectionInfo): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database: info.database,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
}

/** Creates the source tables (dropping them first when `reset`); fails if they already hold rows. */
export async function createMysqlTables(conn: mysql.Connection, reset: boolean): Promise<void> {
  if (reset) for (const table of MYSQL_TABLES) await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
  for (const statement of mysqlSchemaStatements()) await conn.query(statement);
  for (const table of MYSQL_TABLES) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT 1 FROM \`${table}\` LIMIT 1`);
    if (rows.length > 0) {
      throw new Error(`MySQL table ${table} already holds rows; load into empty tables or pass reset`);
    }
  }
}

/** Buffers one table's rows and loads them chunk by chunk: one chunk loading while the next fills. */
class TableLoader {
  private rows: SqlRow[] = [];
  /** The chain of chunk loads; rejects once any load failed. */
  private tail: Promise<void> = Promise.resolve();
  /** Rows held in memory: filling, queued or loading. */
  private held = 0;
  /** Most rows held at once, for the memory-bound tests. */
  maxHeld = 0;
  loaded = 0;

  constructor(
    private readonly conn: mysql.Connection,
    private readonly table: MysqlTable,
    private readonly method: 'load-data' | 'insert',
    private readonly chunkRows: number,
  ) {}

  add(row: SqlRow): Promise<void> | undefined {
    this.rows.push(row);
    this.held++;
    if (this.held > this.maxHeld) this.maxHeld = this.held;
    return this.rows.length >= this.chunkRows ? this.flush() : undefined;
  }

  /** Queues the filled chunk for loading; the returned promise settles when the chunk before it has. */
  flush(): Promise<void> {
    const rows = this.rows;
    this.rows = [];
    const previous = this.tail;
    if (rows.length === 0) return previous;
    const loading = previous
      .then(() => this.load(rows))
      .then(() => {
        this.held -= rows.length;
      });
    loading.catch(() => {}); // surfaced through the chain: by the next flush or by finish
    this.tail = loading;
    return previous;
  }

  finish(): Promise<void> {
    this.flush();
    return this.tail;
  }

  private async load(rows: SqlRow[]): Promise<void> {
    const columns = MYSQL_COLUMNS[this.table];
    if (this.method === 'insert') {
      const step = Math.max(1, Math.floor(this.chunkRows / 10));
      for (let k = 0; k < rows.length; k += step) {
        const part = rows.slice(k, k + step);
        const [result] = await this.conn.query<mysql.ResultSetHeader>(
          `INSERT INTO \`${this.table}\` (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ?`,
          [part],
        );
        await this.check(result, part.length);
      }
    } else {
      // Chunks of about 64 KiB: mysql2 sends each stream chunk as one protocol packet.
      const buffers: Buffer[] = [];
      let text = '';
      for (const row of rows) {
        text += tsvLine(row);
        if (text.length >= 65_536) {
          buffers.push(Buffer.from(text, 'utf8'));
          text = '';
        }
      }
      if (text) buffers.push(Buffer.from(text, 'utf8'));
      let result: mysql.ResultSetHeader;
      try {
        [result] = await this.conn.query<mysql.ResultSetHeader>({
          sql:
            `LOAD DATA LOCAL INFILE 'generated-${this.table}.tsv' INTO TABLE \`${this.table}\` ` +
            "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' " +
            `(${columns.map((c) => `\`${c}\``).join(', ')})`,
          infileStreamFactory: () => Readable.from(buffers),
          // The client sometimes never sees the server's answer to LOAD DATA LOCAL (seen here at 600,000
          // customers: the server idle, the promise pending forever; mysqljs/mysql#593): fail instead.
          timeout: LOAD_TIMEOUT_MS,
        });
      } catch (error) {
        if ((error as { code?: string }).code !== 'PROTOCOL_SEQUENCE_TIMEOUT') throw error;
        throw new Error(
          `loading ${this.table}: no answer to LOAD DATA LOCAL within ${LOAD_TIMEOUT_MS / 1000} s after ${this.loaded} rows; the client lost the server's reply (a known mysql2 hazard). Load again, or use method 'insert'.`,
          { cause: error },
        );
      }
      await this.check(result, rows.length);
    }
    this.loaded += rows.length;
  }

  /** Refuses silent changes: every row must land, with no warning (a truncated or zeroed value). */
  private async check(result: mysql.ResultSetHeader, expected: number): Promise<void> {
    if (result.affectedRows === expected && result.warningStatus === 0) return;
    const [warnings] = await this.conn.query<mysql.RowDataPacket[]>('SHOW WARNINGS LIMIT 5');
    throw new Error(
      `loading ${this.table}: ${result.affectedRows} of ${expected} rows, ${result.warningStatus} warnings: ` +
        warnings.map((w) => String(w.Message)).join('; '),
    );
  }
}

/** A chunk of 20,000 rows loads in well under a second; minutes of silence mean the reply was lost. */
const LOAD_TIMEOUT_MS = 120_000;

/** Loads the four source tables in bulk, one connection per table, the tables in parallel. */
export class MysqlSink implements DatasetSink {
  private constructor(
    private readonly connections: mysql.Connection[],
    private readonly loaders: Record<MysqlTable, TableLoader>,
  ) {}

  static async open(target: MysqlTarget): Promise<MysqlSink> {
    const method = target.method ?? 'load-data';
    const chunkRows = target.chunkRows ?? 20_000;
    const connections: mysql.Connection[] = [];
    try {
      for (const _ of MYSQL_TABLES) {
        const conn = await connectMysql(target.connection);
        connections.push(conn);
        await prepareLoadSession(conn);
      }
      await createMysqlTables(connections[0] as mysql.Connection, target.reset ?? false);
    } catch (error) {
      await Promise.allSettled(connections.map((c) => c.end()));
      throw error;
    }
    const loaders = Object.fromEntries(
      MYSQL_TABLES.map((table, k) => [
        table,
        new TableLoader(connections[k] as mysql.Connection, table, method, chunkRows),
      ]),
    ) as Record<MysqlTable, TableLoader>;
    return new MysqlSink(connections, loaders);
  }

  /** Most rows any table held in memory at once. */
  get maxHeldRows(): number {
    return Math.max(...Object.values(this.loaders).map((l) => l.maxHeld));
  }

  async products(rows: readonly SqlRow[]): Promise<void> {
    for (const row of rows) {
      const wait = this.loaders.products.add(row);
      if (wait) await wait;
    }
  }

  write(batch: PersonBatch): Promise<void> | undefined {
    const waits = new Waits();
    if (batch.customer) waits.add(this.loaders.customers.add(batch.customer));
    for (const row of batch.orders) waits.add(this.loaders.orders.add(row));
    for (const row of batch.items) waits.add(this.loaders.order_items.add(row));
    return waits.done();
  }

  async finish(): Promise<void> {
    try {
      await Promise.all(Object.values(this.loaders).map((l) => l.finish()));
    } finally {
      await Promise.allSettled(this.connections.map((c) => c.end()));
    }
  }

  async abort(): Promise<void> {
    await Promise.allSettled(this.connections.map((c) => c.destroy()));
  }
}
