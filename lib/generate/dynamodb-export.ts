import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { marshall } from '@aws-sdk/util-dynamodb';
import { type DatasetSink, Waits } from './files.js';
import type { PersonBatch } from './model.js';

/**
 * The interactions written as a DynamoDB full table export in DYNAMODB_JSON format, the way
 * DynamoDB's ExportTableToPointInTime lays it out under `<prefix>/AWSDynamoDB/<ExportId>/` (see
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html):
 *
 * - `data/<id>.json.gz`: gzip text, one `{"Item": {...}}` per line, the item in DynamoDB JSON;
 * - `manifest-files.json`: one JSON line per data file, `itemCount`, `md5Checksum` (base64 MD5 of
 *   the file), `etag` (hex MD5, what S3 reports for a single-part upload) and `dataFileS3Key`;
 * - `manifest-summary.json`: the export's summary (`version` 2020-06-30, `exportArn`, times,
 *   `manifestFilesS3Key`, `itemCount`, `outputFormat` DYNAMODB_JSON, `exportType` FULL_EXPORT).
 *
 * The keys in the manifests are relative to the export folder (there is no bucket), so the folder
 * can be moved; the local extractor also reads an export copied down from S3, whose keys carry the
 * bucket prefix.
 */
export interface DynamoDbExportTarget {
  /** The export folder (the `AWSDynamoDB/<ExportId>/` of a real export); emptied first. */
  readonly dir: string;
  /**
   * Table named in the export's ARNs.
   * @default 'customer-interactions'
   */
  readonly tableName?: string;
  /**
   * The point in time the export stands for (ISO); the local extractor's watermark. The export's
   * start and end times are set to it too, so the folder depends only on the data and the options.
   * @default the latest `updated_at` among the items (the table as of its last write)
   */
  readonly exportTime?: string;
  /**
   * Items per data file; a real export writes at least one file per table partition.
   * @default 250_000
   */
  readonly itemsPerFile?: number;
}

export interface DataFileEntry {
  readonly itemCount: number;
  readonly md5Checksum: string;
  readonly etag: string;
  readonly dataFileS3Key: string;
}

/**
 * One gzip data file, compressed in one piece when it is closed. A streaming gzip piped to the file
 * (with a second 'data' consumer for the MD5) once stopped for good at the 48th file of a 1M-customer
 * export: no error, no drain, the generator waiting forever. A file is at most `itemsPerFile` items
 * (about 100 MB of text at the default), so holding it is bounded, and nothing here can wait forever.
 */
class GzipLineFile {
  private readonly chunks: Buffer[] = [];
  private buffer = '';
  items = 0;
  uncompressedBytes = 0;

  constructor(private readonly path: string) {}

  write(line: string): undefined {
    this.buffer += line;
    this.items++;
    if (this.buffer.length >= 1024 * 1024) this.flush();
    return undefined;
  }

  private flush(): void {
    if (!this.buffer) return;
    const chunk = Buffer.from(this.buffer, 'utf8');
    this.buffer = '';
    this.uncompressedBytes += chunk.length;
    this.chunks.push(chunk);
  }

  /** Compresses and writes the file; returns the MD5 of the compressed bytes. */
  async close(): Promise<Buffer> {
    this.flush();
    const compressed = gzipSync(Buffer.concat(this.chunks));
    this.chunks.length = 0;
    writeFileSync(this.path, compressed);
    return createHash('md5').update(compressed).digest();
  }

  destroy(): void {
    this.chunks.length = 0;
  }
}

/** `01234567890123-a1b2c3d4`: the export time in milliseconds and a short digest, as DynamoDB names them. */
function exportIdFor(tableName: string, exportTime: string): string {
  const digest = createHash('sha256').update(`${tableName}\n${exportTime}`).digest('hex').slice(0, 8);
  return `${String(Date.parse(exportTime)).padStart(14, '0')}-${digest}`;
}

