import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import {
  type AttributeValue,
  type DynamoDBClient,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection } from '@duckdb/node-api';
import { rawDynamodbInteractions } from '../schema/tables.js';
import { extractionPrefix, RawPartitionWriter } from './raw-writer.js';
import { readState, writeState } from './state.js';

export interface ExtractDynamoDbOptions {
  /** The table to Scan; not needed when `exportDir` is given. */
  readonly client?: DynamoDBClient;
  /** The table's name; also the name of the extraction state (`_state/dynamodb/<table>.json`). */
  readonly tableName: string;
  /**
   * A DynamoDB table export folder (`manifest-summary.json`, `manifest-files.json`, `data/*.json.gz`,
   * as `npm run generate -- --dynamodb-export DIR` writes it or as copied down from an export's
   * `AWSDynamoDB/<ExportId>/` in S3) to read instead of scanning the table, as the cloud job does.
   * An export is landed once: its `exportTime` becomes the watermark, and an export no later than
   * the watermark lands nothing.
   * @default scan the table with `client`
   */
  readonly exportDir?: string;
  readonly engine: DuckDBConnection;
  readonly lakeRoot: string;
  /** `yyyy-MM-dd`: the raw partition the items land in. */
  readonly ingestDate: string;
  /**
   * Parallel Scan segments.
   * @default 4
   */
  readonly segments?: number;
  /**
   * Items written within this many seconds before the extraction started are left for the next run.
   * @default 5
   */
  readonly safetyLagSeconds?: number;
  /** @default 200_000 */
  readonly rowsPerFile?: number;
  /** Injected for tests; the extraction's notion of "now". */
  readonly now?: () => Date;
  readonly onProgress?: (message: string) => void;
}

interface DynamoDbState {
  /**
   * Items with `updated_at` up to and including this ISO time have been extracted (after an export:
   * the export's `exportTime`).
   */
  readonly watermark: string | null;
  /** The ARN of the last export landed, when the last extraction read one. */
  readonly lastExportArn?: string;
  readonly lastIngestDate: string;
  readonly lastRows: number;
}

export interface ExtractDynamoDbResult {
  readonly rows: number;
  readonly files: readonly string[];
  readonly watermark: string;
}

const dataColumns = rawDynamodbInteractions.columns.filter(
  (c) => c.name !== 'ingested_at' && c.name !== 'item_json',
);

/** Scalars as text, numbers with their exact decimal text; sets, lists and maps as DynamoDB JSON. */
function text(value: AttributeValue | undefined): string | null {
  if (value === undefined || value.NULL) return null;
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  if (value.BOOL !== undefined) return String(value.BOOL);
  return JSON.stringify(value);
}

/**
 * One raw row per item: the contract's attributes as text (numbers keep their exact decimal text),
 * and the whole item in DynamoDB JSON so attributes outside the contract are not lost.
 */
export function flattenItem(item: Record<string, AttributeValue>, ingestedAt: string): (string | null)[] {
  return [...dataColumns.map((c) => text(item[c.name])), JSON.stringify(item), ingestedAt];
}

/** The fields of `manifest-summary.json` the extraction relies on. */
interface ExportSummary {
  readonly exportArn: string;
  readonly exportTime: string;
  readonly manifestFilesS3Key?: string;
  readonly itemCount?: number;
  readonly outputFormat?: string;
}

function readExportSummary(exportDir: string): ExportSummary {
  const path = join(exportDir, 'manifest-summary.json');
  if (!existsSync(path))
    throw new Error(
      `DynamoDB export ${exportDir}: no manifest-summary.json (an export is complete only with it)`,
    );
  let summary: Partial<ExportSummary>;
  try {
    summary = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`DynamoDB export ${path}: ${(error as Error).message}`);
  }
  if (
    typeof summary.exportArn !== 'string' ||
    typeof summary.exportTime !== 'string' ||
    Number.isNaN(Date.parse(summary.exportTime))
  )
    throw new Error(`DynamoDB export ${path}: expected exportArn and an ISO exportTime`);
  if (summary.outputFormat !== undefined && summary.outputFormat !== 'DYNAMODB_JSON')
    throw new Error(`DynamoDB export ${path}: outputFormat ${summary.outputFormat}; expected DYNAMODB_JSON`);
  return summary as ExportSummary;
}

/**
 * The data files `manifest-files.json` lists, as local paths. Keys are relative to the export folder
 * (generated exports) or bucket keys ending in `.../AWSDynamoDB/<ExportId>/data/<file>` (real ones,
 * whose folder is that of `manifestFilesS3Key`), which are taken relative to the folder.
 */
