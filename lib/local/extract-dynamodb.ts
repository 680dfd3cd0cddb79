import { randomUUID } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import {
  type AttributeValue,
  type DynamoDBClient,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../schema/derive.js';
import { rawDynamodbInteractions } from '../schema/tables.js';
import { extractionPrefix, RawPartitionWriter } from './raw-writer.js';
import { readState, statePath, writeState } from './state.js';

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
  /**
   * After a Scan: the file (in `_state/dynamodb/<table>.keys/`) listing the key of every item the
   * Scan saw. The next Scan lands an item listed there and no longer in the table as removed, as
   * an incremental export does.
   */
  readonly keysFile?: string;
  readonly lastIngestDate: string;
  readonly lastRows: number;
}

export interface ExtractDynamoDbResult {
  /** Rows landed, removals included. */
  readonly rows: number;
  /** Of which removed items (incremental export records without `NewImage`, or gone since the last Scan). */
  readonly removed: number;
  readonly files: readonly string[];
  readonly watermark: string;
}

const dataColumns = rawDynamodbInteractions.columns.filter(
  (c) => c.name !== 'ingested_at' && c.name !== 'item_json' && c.name !== 'is_deleted',
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
  return [...dataColumns.map((c) => text(item[c.name])), JSON.stringify(item), ingestedAt, 'false'];
}

/**
 * The raw row of a removed item: its keys (the export record's `Keys`) and nothing else, marked
 * `is_deleted`; `item_json` holds the keys. The same rule as `removed_item_row` in
 * glue-scripts/extract_dynamodb.py.
 */
export function removedItemRow(keys: Record<string, AttributeValue>, ingestedAt: string): (string | null)[] {
  return [
    ...dataColumns.map((c) => (c.name in keys ? text(keys[c.name]) : null)),
    JSON.stringify(keys),
    ingestedAt,
    'true',
  ];
}

/**
 * The raw row of one export data line, or null for a blank line: a full export's `Item`, an
 * incremental export's `NewImage`, or, for an incremental record without `NewImage` (the item was
 * deleted in the export's window), a removal row from its `Keys`.
 */