/** A table id in UUID shape, from the table name so that reruns agree. */
function tableIdFor(tableName: string): string {
  const h = createHash('sha256').update(tableName).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A data file's name: 26 characters of a digest, like the random names DynamoDB gives them, in order. */
function dataFileId(tableName: string, index: number): string {
  const digest = createHash('sha256').update(`${tableName}\n${index}`).digest('hex').slice(0, 20);
  return `${String(index).padStart(5, '0')}-${digest}`;
}

/** Streams the interactions into a DynamoDB table export folder, one data file at a time. */
export class DynamoDbExportSink implements DatasetSink {
  private readonly tableName: string;
  private readonly itemsPerFile: number;
  /** Latest `updated_at` written, for the default export time. */
  private latest = '';
  private current: { file: GzipLineFile; key: string } | null = null;
  private readonly entries: DataFileEntry[] = [];
  private billedBytes = 0;
  private files = 0;
  written = 0;

  constructor(private readonly target: DynamoDbExportTarget) {
    this.tableName = target.tableName ?? 'customer-interactions';
    if (target.exportTime !== undefined && Number.isNaN(Date.parse(target.exportTime)))
      throw new Error(`DynamoDB export exportTime: got "${target.exportTime}"; expected an ISO time`);
    this.itemsPerFile = target.itemsPerFile ?? 250_000;
    // A folder left by an earlier export would mix two exports' data files.
    rmSync(target.dir, { recursive: true, force: true });
    mkdirSync(join(target.dir, 'data'), { recursive: true });
  }

  products(): void {}

  write(batch: PersonBatch): Promise<void> | undefined {
    const waits = new Waits();
    for (const item of batch.events) {
      if (this.current && this.current.file.items >= this.itemsPerFile) {
        const done = this.current;
        this.current = null;
        waits.add(this.closeFile(done));
      }
      if (!this.current) {
        const key = `data/${dataFileId(this.tableName, this.files++)}.json.gz`;
        this.current = { file: new GzipLineFile(join(this.target.dir, key)), key };
      }
      const wait = this.current.file.write(`${JSON.stringify({ Item: marshall(item) })}\n`);
      waits.add(wait);
      const updated = item.updated_at;
      // ISO times of one format order as text; an unparseable one must not become the watermark.
      if (typeof updated === 'string' && updated > this.latest && !Number.isNaN(Date.parse(updated)))
        this.latest = updated;
      this.written++;
    }
    return waits.done();
  }

  private async closeFile(done: { file: GzipLineFile; key: string }): Promise<void> {
    const index = this.entries.length;
    // Reserve the slot so that entries stay in file order whichever file finishes first.
    this.entries.push(null as unknown as DataFileEntry);
    const md5 = await done.file.close();
    this.billedBytes += done.file.uncompressedBytes;
    this.entries[index] = {
      itemCount: done.file.items,
      md5Checksum: md5.toString('base64'),
      etag: md5.toString('hex'),
      dataFileS3Key: done.key,
    };
  }

  async finish(): Promise<void> {
    if (this.current) {
      const done = this.current;
      this.current = null;
      await this.closeFile(done);
    }
    const exportTime = new Date(
      this.target.exportTime ?? (this.latest || '1970-01-01T00:00:00.000Z'),
    ).toISOString();
    const exportId = exportIdFor(this.tableName, exportTime);
    const tableArn = `arn:aws:dynamodb:local:000000000000:table/${this.tableName}`;
    const lines = this.entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    await writeText(join(this.target.dir, 'manifest-files.json'), lines);
    const summary = {
      version: '2020-06-30',
      exportArn: `${tableArn}/export/${exportId}`,
      startTime: exportTime,
      endTime: exportTime,
      tableArn,
      tableId: tableIdFor(this.tableName),
      exportTime,
      s3Bucket: null,
      s3Prefix: null,
      s3SseAlgorithm: null,
      s3SseKmsKeyId: null,
      manifestFilesS3Key: 'manifest-files.json',
      billedSizeBytes: this.billedBytes,
      itemCount: this.written,
      outputFormat: 'DYNAMODB_JSON',
      exportType: 'FULL_EXPORT',
    };
    await writeText(join(this.target.dir, 'manifest-summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }

  async abort(): Promise<void> {
    this.current?.file.destroy();
    this.current = null;
  }
}

async function writeText(path: string, text: string): Promise<void> {
  const out = createWriteStream(path);
  out.end(text);
  await once(out, 'close');
}