export function exportDataFiles(
  exportDir: string,
  summary: { readonly manifestFilesS3Key?: string },
): { path: string; itemCount: number | undefined }[] {
  const manifestPath = join(exportDir, 'manifest-files.json');
  if (!existsSync(manifestPath)) throw new Error(`DynamoDB export ${exportDir}: no manifest-files.json`);
  const folder = posix.dirname(summary.manifestFilesS3Key ?? 'manifest-files.json');
  const files: { path: string; itemCount: number | undefined }[] = [];
  readFileSync(manifestPath, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (!line.trim()) return;
      let entry: { dataFileS3Key?: unknown; itemCount?: unknown };
      try {
        entry = JSON.parse(line);
      } catch (error) {
        throw new Error(`DynamoDB export ${manifestPath}, line ${index + 1}: ${(error as Error).message}`);
      }
      if (typeof entry.dataFileS3Key !== 'string')
        throw new Error(`DynamoDB export ${manifestPath}, line ${index + 1}: expected dataFileS3Key`);
      const key =
        folder !== '.' && entry.dataFileS3Key.startsWith(`${folder}/`)
          ? entry.dataFileS3Key.slice(folder.length + 1)
          : entry.dataFileS3Key;
      files.push({
        path: join(exportDir, key),
        itemCount: typeof entry.itemCount === 'number' ? entry.itemCount : undefined,
      });
    });
  return files;
}

/**
 * The item of one export data line, or null for a blank line or a deletion: `{"Item": {...}}` in a
 * full export, `{"Metadata", "Keys", "NewImage"}` in an incremental one (no `NewImage` when deleted).
 * The same rule as `item_from_export_line` in glue-scripts/extract_dynamodb.py.
 */
export function itemFromExportLine(line: string): Record<string, AttributeValue> | null {
  if (!line.trim()) return null;
  const record = JSON.parse(line) as {
    Item?: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
  };
  return record.Item ?? record.NewImage ?? null;
}

/** The lines of a gzip data file, failing (not waiting forever) when the file cannot be read. */
function exportLines(path: string): AsyncIterable<string> {
  const input = createReadStream(path);
  const gunzip = createGunzip();
  // pipe() does not pass a read error (a missing file) on to the gunzip stream the lines come from.
  input.on('error', (error) => gunzip.destroy(error));
  return createInterface({ input: input.pipe(gunzip), crlfDelay: Number.POSITIVE_INFINITY });
}

