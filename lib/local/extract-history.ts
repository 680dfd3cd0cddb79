import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
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
  readonly files: readonly { readonly file: string; readonly rows: number }[];
  readonly skipped: readonly string[];
  readonly rows: number;
}

const EXTENSIONS: Record<HistorySourceConfig['format'], readonly string[]> = {
  csv: ['.csv', '.txt'],
  jsonl: ['.jsonl', '.json', '.ndjson'],
  parquet: ['.parquet'],
};

function listFiles(dir: string, extensions: readonly string[]): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listFiles(path, extensions));
    else if (extensions.includes(extname(entry.name).toLowerCase())) found.push(path);
  }
  return found.sort();
}

/** Every value as text, exactly as written: typing and quarantine happen at stage. */
function readerFor(format: HistorySourceConfig['format'], file: string): string {
  switch (format) {
    case 'csv':
      return `read_csv(${sqlString(file)}, header = true, all_varchar = true, null_padding = true, strict_mode = false)`;
    case 'jsonl':
      // Objects, not inferred columns: a number keeps the text it was written with ("7", not "7.0").
      return `read_ndjson_objects(${sqlString(file)})`;
    case 'parquet':
      return `read_parquet(${sqlString(file)})`;
  }
}

/**
 * Lands legacy order files as raw Parquet with the configured column mapping: each new or changed
 * file once, its values kept as text, with the file name and row number of every row so a reject at
 * stage can be traced back to its line.
 */
export async function extractHistory(options: ExtractHistoryOptions): Promise<ExtractHistoryResult> {
  const { config, engine } = options;
  if (!existsSync(options.historyDir)) {
    throw new Error(`History folder ${options.historyDir} does not exist (sources.history)`);
  }
  const manifest = readState<HistoryManifest>(options.lakeRoot, 'history', 'manifest') ?? { files: {} };
  const landed: Record<string, LandedFile> = { ...manifest.files };
  const results: { file: string; rows: number }[] = [];
  const skipped: string[] = [];
  const ingestedAt = new Date().toISOString().replace('T', ' ').replace('Z', '');

  for (const path of listFiles(options.historyDir, EXTENSIONS[config.format])) {
    const file = relative(options.historyDir, path).split(sep).join('/');
    const { size, mtimeMs } = statSync(path);
    const previous = landed[file];
    if (previous && previous.size === size && previous.mtimeMs === mtimeMs) {
      skipped.push(file);
      continue;
    }
    const source = readerFor(config.format, path);
    const available =
      config.format === 'jsonl'
        ? (
            await engine.runAndReadAll(
              `SELECT DISTINCT unnest(json_keys(json)) AS column_name FROM ${source} ORDER BY column_name`,
            )
          )
            .getRowObjectsJson()
            .map((row) => String(row.column_name))
        : (await engine.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`))
            .getRowObjectsJson()
            .map((row) => String(row.column_name));
    const mapping = config.columns;
    const wanted: [string, string | null | undefined][] = [
      ['orderId', mapping.orderId],
      ['customer', mapping.customer],
      ['orderDate', mapping.orderDate],
      ['amount', mapping.amount],
      ['quantity', mapping.quantity],
    ];
    for (const [key, column] of wanted) {
      if (column && !available.includes(column)) {
        throw new Error(
          `History file ${file} has no column "${column}" (sources.history.columns.${key}); its columns are: ${available.join(', ')}`,
        );
      }
    }
    const pick = (column: string | null | undefined) => {
      if (!column) return 'NULL';
      return config.format === 'jsonl'
        ? `json_extract_string(json, ${sqlString(`$."${column.replaceAll('"', '\\"')}"`)})`
        : `CAST(${quoteIdent(column)} AS VARCHAR)`;
    };
    const query = `
      SELECT ${sqlString(file)} AS source_file,
             row_number() OVER () AS line_number,
             ${pick(mapping.orderId)} AS order_ref,
             ${pick(mapping.customer)} AS customer_ref,
             ${pick(mapping.orderDate)} AS order_date,
             ${pick(mapping.amount)} AS amount,
             ${pick(mapping.quantity)} AS quantity,
             ${sqlString(ingestedAt)} AS ingested_at
      FROM ${source}`;
    const prefix = extractionPrefix('history', `${file}|${size}|${mtimeMs}`);
    const writer = await RawPartitionWriter.open(
      engine,
      options.lakeRoot,
      rawHistoryOrders,
      { ingest_date: options.ingestDate },
      prefix,
    );
    try {
      await writer.appendQuery(query);
    } catch (error) {
      await writer.abort();
      throw new Error(
        `Reading history file ${file} as ${config.format} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const written = await writer.close();
    landed[file] = { size, mtimeMs, ingestDate: options.ingestDate, rows: written.rows };
    // The manifest advances file by file, so a failure part-way lands each file exactly once.
    writeState(options.lakeRoot, 'history', 'manifest', { files: landed } satisfies HistoryManifest);
    results.push({ file, rows: written.rows });
    options.onProgress?.(`history ${file}: ${written.rows} rows`);
  }
  return { files: results, skipped, rows: results.reduce((sum, r) => sum + r.rows, 0) };
}
