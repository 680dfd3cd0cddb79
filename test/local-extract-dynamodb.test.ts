import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../lib/generate/index.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { extractDynamoDb, flattenItem, itemFromExportLine } from '../lib/local/extract-dynamodb.js';
import { tableGlob } from '../lib/local/lake.js';
import { rawDynamodbInteractions } from '../lib/schema/tables.js';
import type { InteractionItem } from '../lib/sources/interactions.js';

const TABLE = 'customer-interactions';

function event(n: number, extra: Partial<InteractionItem> & { updated_at: string }): InteractionItem {
  const eventAt = `2024-06-01T10:00:${String(n).padStart(2, '0')}.000Z`;
  return {
    customer_key: `customer#${n}`,
    event_key: `${eventAt}#e${n}`,
    event_id: `e${n}`,
    event_type: 'web_visit',
    event_at: eventAt,
    customer_id: n,
    ...extra,
  };
}

async function put(client: DynamoDBClient, items: readonly object[]) {
  for (let i = 0; i < items.length; i += 25) {
    const batch = items.slice(i, i + 25).map((item) => ({ PutRequest: { Item: marshall(item) } }));
    await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: batch } }));
  }
}

describe('flattening an item', () => {
  it('keeps exact number text, booleans as text and the whole item as DynamoDB JSON', () => {
    const item = marshall({
      customer_key: 'customer#7',
      event_key: 'k',
      event_id: 'e',
      event_type: 'login',
      event_at: 'not a date',
      updated_at: '2024-01-01T00:00:00.000Z',
      customer_id: 7,
      success: false,
      ip_address: '203.0.113.9',
      extra_attribute: ['x'],
    });
    item.cost = { N: '0.10000000000000000001' };

    const row = flattenItem(item, '2025-01-01 00:00:00');
    const byName = Object.fromEntries(rawDynamodbInteractions.columns.map((c, i) => [c.name, row[i]]));

    expect(byName).toMatchObject({
      customer_id: '7',
      success: 'false',
      event_at: 'not a date',
      cost: '0.10000000000000000001',
      device: null,
      ingested_at: '2025-01-01 00:00:00',
    });
    expect(JSON.parse(String(byName.item_json))).toMatchObject({ extra_attribute: { L: [{ S: 'x' }] } });
  });
});

describe('reading an export line', () => {
  it('takes Item from a full export, NewImage from an incremental one, nothing for a deletion', () => {
    expect(itemFromExportLine('{"Item":{"k":{"S":"a"}}}')).toEqual({ k: { S: 'a' } });
    expect(itemFromExportLine('{"Metadata":{},"Keys":{"k":{"S":"b"}},"NewImage":{"k":{"S":"b"}}}')).toEqual({
      k: { S: 'b' },
    });
    expect(itemFromExportLine('{"Metadata":{},"Keys":{"k":{"S":"c"}}}')).toBeNull();
    expect(itemFromExportLine('   ')).toBeNull();
  });
});

