import { Catalog } from './catalog.js';
import { DynamoDbSink, type DynamoDbTarget } from './dynamodb.js';
import { DynamoDbExportSink, type DynamoDbExportTarget } from './dynamodb-export.js';
import { type DatasetSink, FileSink, type FileSinkOptions, HistorySink } from './files.js';
import { type Manifest, ManifestBuilder } from './manifest.js';
import { type PersonBatch, PersonModel } from './model.js';
import { MysqlSink, type MysqlTarget } from './mysql.js';
import { type GenerateOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type { SqlRow } from './rows.js';

/** The people of a data set, one batch of rows per person, generated lazily and in order. */
export class DatasetGenerator {
  readonly options: ResolvedOptions;
  readonly catalog: Catalog;
  private readonly model: PersonModel;

  constructor(options: GenerateOptions) {
    this.options = resolveOptions(options);
    this.catalog = new Catalog(this.options);
    this.model = new PersonModel(this.options, this.catalog);
  }

  productRows(): SqlRow[] {
    return this.catalog.products.map((p) => [...p.row]);
  }

  /** Person 1..N; order ids are consecutive across people in this order. */
  *people(): Generator<PersonBatch> {
    let nextOrderId = 1;
    for (let personId = 1; personId <= this.options.customers; personId++) {
      const batch = this.model.simulate(personId, nextOrderId);
      nextOrderId += batch.orders.length;
      yield batch;
    }
  }
}

export interface DatasetTargets {
  /** Load the four MySQL tables (created from lib/sources/mysql-schema.sql). */
  readonly mysql?: MysqlTarget;
  /** Load the interactions table (created if missing). */
  readonly dynamodb?: DynamoDbTarget;
  /** Write the interactions as a DynamoDB table export folder (manifests and gzip data files). */
  readonly dynamodbExport?: DynamoDbExportTarget;
  /** Write the legacy history CSV files into this folder. */
  readonly historyDir?: string;
  /**
   * Write files under `files.dir`: always `manifest.json` and `anomalies.jsonl`; the MySQL tables,
   * interactions and history as the flags say (each defaults to true).
   */
  readonly files?: FileSinkOptions & { readonly dir: string };
  /** More consumers of the rows (tests use counting sinks). */
  readonly sinks?: readonly DatasetSink[];
  /** Called every `progressEvery` people with the number done. */
  readonly onProgress?: (people: number) => void;
  readonly progressEvery?: number;
}

export interface DatasetResult {
  readonly manifest: Manifest;
  /** Most rows held by the MySQL loader and items by the DynamoDB loader at once (memory bounds). */
  readonly maxHeld: { readonly mysqlRows: number; readonly dynamodbItems: number };
}

/**
 * Generates a data set and streams it to the targets, person by person, waiting whenever a target's
 * buffer is full, so memory stays bounded whatever the number of customers. Returns the manifest
 * (also written as `manifest.json` when `files` is given).
 */
export async function generateDataset(
  options: GenerateOptions,
  targets: DatasetTargets,
): Promise<DatasetResult> {
  const generator = new DatasetGenerator(options);
  const builder = new ManifestBuilder(generator.options);
  const sinks: DatasetSink[] = [];
  let mysqlSink: MysqlSink | null = null;
  let dynamoSink: DynamoDbSink | null = null;
  try {
    if (targets.mysql) {
      mysqlSink = await MysqlSink.open(targets.mysql);
      sinks.push(mysqlSink);
    }
    if (targets.dynamodb) {
      dynamoSink = await DynamoDbSink.open(targets.dynamodb);
      sinks.push(dynamoSink);
    }
    if (targets.dynamodbExport) sinks.push(new DynamoDbExportSink(targets.dynamodbExport));
    if (targets.historyDir) sinks.push(new HistorySink(targets.historyDir));
    if (targets.files) sinks.push(new FileSink(targets.files.dir, targets.files));
    sinks.push(...(targets.sinks ?? []));

    const products = generator.productRows();
    builder.addProducts(products.length);
    for (const sink of sinks) await sink.products(products);
    const every = targets.progressEvery ?? 10_000;
    let done = 0;
    for (const batch of generator.people()) {
      builder.add(batch);
      for (const sink of sinks) {
        const wait = sink.write(batch);
        if (wait) await wait;
      }
      done++;
      if (targets.onProgress && done % every === 0) targets.onProgress(done);
    }
    const manifest = builder.build();
    for (const sink of sinks) await sink.finish(manifest);
    return {
      manifest,
      maxHeld: { mysqlRows: mysqlSink?.maxHeldRows ?? 0, dynamodbItems: dynamoSink?.maxHeldItems ?? 0 },
    };
  } catch (error) {
    await Promise.allSettled(sinks.map((s) => s.abort()));
    throw error;
  }
}
