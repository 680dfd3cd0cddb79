/**
 * Items per second of the DynamoDB interactions from generator to raw zone, two ways:
 *
 *   npx tsx bench/dynamodb-export.ts [--customers 20000] [--paths export,dynalite]
 *
 *   export    generate a table export folder (gzip DYNAMODB_JSON), then extractDynamoDb({ exportDir })
 *   dynalite  BatchWriteItem into in-process dynalite (in memory, as the demo runs it), then Scan
 *
 * Each path runs in a fresh child process, so its peak RSS (getrusage maxrss) is its own. The
 * generator simulates every source either way; only the interactions are written. Prints one JSON
 * line per path.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDataset } from '../lib/generate/index.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { extractDynamoDb } from '../lib/local/extract-dynamodb.js';

const PATHS = ['export', 'dynalite'] as const;
type Path = (typeof PATHS)[number];

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '20000' },
    paths: { type: 'string', default: PATHS.join(',') },
    child: { type: 'string' },
  },
});
const customers = Number(values.customers);
const TABLE = 'customer-interactions';

async function runPath(path: Path): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'c360-bench-ddb-'));
  const dynamo = path === 'dynalite' ? await LocalDynamoDb.start() : undefined;
  const client = dynamo?.client();
  const exportDir = join(dir, 'export');
  const { instance, connection } = await openLocalEngine({ tempDirectory: join(dir, '.tmp') });
  try {
    const files = { dir: join(dir, 'files'), mysql: false, dynamodb: false, history: false };
    const started = performance.now();
    const { manifest } = await generateDataset(
      { customers, seed: 'bench' },
      client
        ? { dynamodb: { client, tableName: TABLE }, files }
        : { dynamodbExport: { dir: exportDir, tableName: TABLE }, files },
    );
    const generated = performance.now();
    const generateRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    const result = await extractDynamoDb({
      ...(client ? { client } : { exportDir }),
      tableName: TABLE,
      engine: connection,
      lakeRoot: join(dir, 'lake'),
      ingestDate: '2030-01-01',
      now: () => new Date(Date.now() + 3_600_000), // every item is older than the safety lag
    });
    const extracted = performance.now();
    const items = manifest.counts.dynamodb.items;
    if (result.rows !== items) throw new Error(`${path}: extracted ${result.rows} rows of ${items} items`);
    const rate = (ms: number) => Math.round(items / (ms / 1000));
    console.log(
      JSON.stringify({
        path,
        customers,
        items,
        generateSeconds: Math.round((generated - started) / 100) / 10,
        extractSeconds: Math.round((extracted - generated) / 100) / 10,
        generateItemsPerSecond: rate(generated - started),
        extractItemsPerSecond: rate(extracted - generated),
        endToEndItemsPerSecond: rate(extracted - started),
        generatePeakRssMiB: generateRssMiB,
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      }),
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
    client?.destroy();
    await dynamo?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) {
  await runPath(values.child as Path);
} else {
  const script = fileURLToPath(import.meta.url);
  for (const path of values.paths.split(',') as Path[]) {
    if (!PATHS.includes(path)) throw new Error(`unknown path ${path}; expected one of ${PATHS.join(', ')}`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, script, '--child', path, '--customers', String(customers)],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path} exited with ${code}`))));
    });
  }
}