describe('DynamoDB extraction against a local DynamoDB (dynalite)', () => {
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  const lake = mkdtempSync(join(tmpdir(), 'c360-extract-ddb-'));
  const at = (iso: string) => () => new Date(iso);
  const readRaw = async () =>
    (
      await engine.runAndReadAll(
        `SELECT event_id, customer_id, ingest_date FROM read_parquet('${tableGlob(lake, rawDynamodbInteractions)}', hive_partitioning = true) ORDER BY ALL`,
      )
    ).getRowObjectsJson();

  beforeAll(async () => {
    dynamo = await LocalDynamoDb.start();
    client = dynamo.client();
    await client.send(
      new CreateTableCommand({
        TableName: TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'customer_key', KeyType: 'HASH' },
          { AttributeName: 'event_key', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'customer_key', AttributeType: 'S' },
          { AttributeName: 'event_key', AttributeType: 'S' },
        ],
      }),
    );
    ({ instance, connection: engine } = await openLocalEngine({ tempDirectory: join(lake, '.tmp') }));
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.stop();
    engine?.closeSync();
    instance?.closeSync();
  });

  it('scans all segments and lands every item on the first run', async () => {
    const items = Array.from({ length: 120 }, (_, i) => event(i, { updated_at: '2024-06-01T12:00:00.000Z' }));
    await put(client, items);

    const result = await extractDynamoDb({
      client,
      tableName: TABLE,
      engine,
      lakeRoot: lake,
      ingestDate: '2024-06-02',
      segments: 3,
      rowsPerFile: 50,
      now: at('2024-06-02T00:00:00.000Z'),
    });

    expect(result.rows).toBe(120);
    expect(result.files).toHaveLength(3); // 50 + 50 + 20 rows
    const rows = await readRaw();
    expect(rows).toHaveLength(120);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(120);
  });

  it('takes only items written since the watermark, leaving the safety lag for the next run', async () => {
    await put(client, [
      event(200, { updated_at: '2024-06-02T08:00:00.000Z' }),
      event(201, { updated_at: '2024-06-02T09:59:58.000Z' }), // inside the 5 s lag at 10:00:00
      event(5, { updated_at: '2024-06-02T08:30:00.000Z', device: 'mobile' }), // rewritten item
    ]);

    const second = await extractDynamoDb({
      client,
      tableName: TABLE,
      engine,
      lakeRoot: lake,
      ingestDate: '2024-06-02',
      now: at('2024-06-02T10:00:00.000Z'),
    });
    const third = await extractDynamoDb({
      client,
      tableName: TABLE,
      engine,
      lakeRoot: lake,
      ingestDate: '2024-06-03',
      now: at('2024-06-03T00:00:00.000Z'),
    });

    expect(second.rows).toBe(2);
    expect(third.rows).toBe(1);
    const rows = await readRaw();
    expect(rows).toHaveLength(123);
    expect(rows.filter((r) => ['e5', 'e200', 'e201'].includes(String(r.event_id)))).toEqual([
      { event_id: 'e200', customer_id: '200', ingest_date: '2024-06-02' },
      { event_id: 'e201', customer_id: '201', ingest_date: '2024-06-03' },
      { event_id: 'e5', customer_id: '5', ingest_date: '2024-06-02' },
      { event_id: 'e5', customer_id: '5', ingest_date: '2024-06-02' },
    ]);
  });

  it('names the table and endpoint when the scan fails', async () => {
    await expect(
      extractDynamoDb({
        client,
        tableName: 'missing-table',
        engine,
        lakeRoot: lake,
        ingestDate: '2024-06-03',
      }),
    ).rejects.toThrow(
      /Scanning DynamoDB table missing-table at http:\/\/127\.0\.0\.1:\d+ failed: .*not found/i,
    );
  });
});