export function rowFromExportLine(line: string, ingestedAt: string): (string | null)[] | null {
  if (!line.trim()) return null;
  const record = JSON.parse(line) as {
    Item?: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
    Keys?: Record<string, AttributeValue>;
  };
  const item = record.Item ?? record.NewImage;
  if (item) return flattenItem(item, ingestedAt);
  if (record.Keys) return removedItemRow(record.Keys, ingestedAt);
  throw new Error('expected Item, NewImage or Keys');
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
    return { rows: 0, removed: 0, files: [], watermark };
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
  let removed = 0;
  try {
    for (const file of files) {
      let items = 0;
      let lineNumber = 0;
      // DynamoDB writes an empty object for an empty table partition, which is no gzip stream.
      const empty = existsSync(file.path) && statSync(file.path).size === 0;
      const lines: AsyncIterable<string> | Iterable<string> = empty ? [] : exportLines(file.path);
      for await (const line of lines) {
        lineNumber++;
        let row: (string | null)[] | null;
        try {
          row = rowFromExportLine(line, ingestedAt);
        } catch (error) {
          throw new Error(`${file.path}, line ${lineNumber}: ${(error as Error).message}`, { cause: error });
        }
        if (row === null) continue;
        await writer.append(row);
        if (row[row.length - 1] === 'true') removed++;
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
    `dynamodb.${options.tableName}: ${written.rows} items from export ${summary.exportArn} (${removed} removed)`,
  );
  return { rows: written.rows, removed, files: written.files, watermark: summary.exportTime };
}

/** The keys of the table, as the contract names them (lib/sources/interactions.ts). */
const KEY_ATTRIBUTES = ['customer_key', 'event_key'] as const;

/**
 * Every page of a parallel Scan, handed to `onPage` one at a time (the DuckDB appenders it feeds are
 * not re-entrant).
 */
async function parallelScan(
  client: DynamoDBClient,
  input: Omit<ScanCommandInput, 'Segment' | 'TotalSegments' | 'ExclusiveStartKey'>,
  segments: number,
  onPage: (items: Record<string, AttributeValue>[]) => Promise<void>,
): Promise<void> {
  let queue: Promise<void> = Promise.resolve();
  const scanSegment = async (segment: number) => {
    let exclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          ...input,
          Segment: segment,
          TotalSegments: segments,
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      const items = page.Items ?? [];
      queue = queue.then(() => onPage(items));
      await queue;
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey);
  };
  try {
    await Promise.all(Array.from({ length: segments }, (_, segment) => scanSegment(segment)));
    await queue;
  } catch (error) {
    await queue.catch(() => undefined);
    throw error;
  }
}

/** The folder of a table's key listings: `raw/_state/dynamodb/<table>.keys/`. */
function keyListingDir(lakeRoot: string, tableName: string): string {
  return join(dirname(statePath(lakeRoot, 'dynamodb', tableName)), `${tableName}.keys`);
}

/**
 * Extracts items written since the previous extraction into
 * `raw/dynamodb/interactions/ingest_date=<date>/`: from a table export folder when `exportDir` is
 * given (as the cloud job does), otherwise with a parallel Scan of the table (the local stand-in for
 * the cloud job's incremental export). Both paths flatten items with `flattenItem`, and both land a
 * removed item as a row marked `is_deleted` (`removedItemRow`).
 *
 * The Scan path first lists every key in the table (a key-only Scan) and lands the keys of the
 * previous listing that are gone as removed, which is what an incremental export over the same
 * window would carry. The listing comes before the changed items: an item created after it has an
 * `updated_at` later than the upper bound, so it is not landed this time, and an item is never both
 * landed and removed by one extraction. The listing is kept beside the state, named after the
 * extraction's upper bound, and becomes the previous listing when the state is committed.
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
  const { engine } = options;
  const writer = await RawPartitionWriter.open(
    engine,
    options.lakeRoot,
    rawDynamodbInteractions,
    { ingest_date: options.ingestDate },
    prefix,
    { rowsPerFile: options.rowsPerFile },
  );
  const listingDir = keyListingDir(options.lakeRoot, options.tableName);
  const listingName = `${extractionPrefix('keys', upperBound)}.parquet`;
  const listingTable = `dynamodb_keys_${randomUUID().replaceAll('-', '')}`;

  // The first extraction also takes items that lack `updated_at` (outside the contract, but raw keeps
  // everything); later ones cannot tell such items apart from those already taken.
  const filter =
    watermark === null
      ? '(#updated <= :upper) OR attribute_not_exists(#updated)'
      : '#updated > :watermark AND #updated <= :upper';
  const values: Record<string, AttributeValue> = { ':upper': { S: upperBound } };
  if (watermark !== null) values[':watermark'] = { S: watermark };
  const segments = options.segments ?? 4;

  let removed = 0;
  try {
    await engine.run(`CREATE TABLE ${listingTable} (customer_key VARCHAR, event_key VARCHAR)`);
    const keys = await engine.createAppender(listingTable);
    await parallelScan(
      client,
      {
        TableName: options.tableName,
        ProjectionExpression: '#ck, #ek',
        ExpressionAttributeNames: { '#ck': KEY_ATTRIBUTES[0], '#ek': KEY_ATTRIBUTES[1] },
      },
      segments,
      async (items) => {
        for (const item of items) {
          for (const name of KEY_ATTRIBUTES) {
            const value = text(item[name]);
            if (value === null) keys.appendNull();
            else keys.appendVarchar(value);
          }
          keys.endRow();
        }
      },
    );
    keys.closeSync();
    await parallelScan(
      client,
      {
        TableName: options.tableName,
        FilterExpression: filter,
        ExpressionAttributeNames: { '#updated': 'updated_at' },
        ExpressionAttributeValues: values,
      },
      segments,
      async (items) => {
        for (const item of items) await writer.append(flattenItem(item, ingestedAt));
      },
    );
    const previousListing = previous?.keysFile ? join(listingDir, previous.keysFile) : undefined;
    if (previousListing && existsSync(previousListing)) {
      const gone = `SELECT p.customer_key, p.event_key FROM read_parquet(${sqlString(previousListing)}) AS p
        ANTI JOIN ${listingTable} AS c ON p.customer_key = c.customer_key AND p.event_key = c.event_key`;
      const counted = await engine.runAndReadAll(`SELECT count(*) AS n FROM (${gone})`);
      removed = Number(counted.getRowObjectsJson()[0]?.n ?? 0);
      // The rows removedItemRow gives, built in DuckDB: keys, the keys as item_json, is_deleted.
      const value = (name: string): string => {
        if (name === 'customer_key' || name === 'event_key') return name;
        if (name === 'item_json')
          return `json_object('customer_key', json_object('S', customer_key), 'event_key', json_object('S', event_key))`;
        if (name === 'ingested_at') return sqlString(ingestedAt);
        if (name === 'is_deleted') return 'true';
        return 'NULL';
      };
      const columns = rawDynamodbInteractions.columns.map((c) => `${value(c.name)} AS "${c.name}"`);
      await writer.appendQuery(`SELECT ${columns.join(', ')} FROM (${gone}) AS gone`);
    }
    mkdirSync(listingDir, { recursive: true });
    await engine.run(
      `COPY ${listingTable} TO ${sqlString(join(listingDir, listingName))} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } catch (error) {
    await writer.abort();
    await engine.run(`DROP TABLE IF EXISTS ${listingTable}`).catch(() => undefined);
    const endpoint = await client.config.endpoint?.().catch(() => undefined);
    const where = endpoint ? `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port ?? ''}` : 'AWS';
    throw new Error(
      `Scanning DynamoDB table ${options.tableName} at ${where} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  await engine.run(`DROP TABLE IF EXISTS ${listingTable}`);
  const written = await writer.close();
  writeState(options.lakeRoot, 'dynamodb', options.tableName, {
    watermark: upperBound,
    keysFile: listingName,
    lastIngestDate: options.ingestDate,
    lastRows: written.rows,
  } satisfies DynamoDbState);
  // Committed: earlier listings (and any a crashed attempt left) are no longer read.
  for (const name of readdirSync(listingDir)) if (name !== listingName) rmSync(join(listingDir, name));
  options.onProgress?.(
    `dynamodb.${options.tableName}: ${written.rows - removed} new or changed items, ${removed} removed`,
  );
  return { rows: written.rows, removed, files: written.files, watermark: upperBound };
}