/** Lands the items of an export folder, once; the local counterpart of the cloud job's `land_export`. */
async function extractExport(
  options: ExtractDynamoDbOptions & { readonly exportDir: string },
  previous: DynamoDbState | undefined,
): Promise<ExtractDynamoDbResult> {
  const summary = readExportSummary(options.exportDir);
  const watermark = previous?.watermark ?? null;
  if (watermark !== null && Date.parse(summary.exportTime) <= Date.parse(watermark)) {
    options.onProgress?.(
      `dynamodb.${options.tableName}: export ${summary.exportArn} at ${summary.exportTime} is not past the watermark ${watermark}; nothing new`,
    );
    return { rows: 0, files: [], watermark };
  }
  const files = exportDataFiles(options.exportDir, summary);
  const now = options.now?.() ?? new Date();
  const ingestedAt = now.toISOString().replace('T', ' ').replace('Z', '');
  const writer = await RawPartitionWriter.open(
    options.engine,
    options.lakeRoot,
    rawDynamodbInteractions,
    { ingest_date: options.ingestDate },
    extractionPrefix('interactions', { watermark, export: summary.exportArn }),
    { rowsPerFile: options.rowsPerFile },
  );
  try {
    for (const file of files) {
      let items = 0;
      let lineNumber = 0;
      // DynamoDB writes an empty object for an empty table partition, which is no gzip stream.
      const empty = existsSync(file.path) && statSync(file.path).size === 0;
      const lines: AsyncIterable<string> | Iterable<string> = empty ? [] : exportLines(file.path);
      for await (const line of lines) {
        lineNumber++;
        let item: Record<string, AttributeValue> | null;
        try {
          item = itemFromExportLine(line);
        } catch (error) {
          throw new Error(`${file.path}, line ${lineNumber}: ${(error as Error).message}`, { cause: error });
        }
        if (item === null) continue;
        await writer.append(flattenItem(item, ingestedAt));
        items++;
      }
      if (file.itemCount !== undefined && items !== file.itemCount)
        throw new Error(`${file.path}: ${items} items; manifest-files.json says ${file.itemCount}`);
    }
  } catch (error) {
    await writer.abort();
    throw new Error(`Reading DynamoDB export ${options.exportDir} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const written = await writer.close();
  writeState(options.lakeRoot, 'dynamodb', options.tableName, {
    watermark: summary.exportTime,
    lastExportArn: summary.exportArn,
    lastIngestDate: options.ingestDate,
    lastRows: written.rows,
  } satisfies DynamoDbState);
  options.onProgress?.(
    `dynamodb.${options.tableName}: ${written.rows} items from export ${summary.exportArn}`,
  );
  return { rows: written.rows, files: written.files, watermark: summary.exportTime };
}

/**
 * Extracts items written since the previous extraction into
 * `raw/dynamodb/interactions/ingest_date=<date>/`: from a table export folder when `exportDir` is
 * given (as the cloud job does), otherwise with a parallel Scan of the table (the local stand-in for
 * the cloud job's incremental export). Both paths flatten items with `flattenItem`.
 */
export async function extractDynamoDb(options: ExtractDynamoDbOptions): Promise<ExtractDynamoDbResult> {
  const previous = readState<DynamoDbState>(options.lakeRoot, 'dynamodb', options.tableName);
  if (options.exportDir !== undefined)
    return extractExport({ ...options, exportDir: options.exportDir }, previous);
  const client = options.client;
  if (client === undefined)
    throw new Error(`Extracting DynamoDB table ${options.tableName}: expected a client or an exportDir`);
  const watermark = previous?.watermark ?? null;
  const now = options.now?.() ?? new Date();
  const upperBound = new Date(now.getTime() - (options.safetyLagSeconds ?? 5) * 1000).toISOString();
  const ingestedAt = now.toISOString().replace('T', ' ').replace('Z', '');
  const prefix = extractionPrefix('interactions', watermark);
  const writer = await RawPartitionWriter.open(
    options.engine,
    options.lakeRoot,
    rawDynamodbInteractions,
    { ingest_date: options.ingestDate },
    prefix,
    { rowsPerFile: options.rowsPerFile },
  );

  // The first extraction also takes items that lack `updated_at` (outside the contract, but raw keeps
  // everything); later ones cannot tell such items apart from those already taken.
  const filter =
    watermark === null
      ? '(#updated <= :upper) OR attribute_not_exists(#updated)'
      : '#updated > :watermark AND #updated <= :upper';
  const values: Record<string, AttributeValue> = { ':upper': { S: upperBound } };
  if (watermark !== null) values[':watermark'] = { S: watermark };

  // The appender is not re-entrant: segments hand their pages to one serial queue.
  let queue: Promise<void> = Promise.resolve();
  const enqueue = (items: Record<string, AttributeValue>[]) => {
    queue = queue.then(async () => {
      for (const item of items) await writer.append(flattenItem(item, ingestedAt));
    });
    return queue;
  };

  const segments = options.segments ?? 4;
  const scanSegment = async (segment: number) => {
    let exclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const input: ScanCommandInput = {
        TableName: options.tableName,
        Segment: segment,
        TotalSegments: segments,
        FilterExpression: filter,
        ExpressionAttributeNames: { '#updated': 'updated_at' },
        ExpressionAttributeValues: values,
        ExclusiveStartKey: exclusiveStartKey,
      };
      const page = await client.send(new ScanCommand(input));
      await enqueue(page.Items ?? []);
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey);
  };

  try {
    await Promise.all(Array.from({ length: segments }, (_, segment) => scanSegment(segment)));
    await queue;
  } catch (error) {
    await queue.catch(() => undefined);
    await writer.abort();
    const endpoint = await client.config.endpoint?.().catch(() => undefined);
    const where = endpoint ? `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port ?? ''}` : 'AWS';
    throw new Error(
      `Scanning DynamoDB table ${options.tableName} at ${where} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const written = await writer.close();
  writeState(options.lakeRoot, 'dynamodb', options.tableName, {
    watermark: upperBound,
    lastIngestDate: options.ingestDate,
    lastRows: written.rows,
  } satisfies DynamoDbState);
  options.onProgress?.(`dynamodb.${options.tableName}: ${written.rows} new or changed items`);
  return { rows: written.rows, files: written.files, watermark: upperBound };
}
