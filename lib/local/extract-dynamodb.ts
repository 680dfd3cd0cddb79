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
  readonly client: DynamoDBClient;
  readonly tableName: string;
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
  /** Items with `updated_at` up to and including this ISO time have been extracted. */
  readonly watermark: string | null;
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

/**
 * Extracts items written since the previous extraction with a parallel Scan (the local stand-in for
 * the cloud job's incremental table export) into `raw/dynamodb/interactions/ingest_date=<date>/`.
 */
export async function extractDynamoDb(options: ExtractDynamoDbOptions): Promise<ExtractDynamoDbResult> {
  const previous = readState<DynamoDbState>(options.lakeRoot, 'dynamodb', options.tableName);
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
      const page = await options.client.send(new ScanCommand(input));
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
    const endpoint = await options.client.config.endpoint?.().catch(() => undefined);
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
