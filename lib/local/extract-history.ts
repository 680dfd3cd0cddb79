import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parse as parseCsv } from 'csv-parse/sync';
import { isLosslessNumber, parse as parseJson } from 'lossless-json';
import type { Customer360Config } from '../config/schema.js';
import { quoteIdent, sqlString } from '../schema/derive.js';
import { rawHistoryOrders } from '../schema/tables.js';
import { extractionPrefix, RawPartitionWriter } from './raw-writer.js';
import { readState, writeState } from './state.js';

export type HistorySourceConfig = Customer360Config['sources']['history'];

export interface ExtractHistoryOptions {
  /** Folder holding the legacy order files (the local stand-in for the landing prefix). */
  readonly historyDir: string;
  readonly config: HistorySourceConfig;
  readonly engine: DuckDBConnection;
  readonly lakeRoot: string;
  readonly ingestDate: string;
  readonly onProgress?: (message: string) => void;
}

interface LandedFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ingestDate: string;
  readonly rows: number;
}

interface HistoryManifest {
  readonly files: Record<string, LandedFile>;
}

export interface ExtractHistoryResult {
  /** Files landed by this run with their raw rows (rows that could not be read included). */
  readonly files: readonly { readonly file: string; readonly rows: number; readonly readErrors: number }[];
  /** Files already landed and unchanged. */
  readonly skipped: readonly string[];
  /** Files under the folder that are not order files of the configured format. */
  readonly ignored: readonly string[];
  readonly rows: number;
}

/**
 * Why a file, or one line of it, could not be read. The reason reaches stage.rejects; the detail
 * says what was wrong without quoting the line, which may hold a customer's email.
 */
export type ReadErrorReason =
  | 'empty_file'
  | 'unreadable_file'
  | 'invalid_utf8'
  | 'malformed_csv'
  | 'too_many_fields'
  | 'too_few_fields'
  | 'invalid_json';

interface ReadError {
  readonly reason: ReadErrorReason;
  readonly detail: string;
}

/** Values of one file row under the raw column names, as text or null. */
type Mapped = Readonly<Record<(typeof MAPPED)[number][0], string | null>>;

/** One raw row: a line read and mapped, or a line (null: the whole file) that could not be read. */
type FileRow =
  | { readonly line: number; readonly mapped: Mapped; readonly error?: undefined }
  | { readonly line: number | null; readonly mapped?: undefined; readonly error: ReadError };

const EXTENSIONS: Record<HistorySourceConfig['format'], readonly string[]> = {
  csv: ['.csv', '.txt'],
  jsonl: ['.jsonl', '.json', '.ndjson'],
  parquet: ['.parquet'],
};

/** Raw column <- key of `sources.history.columns` naming the file column. */
const MAPPED = [
  ['order_ref', 'orderId'],
  ['customer_ref', 'customer'],
  ['order_date', 'orderDate'],
  ['amount', 'amount'],
  ['quantity', 'quantity'],
] as const;

/** Text files may be gzipped (`orders.csv.gz`); Parquet compresses inside the file. */
function isOrderFile(name: string, format: HistorySourceConfig['format']): boolean {
  const lower = name.toLowerCase();
  const plain = format !== 'parquet' && lower.endsWith('.gz') ? lower.slice(0, -3) : lower;
  return EXTENSIONS[format].includes(extname(plain));
}

function listFiles(
  dir: string,
  format: HistorySourceConfig['format'],
  ignored: string[],
  root = dir,
): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listFiles(path, format, ignored, root));
    else if (isOrderFile(entry.name, format)) found.push(path);
    else ignored.push(relative(root, path).split(sep).join('/'));
  }
  return found.sort();
}

/**
 * A path DuckDB opens as it is: its readers take a glob, so `[`, `*` and `?` in a file or folder
 * name are each put in a character class of their own (`orders-[a].parquet` -> `orders-[[]a].parquet`).
 */
