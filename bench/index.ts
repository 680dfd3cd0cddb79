/**
 * The benchmark: `npm run bench -- [--customers 1000000] [--profile retail|grocery] [--scenarios pipeline,generate]
 * [--data-dir DIR] [--fresh] [--results-dir bench/results]`.
 *
 *   pipeline  generated sources extracted into a raw zone (cached under --data-dir), then a full run
 *             of day D and an incremental run of D+1 through the local pipeline (bench/pipeline.ts)
 *   generate  the generator's throughput into files, MariaDB and dynalite (bench/generate.ts)
 *
 * Progress goes to stderr; the results to `<results-dir>/<yyyy-MM-dd>-<N>.json` and `.md`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runGenerateScenarios } from './generate.js';
import { runPipelineScenario } from './pipeline.js';
import { type BenchReport, machineInfo, writeReport } from './report.js';

export const BENCH_SCENARIOS = ['pipeline', 'generate'] as const;
export type BenchScenario = (typeof BENCH_SCENARIOS)[number];

export interface BenchArgs {
  readonly customers: number;
  readonly scenarios: readonly BenchScenario[];
  readonly dataDir: string;
  readonly fresh: boolean;
  readonly resultsDir: string;
  /** The generator's purchase profile (`retail`, the published CDNOW fit, or `grocery`). */
  readonly profile: 'retail' | 'grocery';
}

export const DEFAULT_CUSTOMERS = 1_000_000;

/** Parses and checks the command line; errors name the option and what was expected. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values: {
    customers?: string;
    scenarios?: string;
    'data-dir'?: string;
    fresh?: boolean;
    'results-dir'?: string;
    profile?: string;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        customers: { type: 'string' },
        scenarios: { type: 'string' },
        'data-dir': { type: 'string' },
        fresh: { type: 'boolean' },
        'results-dir': { type: 'string' },
        profile: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; expected --customers N, --scenarios ${BENCH_SCENARIOS.join(',')}, --profile retail|grocery, --data-dir DIR, --fresh, --results-dir DIR`,
    );
  }
  const text = values.customers ?? String(DEFAULT_CUSTOMERS);
  // Underscores as in 1_000_000 are accepted; anything else that is not a whole number is refused.
  if (!/^\d[\d_]*$/.test(text) || Number(text.replaceAll('_', '')) < 1)
    throw new Error(`--customers: got "${text}"; expected a whole number of at least 1`);
  const customers = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(customers)) throw new Error(`--customers: got "${text}"; too large`);

  const names = (values.scenarios ?? 'pipeline')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw new Error('--scenarios: empty; expected one or more of pipeline, generate');
  for (const name of names)
    if (!(BENCH_SCENARIOS as readonly string[]).includes(name))
      throw new Error(`--scenarios: unknown scenario "${name}"; expected ${BENCH_SCENARIOS.join(', ')}`);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new Error(`--scenarios: "${duplicate}" is given twice`);

  if (values['data-dir'] === '') throw new Error('--data-dir: empty; expected a folder');
  const profile = values.profile ?? 'retail';
  if (profile !== 'retail' && profile !== 'grocery')
    throw new Error(`--profile: got "${profile}"; expected retail or grocery`);
  return {
    customers,
    scenarios: names as BenchScenario[],
    profile,
    dataDir: values['data-dir'] ?? `.c360/bench/${customers}-${profile}`,
    fresh: values.fresh ?? false,
    resultsDir: values['results-dir'] ?? 'bench/results',
  };
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  log(`bench: ${args.customers.toLocaleString('en-US')} customers, scenarios ${args.scenarios.join(', ')}`);
  let report: BenchReport = {
    date: new Date().toISOString().slice(0, 10),
    customers: args.customers,
    machine: machineInfo(),
  };
  for (const scenario of args.scenarios) {
    if (scenario === 'pipeline') {
      const pipeline = await runPipelineScenario({
        customers: args.customers,
        profile: args.profile,
        dataDir: args.dataDir,
        fresh: args.fresh,
        log,
      });
      report = { ...report, pipeline };
    } else {
      log(`[generate] generator scenarios (files, mysql, dynamodb), one child process each`);
      const lines = await runGenerateScenarios(args.customers, undefined, (line) =>
        log(`[generate] ${line}`),
      );
      report = { ...report, generate: { lines } };
    }
  }
  const paths = writeReport(resolve(args.resultsDir), report);
  log(`bench: done in ${((Date.now() - started) / 1000).toFixed(1)} s; wrote ${paths.json} and ${paths.md}`);
  const failed = report.pipeline?.runs.filter((r) => r.status !== 'SUCCEEDED') ?? [];
  if (failed.length > 0) {
    log(`bench: ${failed.map((r) => `${r.name} run ${r.status}: ${r.failure ?? ''}`).join('; ')}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await main();
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