describe('DynamoDB extraction from a table export folder', () => {
  // One generated data set goes both to dynalite and to an export folder in the same run, so both
  // hold the same items; extracting each with the same clock must give the same raw rows.
  const TABLE_BOTH = 'interactions-both-ways';
  const root = mkdtempSync(join(tmpdir(), 'c360-extract-export-'));
  const exportDir = join(root, 'export');
  const scanLake = join(root, 'scan-lake');
  const exportLake = join(root, 'export-lake');
  const now = () => new Date('2030-01-01T00:00:00.000Z'); // after every generated updated_at
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;
  let instance: DuckDBInstance;
  let engine: DuckDBConnection;
  let items: number;
  const rawRows = async (lake: string) =>
    (
      await engine.runAndReadAll(
        `SELECT * FROM read_parquet('${tableGlob(lake, rawDynamodbInteractions)}', hive_partitioning = true) ORDER BY ALL`,
      )
    ).getRowObjectsJson();
  const fromExport = (dir = exportDir, lake = exportLake) =>
    extractDynamoDb({
      tableName: TABLE_BOTH,
      exportDir: dir,
      engine,
      lakeRoot: lake,
      ingestDate: '2029-12-31',
      rowsPerFile: 2000,
      now,
    });

  beforeAll(async () => {
    dynamo = await LocalDynamoDb.start();
    client = dynamo.client();
    const { manifest } = await generateDataset(
      // The frequent-purchase profile keeps this data set at over 3,000 items (several data files).
      { customers: 150, seed: 4, purchaseProfile: 'grocery' },
      {
        dynamodb: { client, tableName: TABLE_BOTH },
        dynamodbExport: {
          dir: exportDir,
          tableName: TABLE_BOTH,
          exportTime: '2026-01-01T00:00:00.000Z',
          itemsPerFile: 1500,
        },
        files: { dir: join(root, 'files'), mysql: false, dynamodb: false, history: false },
      },
    );
    items = manifest.counts.dynamodb.items;
    ({ instance, connection: engine } = await openLocalEngine({ tempDirectory: join(root, '.tmp') }));
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.stop();
    engine?.closeSync();
    instance?.closeSync();
    rmSync(root, { recursive: true, force: true });
  });

  it('lands the same raw rows, column for column, as scanning the same items from dynalite', async () => {
    const scanned = await extractDynamoDb({
      client,
      tableName: TABLE_BOTH,
      engine,
      lakeRoot: scanLake,
      ingestDate: '2029-12-31',
      rowsPerFile: 2000,
      now,
    });
    const exported = await fromExport();

    expect(items).toBeGreaterThan(3000); // several data files of 1500 items
    expect(scanned.rows).toBe(items);
    expect(exported.rows).toBe(items);
    expect(exported.watermark).toBe('2026-01-01T00:00:00.000Z');
    const fromScan = await rawRows(scanLake);
    const fromExportRows = await rawRows(exportLake);
    expect(fromExportRows).toHaveLength(items);
    expect(fromExportRows).toEqual(fromScan);
  });

  it('lands an export once: a second extraction of it adds nothing', async () => {
    const before = await rawRows(exportLake);
    const again = await fromExport();

    expect(again).toEqual({ rows: 0, removed: 0, files: [], watermark: '2026-01-01T00:00:00.000Z' });
    expect(await rawRows(exportLake)).toEqual(before);
  });

  it('reads an export copied down from S3, whose manifest keys carry the bucket prefix', async () => {
    // The key shapes of a real export: <prefix>/AWSDynamoDB/<ExportId>/manifest-files.json and
    // <prefix>/AWSDynamoDB/<ExportId>/data/<file>.json.gz.
    const copy = join(root, 'copied');
    cpSync(exportDir, copy, { recursive: true });
    const folder = '_exports/dynamodb/t/AWSDynamoDB/01767225600000-abcdef12';
    const summaryPath = join(copy, 'manifest-summary.json');
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    writeFileSync(
      summaryPath,
      JSON.stringify({ ...summary, manifestFilesS3Key: `${folder}/manifest-files.json` }),
    );
    const filesPath = join(copy, 'manifest-files.json');
    const entries = readFileSync(filesPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    writeFileSync(
      filesPath,
      entries.map((e) => JSON.stringify({ ...e, dataFileS3Key: `${folder}/${e.dataFileS3Key}` })).join('\n'),
    );

    const result = await fromExport(copy, join(root, 'copied-lake'));

    expect(result.rows).toBe(items);
  });

  it('takes an empty data file (an empty table partition) as no items and fails on a missing one', async () => {
    const copy = join(root, 'partitions');
    cpSync(exportDir, copy, { recursive: true });
    writeFileSync(join(copy, 'data', 'empty.json.gz'), '');
    const filesPath = join(copy, 'manifest-files.json');
    const listed = readFileSync(filesPath, 'utf8');
    const empty = {
      itemCount: 0,
      md5Checksum: '1B2M2Y8AsgTpgAmY7PhCfg==',
      etag: 'd41d8cd98f00b204e9800998ecf8427e',
    };
    writeFileSync(
      filesPath,
      `${listed}${JSON.stringify({ ...empty, dataFileS3Key: 'data/empty.json.gz' })}\n`,
    );

    expect((await fromExport(copy, join(root, 'partitions-lake'))).rows).toBe(items);

    writeFileSync(
      filesPath,
      `${listed}${JSON.stringify({ ...empty, dataFileS3Key: 'data/missing.json.gz' })}\n`,
    );
    await expect(fromExport(copy, join(root, 'missing-lake'))).rejects.toThrow(
      /ENOENT.*data\/missing\.json\.gz/,
    );
  });

  it('names the data file when its item count disagrees with manifest-files.json', async () => {
    const copy = join(root, 'miscounted');
    cpSync(exportDir, copy, { recursive: true });
    const filesPath = join(copy, 'manifest-files.json');
    const entries = readFileSync(filesPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    entries[0].itemCount = 1499;
    writeFileSync(filesPath, entries.map((e) => JSON.stringify(e)).join('\n'));

    await expect(fromExport(copy, join(root, 'miscounted-lake'))).rejects.toThrow(
      /Reading DynamoDB export .*miscounted failed: .*data\/00000-[0-9a-f]+\.json\.gz: 1500 items; manifest-files\.json says 1499/,
    );
  });
});
