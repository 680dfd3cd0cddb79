/**
 * Throughput and peak memory of the data generator: the `generate` scenario of `npm run bench`.
 *
 *   npm run bench -- --scenarios generate [--customers 20000]
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

export const GENERATOR_SCENARIOS = ['files', 'mysql', 'dynamodb'] as const;
type Scenario = (typeof GENERATOR_SCENARIOS)[number];

async function runScenario(scenario: Scenario, customers: number): Promise<void> {
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

const script = fileURLToPath(import.meta.url);

/**
 * Runs each generator scenario in a child process of its own and returns the JSON line each printed
 * (also passed to `onLine` as it arrives).
 */
export async function runGenerateScenarios(
  customers: number,
  scenarios: readonly string[] = GENERATOR_SCENARIOS,
  onLine: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  for (const scenario of scenarios) {
    if (!(GENERATOR_SCENARIOS as readonly string[]).includes(scenario))
      throw new Error(`generate scenario "${scenario}": expected one of ${GENERATOR_SCENARIOS.join(', ')}`);
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, script, '--child', scenario, '--customers', String(customers)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve(text) : reject(new Error(`generate scenario ${scenario} exited with ${code}`)),
      );
    });
    for (const line of output.split('\n').filter((l) => l.trim())) {
      onLine(line);
      results.push(JSON.parse(line) as Record<string, unknown>);
    }
  }
  return results;
}

// Run directly (or as a scenario's child process), not when imported by bench/index.ts.
if (process.argv[1] === script) {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string', default: '20000' },
      scenarios: { type: 'string', default: GENERATOR_SCENARIOS.join(',') },
      child: { type: 'string' },
    },
  });
  const customers = Number(values.customers);
  if (values.child) await runScenario(values.child as Scenario, customers);
  else await runGenerateScenarios(customers, values.scenarios.split(','));
}
