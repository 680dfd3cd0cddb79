import { loadConfig } from '../config/load.js';
import type { Customer360Config } from '../config/schema.js';
import {
  GLUE_DEFAULT_NUMBER_OF_WORKERS,
  GLUE_DEFAULT_WORKER_TYPE,
} from '../constructs/ingestion/glue-job.js';
import { collectTaskStates, synthesizedDefinition } from '../local/pipeline-runner.js';
import { type CostEstimate, estimateCost, runsPerMonth } from './estimate.js';
import { measureRun, readSummary } from './measure.js';
import { GLUE_DPUS_PER_WORKER, PRICES } from './prices.js';

export { type CostEstimate, estimateCost, runsPerMonth } from './estimate.js';
export { PRICES } from './prices.js';

export interface RunCostOptions {
  /**
   * Customer counts to estimate for, besides the measured one.
   * @default [1_000_000, 10_000_000]
   */
  readonly customers?: readonly number[];
  /** @default loadConfig() (customer360.config.json) */
  readonly config?: Customer360Config;
  /**
   * Runs a month.
   * @default counted from the configuration's `schedule.expression`
   */
  readonly runsPerMonth?: number;
  /**
   * Seconds the DynamoDB job waits for the table export in the cloud. A small table's export took
   * about 6 minutes in a published example (mondoohq/mql#3965: 17:20:20 to 17:25:59).
   * @default 360
   */
  readonly exportWaitSeconds?: number;
}

/**
 * The AWS cost of a local run, per run and per month at the schedule: at the measured size and at
 * each requested customer count (bytes scale by customers / measured customers).
 */
export async function estimateRunCost(
  summaryPath: string,
  lakeRoot: string,
  options: RunCostOptions = {},
): Promise<{ estimates: CostEstimate[]; prices: typeof PRICES }> {
  const config = options.config ?? loadConfig();
  const summary = readSummary(summaryPath);
  const lambdaStates = new Set(
    collectTaskStates(synthesizedDefinition(config))
      .filter((s) => s.functionName !== undefined)
      .map((s) => s.name),
  );
  const dpusPerWorker = GLUE_DPUS_PER_WORKER[GLUE_DEFAULT_WORKER_TYPE];
  if (dpusPerWorker === undefined)
    throw new Error(`No DPU figure for Glue worker type ${GLUE_DEFAULT_WORKER_TYPE}`);
  const measured = await measureRun(summary, lakeRoot, {
    lambdaStates,
    glueDpus: dpusPerWorker * GLUE_DEFAULT_NUMBER_OF_WORKERS,
    exportWaitSeconds: options.exportWaitSeconds,
  });
  const perMonth = options.runsPerMonth ?? runsPerMonth(config.schedule.expression);
  const sizes = [measured.customers, ...(options.customers ?? [1_000_000, 10_000_000])];
  return {
    estimates: sizes.map((customers) => estimateCost(measured, { customers, runsPerMonth: perMonth })),
    prices: PRICES,
  };
}