export function duckdbLiteralPath(path: string): string {
  return path.replace(/[[*?]/g, (c) => `[${c}]`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The file's text, line by line: a line that is not UTF-8 becomes an empty line (so every other
 * line keeps its number) and is reported by number and byte offset, never by its content.
 */
export function decodeLines(data: Uint8Array): { text: string; invalid: { line: number; detail: string }[] } {
  const lines: string[] = [];
  const invalid: { line: number; detail: string }[] = [];
  let start = 0;
  while (start <= data.length) {
    let end = data.indexOf(0x0a, start);
    if (end === -1) end = data.length;
    const bytes = data.subarray(start, end);
    try {
      lines.push(utf8.decode(bytes));
    } catch {
      invalid.push({
        line: lines.length + 1,
        detail: `not UTF-8 at byte ${firstInvalidByte(bytes) + 1} of the line`,
      });
      lines.push('');
    }
    start = end + 1;
  }
  const text = lines.join('\n');
  return { text: text.startsWith('\uFEFF') ? text.slice(1) : text, invalid };
}

/** Index of the first byte of the first sequence that is not UTF-8 (as Python's `UnicodeDecodeError.start`). */
function firstInvalidByte(bytes: Uint8Array): number {
  // The longest prefix that decodes in streaming mode, which allows a character cut at the end.
  let low = 0;
  let high = bytes.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (decodes(bytes.subarray(0, mid), true)) low = mid;
    else high = mid - 1;
  }
  if (decodes(bytes.subarray(0, low), false)) return low;
  // The prefix ends inside a sequence that the next byte does not continue: it starts at its lead byte.
  let start = low - 1;
  while (start > 0 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start -= 1;
  return start;
}

function decodes(bytes: Uint8Array, stream: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream });
    return true;
  } catch {
    return false;
  }
}

function missingColumnError(file: string, column: string, key: string, available: readonly string[]): Error {
  return new Error(
    `History file ${file} has no column "${column}" (sources.history.columns.${key}); its columns are: ${available.join(', ')}`,
  );
}

function checkColumns(
  file: string,
  mapping: HistorySourceConfig['columns'],
  available: readonly string[],
): void {
  for (const [, key] of MAPPED) {
    const column = mapping[key];
    if (column && !available.includes(column)) throw missingColumnError(file, column, key, available);
  }
}

function mapRecord(
  mapping: HistorySourceConfig['columns'],
  value: (column: string) => string | null,
): Mapped {
  const mapped: Record<string, string | null> = {};
  for (const [target, key] of MAPPED) {
    const column = mapping[key];
    mapped[target] = column ? value(column) : null;
  }
  return mapped as Mapped;
}

/**
 * Rows of a CSV file with a header row. Line numbers are the file's: the header is line 1, and a
 * row whose quoted value spans lines is numbered by its first line. A row whose field count
 * differs from the header's is a read error, never padded or cut to fit.
 */
export function csvFileRows(
  file: string,
  data: Uint8Array,
  mapping: HistorySourceConfig['columns'],
): FileRow[] {
  const { text, invalid } = decodeLines(data);
  const rows: FileRow[] = invalid.map(({ line, detail }) => ({
    line,
    error: { reason: 'invalid_utf8', detail },
  }));
  if (invalid[0]?.line === 1)
    return [{ line: 1, error: { reason: 'invalid_utf8', detail: 'the header row is not UTF-8' } }];
  const unclosed: number[] = [];
  const records = parseCsv(text, {
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    // With relaxed quotes only a quote never closed is left to fail; it takes the rest of the file.
    on_skip: (error) => {
      unclosed.push(Number(error?.lines ?? 0));
      return undefined;
    },
  }) as unknown as { record: string[]; info: { lines: number } }[];
  if (unclosed.length > 0) {
    const lines = text.split('\n');
    const before = records.filter((r) => r.info.lines < (unclosed[0] ?? 0)).at(-1)?.info.lines ?? 0;
    let line = before + 1;
    while (line < lines.length && (lines[line - 1] ?? '').trim() === '') line += 1;
    rows.push({
      line,
      error: { reason: 'malformed_csv', detail: 'a quoted value opened on this line is never closed' },
    });
  }
  const header = records[0]?.record;
  if (!header) return [{ line: null, error: { reason: 'empty_file', detail: 'the file has no header row' } }];
  checkColumns(file, mapping, header);
  const position = new Map(header.map((name, index) => [name, index]));
  for (const { record, info } of records.slice(1)) {
    const newlines = record.reduce((sum, field) => sum + field.split('\n').length - 1, 0);
    const line = info.lines - newlines;
    if (record.length !== header.length) {
      const reason = record.length > header.length ? 'too_many_fields' : 'too_few_fields';
      rows.push({
        line,
        error: { reason, detail: `${record.length} fields where the header has ${header.length}` },
      });
      continue;
    }
    rows.push({ line, mapped: mapRecord(mapping, (column) => record[position.get(column) ?? -1] ?? null) });
  }
  return rows;
}

