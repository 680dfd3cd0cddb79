import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  type WriteRequest,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { INTERACTIONS_PARTITION_KEY, INTERACTIONS_SORT_KEY } from '../sources/interactions.js';
import type { DatasetSink } from './files.js';
import type { PersonBatch } from './model.js';
import { Rng } from './rng.js';
import type { EventItem } from './rows.js';

/** The only call the batch writer needs; a DynamoDBClient or a test double. */
export interface BatchWriteClient {
  send(command: BatchWriteItemCommand): Promise<BatchWriteItemCommandOutput>;
}

export interface RetryOptions {
  /**
   * Requests sent in all (the first one included) before giving up on unprocessed items.
   * @default 10
   */
  readonly maxAttempts?: number;
  /** @default 50 */
  readonly baseDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
  /** Uniform [0, 1) source for the jitter. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Jitter needs no cryptographic quality; a fixed seed keeps Math.random out of the generator. */
const jitter = new Rng('batch-write', 'jitter');
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One BatchWriteItem of up to 25 requests, resending UnprocessedItems with exponential backoff and
 * full jitter (a delay drawn uniformly from [0, min(max, base * 2^attempt)]). Throttling and network
 * errors are retried by the SDK client itself; this covers the partial success that the SDK does not.
 * Returns the number of requests sent.
 */
export async function batchWriteWithRetry(
  client: BatchWriteClient,
  tableName: string,
  requests: WriteRequest[],
  options: RetryOptions = {},
): Promise<number> {
  if (requests.length === 0) return 0;
  if (requests.length > 25)
    throw new Error(`BatchWriteItem takes at most 25 requests, got ${requests.length}`);
  const maxAttempts = options.maxAttempts ?? 10;
  const base = options.baseDelayMs ?? 50;
  const cap = options.maxDelayMs ?? 5000;
  const random = options.random ?? jitter.uniform;
  const sleep = options.sleep ?? defaultSleep;
  let pending = requests;
  for (let attempt = 1; ; attempt++) {
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
    const left = out.UnprocessedItems?.[tableName] ?? [];
    if (left.length === 0) return attempt;
    if (attempt >= maxAttempts) {
      throw new Error(
        `BatchWriteItem on ${tableName}: ${left.length} items still unprocessed after ${attempt} requests`,
      );
    }
    await sleep(Math.floor(random() * Math.min(cap, base * 2 ** attempt)));
    pending = left;
  }
}

/**
 * Creates the interactions table (on-demand capacity, keys per lib/sources/interactions.ts) if it is
 * missing, or checks its key schema if it exists. With `reset` an existing table is deleted first.
 */
export async function ensureInteractionsTable(
  client: DynamoDBClient,
  tableName: string,
  reset = false,
): Promise<void> {
  let exists = true;
  try {
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const keys = described.Table?.KeySchema ?? [];
    const hash = keys.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const range = keys.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    if (hash !== INTERACTIONS_PARTITION_KEY || range !== INTERACTIONS_SORT_KEY) {
      throw new Error(
        `DynamoDB table ${tableName} has keys ${hash}/${range}; expected ${INTERACTIONS_PARTITION_KEY}/${INTERACTIONS_SORT_KEY}`,
      );
    }
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    exists = false;
  }
  if (exists && reset) {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
    await waitUntilTableNotExists({ client, maxWaitTime: 120 }, { TableName: tableName });
    exists = false;
  }
  if (exists) return;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: INTERACTIONS_PARTITION_KEY, KeyType: 'HASH' },
        { AttributeName: INTERACTIONS_SORT_KEY, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: INTERACTIONS_PARTITION_KEY, AttributeType: 'S' },
        { AttributeName: INTERACTIONS_SORT_KEY, AttributeType: 'S' },
      ],
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 120 }, { TableName: tableName });
}

export interface DynamoDbTarget {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /**
   * BatchWriteItem requests in flight at once.
   * @default 8
   */
  readonly concurrency?: number;
  /**
   * Delete the table first if it exists (then create it).
   * @default false
   */
  readonly reset?: boolean;
  readonly retry?: RetryOptions;
}

/** Items as DynamoDB PutRequests. */
export function putRequest(item: EventItem): WriteRequest {
  return { PutRequest: { Item: marshall(item) } };
}

/** Writes items in batches of 25 with several batches in flight; at most concurrency + 1 batches held. */
export class DynamoDbSink implements DatasetSink {
  private buffer: WriteRequest[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private error: unknown = null;
  private readonly concurrency: number;
  /** Most items held at once (buffered plus in flight), for the memory-bound tests. */
  maxHeldItems = 0;
  written = 0;

  private constructor(private readonly target: DynamoDbTarget) {
    this.concurrency = target.concurrency ?? 8;
  }

  static async open(target: DynamoDbTarget): Promise<DynamoDbSink> {
    await ensureInteractionsTable(target.client, target.tableName, target.reset ?? false);
    return new DynamoDbSink(target);
  }

  products(): void {}

  write(batch: PersonBatch): Promise<void> | undefined {
    for (const item of batch.events) this.buffer.push(putRequest(item));
    this.maxHeldItems = Math.max(this.maxHeldItems, this.buffer.length + this.inFlight.size * 25);
    return this.buffer.length >= 25 ? this.drain(false) : undefined;
  }

  private async drain(all: boolean): Promise<void> {
    while (this.buffer.length >= 25 || (all && this.buffer.length > 0)) {
      while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
      if (this.error) throw this.error;
      const requests = this.buffer.splice(0, 25);
      const sending: Promise<void> = batchWriteWithRetry(
        this.target.client,
        this.target.tableName,
        requests,
        this.target.retry,
      ).then(
        () => {
          this.written += requests.length;
          this.inFlight.delete(sending);
        },
        (error: unknown) => {
          this.error ??= error;
          this.inFlight.delete(sending);
        },
      );
      this.inFlight.add(sending);
    }
    if (this.error) throw this.error;
  }

  async finish(): Promise<void> {
    await this.drain(true);
    await Promise.all(this.inFlight);
    if (this.error) throw this.error;
  }

  async abort(): Promise<void> {
    this.buffer = [];
    await Promise.allSettled(this.inFlight);
  }
}
