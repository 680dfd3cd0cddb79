/**
 * Throughput and peak memory of the data generator.
 *
 *   npx tsx bench/generate.ts [--customers 20000] [--scenarios files,mysql,dynamodb]
 *
 * Each scenario runs in a fresh child process, so its peak RSS (getrusage maxrss) is its own:
 *   files     everything to files under a temporary folder (the generator's own speed)
 *   mysql     MySQL tables into a throwaway MariaDB with LOAD DATA LOCAL INFILE (server not counted in RSS)
 *   dynamodb  interactions into in-process dynalite, stored on disk (LevelDB)
 * Prints one JSON line per scenario.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type DatasetTargets, generateDataset } from '../lib/generate/index.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';

const SCENARIOS = ['files', 'mysql', 'dynamodb'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '20000' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    child: { type: 'string' },
  },
});
const customers = Number(values.customers);

async function runScenario(scenario: Scenario): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'c360-bench-'));
  let db: LocalMariaDb | undefined;
  let dynamo: LocalDynamoDb | undefined;
  try {
    let targets: DatasetTargets;
    if (scenario === 'files') {
      targets = { files: { dir } };
    } else if (scenario === 'mysql') {
      db = await LocalMariaDb.start();
      targets = {
        mysql: { connection: db.connection },
        files: { dir, mysql: false, dynamodb: false, history: false },
      };
    } else {
      // On disk, so the RSS is the loader's and not dynalite's in-memory store.
      dynamo = await LocalDynamoDb.start({ path: join(dir, 'dynalite') });
      targets = {
        dynamodb: { client: dynamo.client(), tableName: 'customer-interactions' },
        files: { dir, mysql: false, dynamodb: false, history: false },
      };
    }
    const started = performance.now();
    const { manifest } = await generateDataset({ customers, seed: 'bench' }, targets);
    const seconds = (performance.now() - started) / 1000;
    const c = manifest.counts;
    const rows =
      scenario === 'files'
        ? c.mysql.customers +
          c.mysql.products +
          c.mysql.orders +
          c.mysql.order_items +
          c.dynamodb.items +
          c.history.rows
        : scenario === 'mysql'
          ? c.mysql.customers + c.mysql.products + c.mysql.orders + c.mysql.order_items
          : c.dynamodb.items;
    console.log(
      JSON.stringify({
        scenario,
        customers,
        rows,
        seconds: Math.round(seconds * 10) / 10,
        rowsPerSecond: Math.round(rows / seconds),
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        orders: c.mysql.orders,
        interactions: c.dynamodb.items,
      }),
    );
  } finally {
    await db?.stop();
    await dynamo?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) {
  await runScenario(values.child as Scenario);
} else {
  const script = fileURLToPath(import.meta.url);
  for (const scenario of values.scenarios.split(',') as Scenario[]) {
    if (!SCENARIOS.includes(scenario)) throw new Error(`unknown scenario ${scenario}`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, script, '--child', scenario, '--customers', String(customers)],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`${scenario} exited with ${code}`)),
      );
    });
  }
}