/** A JSON value as the text it was written with: numbers keep their digits ("12.50", "1e3"). */
function jsonText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (isLosslessNumber(value)) return value.value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(value, (_key, inner: unknown) =>
    isLosslessNumber(inner) ? Number(inner.value) : inner,
  );
}

/**
 * Rows of a JSON-lines file, numbered by line (blank lines skipped but counted). A line that is
 * not a JSON object is a read error; a record without a mapped key gives null for it, so stage
 * names the missing value. A mapped column that no record has is a configuration error.
 */
export function jsonlFileRows(
  file: string,
  data: Uint8Array,
  mapping: HistorySourceConfig['columns'],
): FileRow[] {
  const { text, invalid } = decodeLines(data);
  const bad = new Map(invalid.map(({ line, detail }) => [line, detail]));
  const rows: FileRow[] = [];
  const objects: { line: number; record: Record<string, unknown> }[] = [];
  text.split('\n').forEach((content, index) => {
    const line = index + 1;
    const detail = bad.get(line);
    if (detail !== undefined) rows.push({ line, error: { reason: 'invalid_utf8', detail } });
    else if (content.trim() === '') return;
    else {
      let record: unknown;
      try {
        record = parseJson(content);
      } catch {
        rows.push({ line, error: { reason: 'invalid_json', detail: 'not JSON' } });
        return;
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        rows.push({ line, error: { reason: 'invalid_json', detail: 'not a JSON object' } });
      } else objects.push({ line, record: record as Record<string, unknown> });
    }
  });
  if (objects.length > 0)
    checkColumns(file, mapping, [...new Set(objects.flatMap((o) => Object.keys(o.record)))].sort());
  for (const { line, record } of objects) {
    rows.push({ line, mapped: mapRecord(mapping, (column) => jsonText(record[column])) });
  }
  return rows.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** The raw values of a file row, in the raw table's column order. */
function rawValues(file: string, row: FileRow, ingestedAt: string): (string | null)[] {
  const values: Record<string, string | null> = {
    source_file: file,
    line_number: row.line === null ? null : String(row.line),
    order_ref: null,
    customer_ref: null,
    order_date: null,
    amount: null,
    quantity: null,
    ...row.mapped,
    ingested_at: ingestedAt,
    read_error: row.error?.reason ?? null,
    read_error_detail: row.error?.detail ?? null,
  };
  return rawHistoryOrders.columns.map((c) => values[c.name] ?? null);
}

/** The rows of a CSV or JSON-lines file, or the one read error that stands for the whole file. */
function textFileRows(file: string, path: string, config: HistorySourceConfig): FileRow[] {
  let data: Uint8Array = readFileSync(path);
  if (path.toLowerCase().endsWith('.gz')) {
    try {
      data = gunzipSync(data);
    } catch (error) {
      return [
        {
          line: null,
          error: {
            reason: 'unreadable_file',
            detail: `not a gzip file (${(error as { code?: string }).code ?? 'unknown error'})`,
          },
        },
      ];
    }
  }
  if (data.length === 0)
    return [{ line: null, error: { reason: 'empty_file', detail: 'the file has no bytes' } }];
  return config.format === 'csv'
    ? csvFileRows(file, data, config.columns)
    : jsonlFileRows(file, data, config.columns);
}

/**
 * The query of a Parquet file's rows, numbered from 1 in file order (Parquet has no header line),
 * after checking that the file has the mapped columns.
 */
async function parquetQuery(
  engine: DuckDBConnection,
  file: string,
  path: string,
  config: HistorySourceConfig,
  ingestedAt: string,
): Promise<string> {
  const source = `read_parquet(${sqlString(duckdbLiteralPath(path))}, file_row_number = true)`;
  const available = (await engine.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`))
    .getRowObjectsJson()
    .map((row) => String(row.column_name))
    .filter((name) => name !== 'file_row_number');
  checkColumns(file, config.columns, available);
  const pick = (column: string | null | undefined) =>
    column ? `CAST(${quoteIdent(column)} AS VARCHAR)` : 'NULL';
  const mapping = config.columns;
  return `
    SELECT ${sqlString(file)} AS source_file,
           file_row_number + 1 AS line_number,
           ${pick(mapping.orderId)} AS order_ref,
           ${pick(mapping.customer)} AS customer_ref,
           ${pick(mapping.orderDate)} AS order_date,
           ${pick(mapping.amount)} AS amount,
           ${pick(mapping.quantity)} AS quantity,
           ${sqlString(ingestedAt)} AS ingested_at,
           NULL AS read_error,
           NULL AS read_error_detail
    FROM ${source}`;
}

/**
 * Lands legacy order files as raw Parquet with the configured column mapping: each new or changed
 * file once, its values kept as text, with the file name and line of every row so a reject at
 * stage can be traced back to it. A file or line that cannot be read lands as a row carrying the
 * reason (`read_error`) instead of failing the run; only a configuration that names a column the
 * file lacks stops it.
 */
export async function extractHistory(options: ExtractHistoryOptions): Promise<ExtractHistoryResult> {
  const { config, engine } = options;
  if (!existsSync(options.historyDir)) {
    throw new Error(`History folder ${options.historyDir} does not exist (sources.history)`);
  }
  const manifest = readState<HistoryManifest>(options.lakeRoot, 'history', 'manifest') ?? { files: {} };
  const landed: Record<string, LandedFile> = { ...manifest.files };
  const results: { file: string; rows: number; readErrors: number }[] = [];
  const skipped: string[] = [];
  const ignored: string[] = [];
  const ingestedAt = new Date().toISOString().replace('T', ' ').replace('Z', '');

  for (const path of listFiles(options.historyDir, config.format, ignored)) {
    const file = relative(options.historyDir, path).split(sep).join('/');
    const { size, mtimeMs } = statSync(path);
    const previous = landed[file];
    if (previous && previous.size === size && previous.mtimeMs === mtimeMs) {
      skipped.push(file);
      continue;
    }
    // Read and checked before the writer opens, so a configuration error leaves nothing half-written.
    let rows: FileRow[] | undefined;
    let query: string | undefined;
    if (config.format !== 'parquet') rows = textFileRows(file, path, config);
    else if (size === 0)
      rows = [{ line: null, error: { reason: 'empty_file', detail: 'the file has no bytes' } }];
    else
      query = await parquetQuery(engine, file, path, config, ingestedAt).catch((error: Error) => {
        if (error.message.startsWith('History file')) throw error;
        throw new Error(`Reading history file ${file} as parquet failed: ${error.message}`, { cause: error });
      });
    const prefix = extractionPrefix('history', `${file}|${size}|${mtimeMs}`);
    const writer = await RawPartitionWriter.open(
      engine,
      options.lakeRoot,
      rawHistoryOrders,
      { ingest_date: options.ingestDate },
      prefix,
    );
    try {
      for (const row of rows ?? []) await writer.append(rawValues(file, row, ingestedAt));
      if (query) await writer.appendQuery(query);
    } catch (error) {
      await writer.abort();
      // A Parquet reader error names a structure (footer, page, column), not a value.
      throw new Error(
        `Reading history file ${file} as ${config.format} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const written = await writer.close();
    const readErrors = rows?.filter((row) => row.error).length ?? 0;
    landed[file] = { size, mtimeMs, ingestDate: options.ingestDate, rows: written.rows };
    // The manifest advances file by file, so a failure part-way lands each file exactly once.
    writeState(options.lakeRoot, 'history', 'manifest', { files: landed } satisfies HistoryManifest);
    results.push({ file, rows: written.rows, readErrors });
    options.onProgress?.(
      `history ${file}: ${written.rows} rows${readErrors > 0 ? ` (${readErrors} could not be read, see stage.rejects)` : ''}`,
    );
  }
  if (ignored.length > 0) {
    options.onProgress?.(
      `history: ignored ${ignored.length} file(s) that are not ${config.format} order files: ${ignored.join(', ')}`,
    );
  }
  return { files: results, skipped, ignored, rows: results.reduce((sum, r) => sum + r.rows, 0) };
}
