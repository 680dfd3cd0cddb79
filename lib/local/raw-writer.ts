import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { duckdbConformingSelect, sqlString } from '../schema/derive.js';
import type { TableSchema } from '../schema/types.js';
import { partitionPath } from './lake.js';

export interface RawPartitionWriterOptions {
  /**
   * Rows buffered in DuckDB before they are written out as one Parquet file; bounds memory.
   * @default 200_000
   */
  readonly rowsPerFile?: number;
}

/**
 * The file prefix of one extraction: the same for every attempt that starts from the same point
 * (watermark, or file version), so a retry replaces the earlier attempt's files instead of adding to them.
 */
export function extractionPrefix(name: string, startingPoint: unknown): string {
  const digest = createHash('sha256').update(JSON.stringify(startingPoint)).digest('hex').slice(0, 16);
  return `${name}-${digest}`;
}

export interface RawWriteResult {
  readonly rows: number;
  readonly files: readonly string[];
}

/**
 * Streams rows into one raw partition as a set of Parquet files named `<filePrefix>-NNNNN.parquet`.
 *
 * Raw partitions accumulate: several extractions on one day each add their own file set and never
 * touch another's. A file set is swapped in only when complete, and a retry that uses the same
 * prefix (the extractors derive it from the starting watermark) replaces the earlier attempt's
 * files, so a crash between writing files and saving the watermark neither loses nor duplicates rows.
 *
 * Values arrive as text (or null) in the table's column order; the declared types are applied by
 * the conforming cast when each file is written, so the files match the Glue definition exactly.
 */
export class RawPartitionWriter {
  private appender: DuckDBAppender | undefined;
  private buffered = 0;
  private rows = 0;
  private readonly staged: string[] = [];

  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly table: TableSchema,
    private readonly target: string,
    private readonly stagingDir: string,
    private readonly bufferTable: string,
    private readonly filePrefix: string,
    private readonly rowsPerFile: number,
  ) {}

  static async open(
    connection: DuckDBConnection,
    lakeRoot: string,
    table: TableSchema,
    partition: Readonly<Record<string, string>>,
    filePrefix: string,
    options: RawPartitionWriterOptions = {},
  ): Promise<RawPartitionWriter> {
    if (!/^[A-Za-z0-9_-]+$/.test(filePrefix)) throw new Error(`Invalid file prefix "${filePrefix}"`);
    const id = randomUUID().replaceAll('-', '');
    const bufferTable = `raw_buffer_${id}`;
    const columns = table.columns.map((c) => `"${c.name}" VARCHAR`).join(', ');
    await connection.run(`CREATE TABLE ${bufferTable} (${columns})`);
    const stagingDir = join(lakeRoot, table.zone, '_tmp', `${table.name}-${id}`);
    mkdirSync(stagingDir, { recursive: true });
    const writer = new RawPartitionWriter(
      connection,
      table,
      partitionPath(lakeRoot, table, partition),
      stagingDir,
      bufferTable,
      filePrefix,
      options.rowsPerFile ?? 200_000,
    );
    writer.appender = await connection.createAppender(bufferTable);
    return writer;
  }

  /** Appends one row: one value per declared column, as text, or null. */
  async append(values: readonly (string | null | undefined)[]): Promise<void> {
    const appender = this.appender;
    if (!appender) throw new Error('RawPartitionWriter is closed');
    if (values.length !== this.table.columns.length) {
      throw new Error(
        `Expected ${this.table.columns.length} values for ${this.table.name}, got ${values.length}`,
      );
    }
    for (const value of values) {
      if (value === null || value === undefined) appender.appendNull();
      else appender.appendVarchar(value);
    }
    appender.endRow();
    this.buffered += 1;
    this.rows += 1;
    if (this.buffered >= this.rowsPerFile) await this.flushFile();
  }

  /**
   * Appends the rows of a DuckDB query (its columns in the table's order; cast to text here) and
   * writes them out as one or more files. For sources DuckDB reads itself, such as history files.
   */
  async appendQuery(query: string): Promise<void> {
    if (!this.appender) throw new Error('RawPartitionWriter is closed');
    await this.flushFile();
    const columns = this.table.columns.map((c) => `CAST("${c.name}" AS VARCHAR)`).join(', ');
    const result = await this.connection.run(
      `INSERT INTO ${this.bufferTable} SELECT ${columns} FROM (${query}) AS appended_rows`,
    );
    const inserted = Number(result.rowsChanged);
    this.rows += inserted;
    this.buffered += inserted;
    await this.flushFile();
  }

  private async flushFile(): Promise<void> {
    if (!this.appender) return;
    this.appender.flushSync();
    if (this.buffered === 0) return;
    const name = `${this.filePrefix}-${String(this.staged.length).padStart(5, '0')}.parquet`;
    const file = join(this.stagingDir, name);
    await this.connection.run(
      `COPY (${duckdbConformingSelect(this.table, `SELECT * FROM ${this.bufferTable}`)}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION snappy)`,
    );
    await this.connection.run(`DELETE FROM ${this.bufferTable}`);
    this.staged.push(name);
    this.buffered = 0;
  }

  /**
   * Writes the last file and swaps the file set into the partition, replacing any earlier file set
   * with the same prefix. An extraction that found no rows writes no file.
   */
  async close(): Promise<RawWriteResult> {
    await this.flushFile();
    this.appender?.closeSync();
    this.appender = undefined;
    await this.connection.run(`DROP TABLE IF EXISTS ${this.bufferTable}`);
    if (this.staged.length > 0) {
      mkdirSync(this.target, { recursive: true });
      this.removeEarlierAttempt();
      for (const name of this.staged) renameSync(join(this.stagingDir, name), join(this.target, name));
    }
    rmSync(this.stagingDir, { recursive: true, force: true });
    return { rows: this.rows, files: this.staged.map((name) => join(this.target, name)) };
  }

  /** Discards everything written so far (for a failed extraction). */
  async abort(): Promise<void> {
    this.appender?.closeSync();
    this.appender = undefined;
    await this.connection.run(`DROP TABLE IF EXISTS ${this.bufferTable}`);
    rmSync(this.stagingDir, { recursive: true, force: true });
  }

  private removeEarlierAttempt(): void {
    if (!existsSync(this.target)) return;
    for (const name of readdirSync(this.target)) {
      if (name.startsWith(`${this.filePrefix}-`)) rmSync(join(this.target, name));
    }
  }
}
