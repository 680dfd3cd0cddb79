import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Manifest } from './manifest.js';
import type { PersonBatch } from './model.js';
import { csvLine, HISTORY_COLUMNS, MYSQL_COLUMNS, type MysqlTable, type SqlRow, tsvLine } from './rows.js';

/**
 * A consumer of the generated rows. `write` is called once per person, in order; it returns a promise
 * only when the caller must wait (a buffer is full), which is how backpressure reaches the generator.
 */
export interface DatasetSink {
  products(rows: readonly SqlRow[]): void | Promise<void>;
  write(batch: PersonBatch): void | Promise<void>;
  /** Flushes everything; the manifest is final. */
  finish(manifest: Manifest): Promise<void>;
  /** Releases resources after a failure. */
  abort(): Promise<void>;
}

/** A text file written through a bounded buffer; `write` returns a promise when the disk lags. */
export class TextFileWriter {
  private readonly stream: WriteStream;
  private buffer = '';
  private error: Error | null = null;

  constructor(
    readonly path: string,
    private readonly flushAt = 256 * 1024,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.stream = createWriteStream(path);
    this.stream.on('error', (e) => {
      this.error = e;
    });
  }

  write(text: string): Promise<void> | undefined {
    if (this.error) throw this.error;
    this.buffer += text;
    if (this.buffer.length < this.flushAt) return undefined;
    const ok = this.stream.write(this.buffer);
    this.buffer = '';
    return ok ? undefined : once(this.stream, 'drain').then(() => undefined);
  }

  async close(): Promise<void> {
    if (this.error) throw this.error;
    if (this.buffer) this.stream.write(this.buffer);
    this.buffer = '';
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/** Collects the promises of several writes; undefined when none must be awaited. */
export class Waits {
  private list: Promise<void>[] | undefined;

  add(p: Promise<void> | void | undefined): void {
    if (!p) return;
    if (this.list) this.list.push(p);
    else this.list = [p];
  }

  done(): Promise<void> | undefined {
    return this.list ? Promise.all(this.list).then(() => undefined) : undefined;
  }
}

/** Legacy history files: `<dir>/orders-<year>.csv`, header `customer_id,date,quantity,amount`. */
export class HistorySink implements DatasetSink {
  private readonly files = new Map<string, TextFileWriter>();

  constructor(private readonly dir: string) {}

  products(): void {}

  write(batch: PersonBatch): Promise<void> | undefined {
    const waits = new Waits();
    for (const row of batch.history) {
      let file = this.files.get(row.file);
      if (!file) {
        file = new TextFileWriter(join(this.dir, row.file));
        file.write(csvLine(HISTORY_COLUMNS));
        this.files.set(row.file, file);
      }
      waits.add(file.write(csvLine(row.values)));
    }
    return waits.done();
  }

  async finish(): Promise<void> {
    for (const file of [...this.files.keys()].sort()) await this.files.get(file)?.close();
  }

  async abort(): Promise<void> {
    for (const file of this.files.values()) file.destroy();
  }
}

export interface FileSinkOptions {
  /** Write `mysql/<table>.tsv` (LOAD DATA text format with a header line). @default true */
  readonly mysql?: boolean;
  /** Write `dynamodb/interactions.jsonl` (one item per line, plain JSON). @default true */
  readonly dynamodb?: boolean;
  /** Write `history/orders-<year>.csv`. @default true */
  readonly history?: boolean;
}

/**
 * Everything as files under one folder: the tables and items requested, plus always `manifest.json`
 * and `anomalies.jsonl` (one planted dirty record per line: source, kind, key).
 */
export class FileSink implements DatasetSink {
  private readonly tables = new Map<MysqlTable, TextFileWriter>();
  private readonly events: TextFileWriter | null;
  private readonly history: HistorySink | null;
  private readonly anomalies: TextFileWriter;

  constructor(
    readonly dir: string,
    options: FileSinkOptions = {},
  ) {
    if (options.mysql !== false) {
      for (const table of Object.keys(MYSQL_COLUMNS) as MysqlTable[]) {
        const file = new TextFileWriter(join(dir, 'mysql', `${table}.tsv`));
        file.write(`${MYSQL_COLUMNS[table].join('\t')}\n`);
        this.tables.set(table, file);
      }
    }
    this.events =
      options.dynamodb !== false ? new TextFileWriter(join(dir, 'dynamodb', 'interactions.jsonl')) : null;
    this.history = options.history !== false ? new HistorySink(join(dir, 'history')) : null;
    this.anomalies = new TextFileWriter(join(dir, 'anomalies.jsonl'));
  }

  products(rows: readonly SqlRow[]): Promise<void> | undefined {
    const file = this.tables.get('products');
    if (!file) return undefined;
    const waits = new Waits();
    for (const row of rows) waits.add(file.write(tsvLine(row)));
    return waits.done();
  }

  write(batch: PersonBatch): Promise<void> | undefined {
    const waits = new Waits();
    const customers = this.tables.get('customers');
    if (customers) {
      if (batch.customer) waits.add(customers.write(tsvLine(batch.customer)));
      const orders = this.tables.get('orders') as TextFileWriter;
      for (const row of batch.orders) waits.add(orders.write(tsvLine(row)));
      const items = this.tables.get('order_items') as TextFileWriter;
      for (const row of batch.items) waits.add(items.write(tsvLine(row)));
    }
    if (this.events)
      for (const item of batch.events) waits.add(this.events.write(`${JSON.stringify(item)}\n`));
    if (this.history) waits.add(this.history.write(batch));
    for (const a of batch.anomalies) waits.add(this.anomalies.write(`${JSON.stringify(a)}\n`));
    return waits.done();
  }

  async finish(manifest: Manifest): Promise<void> {
    for (const file of this.tables.values()) await file.close();
    await this.events?.close();
    await this.history?.finish();
    await this.anomalies.close();
    const out = new TextFileWriter(join(this.dir, 'manifest.json'));
    out.write(`${JSON.stringify(manifest, null, 2)}\n`);
    await out.close();
  }

  async abort(): Promise<void> {
    for (const file of this.tables.values()) file.destroy();
    this.events?.destroy();
    await this.history?.abort();
    this.anomalies.destroy();
  }
}
