import {
  ATHENA_BYTES_ROUNDED_TO,
  ATHENA_MIN_BYTES_PER_QUERY,
  GLUE_MIN_BILLED_SECONDS,
  PRICES,
  type Price,
  type Prices,
} from './prices.js';

/*
 * The pure half of `c360 cost`: measured facts of one local run, prices and a customer count in,
 * cost lines out. Sizes are binary (MB = 2^20 bytes, GB = 2^30, TB = 2^40), as AWS meters them.
 */

const MB = 2 ** 20;
const GB = 2 ** 30;
const TB = 2 ** 40;

/** What one local run did, as `measureRun` reads it from the run summary and the lake. */
export interface MeasuredRun {
  readonly executionName: string;
  readonly runDate?: string;
  /** The run mode the run settled (`daily`, `catch-up`, `backfill`, `rebuild`). */
  readonly mode: string;
  /** Customers in the measured data set (rows of stage.customers the run wrote). */
  readonly customers: number;
  /** Every Athena query: the bytes it would scan, and whether it is DDL (free). */
  readonly queries: readonly {
    readonly label: string;
    readonly bytesScanned: number;
    readonly ddl: boolean;
  }[];
  /** Glue job runs that did work: local seconds stand in for the job's run time. */
  readonly glueJobs: readonly { readonly job: string; readonly seconds: number; readonly dpus: number }[];
  /** The DynamoDB table export the DynamoDB job requested and waited for, if it ran. */
  readonly dynamodbExport?: {
    readonly kind: 'full' | 'incremental';
    readonly bytes: number;
    /** Seconds the job waits for DynamoDB to finish the export (billed as Glue time). */
    readonly waitSeconds: number;
    /** The job (in `glueJobs`) that waits. */
    readonly job: string;
  };
  readonly stateTransitions: number;
  readonly lambda: { readonly invocations: number; readonly seconds: number; readonly memoryMb: number };
  readonly s3: { readonly puts: number; readonly gets: number; readonly storedBytes: number };
  readonly kmsRequests: number;
  /** Bytes the state machine's log group ingests for the run. */
  readonly logBytes: number;
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  /** Dollars per `priceUnit`. */
  readonly unitPrice: number;
  readonly priceUnit: string;
  readonly cost: number;
  /** `run` lines recur every run; `month` lines (storage) once a month. */
  readonly per: 'run' | 'month';
}

export interface CostEstimate {
  readonly executionName: string;
  readonly mode: string;
  readonly measuredCustomers: number;
  readonly customers: number;
  /** customers / measuredCustomers: what data-proportional quantities were multiplied by. */
  readonly scale: number;
  readonly runsPerMonth: number;
  readonly lines: readonly CostLine[];
  readonly perRun: number;
  readonly perMonth: number;
}

export interface EstimateOptions {
  /**
   * Customers to estimate for; bytes scanned, exported and stored and Glue work time scale by
   * customers / measured customers.
   * @default the measured customers
   */
  readonly customers?: number;
  readonly runsPerMonth: number;
  /** @default PRICES */
  readonly prices?: Prices;
}

/** Bytes Athena bills for one query: rounded up to the MB, at least 10 MB; DDL is free. */
export function athenaBilledBytes(bytesScanned: number, ddl = false): number {
  if (ddl) return 0;
  const rounded = Math.ceil(bytesScanned / ATHENA_BYTES_ROUNDED_TO) * ATHENA_BYTES_ROUNDED_TO;
  return Math.max(ATHENA_MIN_BYTES_PER_QUERY, rounded);
}

/** Seconds Glue bills for one job run: per second, 1-minute minimum. */
export function glueBilledSeconds(seconds: number): number {
  return Math.max(GLUE_MIN_BILLED_SECONDS, Math.ceil(seconds));
}

export function estimateCost(run: MeasuredRun, options: EstimateOptions): CostEstimate {
  const prices = options.prices ?? PRICES;
  if (!(run.customers > 0)) {
    throw new Error(`Run ${run.executionName}: measured customers must be positive, got ${run.customers}`);
  }
  const customers = options.customers ?? run.customers;
  const scale = customers / run.customers;
  const lines: CostLine[] = [];
  const line = (
    item: string,
    quantity: number,
    unit: string,
    price: Price,
    perUnit: number,
    per: 'run' | 'month' = 'run',
  ) => {
    lines.push({
      item,
      quantity,
      unit,
      unitPrice: price.usd,
      priceUnit: price.unit,
      cost: (quantity / perUnit) * price.usd,
      per,
    });
  };

  const charged = run.queries.filter((q) => !q.ddl);
  const billed = charged.reduce((sum, q) => sum + athenaBilledBytes(q.bytesScanned * scale), 0);
  const scanned = charged.reduce((sum, q) => sum + q.bytesScanned * scale, 0);
  const floored = charged.filter((q) => q.bytesScanned * scale < ATHENA_MIN_BYTES_PER_QUERY).length;
  line(
    `Athena: ${charged.length} queries, ${(scanned / MB).toFixed(1)} MB scanned, ${floored} billed at the 10 MB minimum`,
    billed / TB,
    'TB billed',
    prices.athenaPerTb,
    1,
  );

  for (const job of run.glueJobs) {
    const wait = run.dynamodbExport?.job === job.job ? run.dynamodbExport.waitSeconds : 0;
    const work = job.seconds * scale;
    const total = glueBilledSeconds(work + wait);
    // The minimum tops up the work: waiting is reported on its own line, at its own length.
    const workBilled = total - wait;
    line(
      `Glue ${job.job}: ${job.dpus} DPU x ${workBilled.toFixed(0)} s${workBilled > work + 0.5 ? ' (1-minute minimum)' : ''}`,
      (job.dpus * workBilled) / 3600,
      'DPU-hours',
      prices.glueDpuHour,
      1,
    );
    if (wait > 0) {
      line(
        `Glue ${job.job} waiting for the DynamoDB export: ${job.dpus} DPU x ${wait.toFixed(0)} s`,
        (job.dpus * wait) / 3600,
        'DPU-hours',
        prices.glueDpuHour,
        1,
      );
    }
  }

  if (run.dynamodbExport) {
    const { kind, bytes } = run.dynamodbExport;
    line(
      `DynamoDB ${kind} export to S3`,
      (bytes * scale) / GB,
      'GB',
      kind === 'full' ? prices.dynamodbFullExportPerGb : prices.dynamodbIncrementalExportPerGb,
      1,
    );
  }

  line(
    'Step Functions state transitions',
    run.stateTransitions,
    'transitions',
    prices.stepFunctionsPer1000Transitions,
    1000,
  );
  line('Lambda requests', run.lambda.invocations, 'requests', prices.lambdaPerMillionRequests, 1e6);
  line(
    `Lambda duration (${run.lambda.memoryMb} MB)`,
    (run.lambda.memoryMb / 1024) * run.lambda.seconds,
    'GB-seconds',
    prices.lambdaArmPerGbSecond,
    1,
  );
  line(
    'CloudWatch Logs ingestion (state machine, ALL with execution data)',
    run.logBytes / GB,
    'GB',
    prices.cloudwatchLogsIngestPerGb,
    1,
  );
  line('S3 PUT requests', run.s3.puts, 'requests', prices.s3PutPer1000, 1000);
  line('S3 GET requests', run.s3.gets, 'requests', prices.s3GetPer1000, 1000);
  line('KMS requests (bucket keys on)', run.kmsRequests, 'requests', prices.kmsPer10000, 10000);
  line(
    'S3 storage of the lake',
    (run.s3.storedBytes * scale) / GB,
    'GB-month',
    prices.s3StoragePerGbMonth,
    1,
    'month',
  );

  const perRun = lines.filter((l) => l.per === 'run').reduce((sum, l) => sum + l.cost, 0);
  const monthly = lines.filter((l) => l.per === 'month').reduce((sum, l) => sum + l.cost, 0);
  return {
    executionName: run.executionName,
    mode: run.mode,
    measuredCustomers: run.customers,
    customers,
    scale,
    runsPerMonth: options.runsPerMonth,
    lines,
    perRun,
    perMonth: perRun * options.runsPerMonth + monthly,
  };
}

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/**
 * Runs an EventBridge Scheduler expression starts in an average month (a 365-day year / 12),
 * counted over the whole of 2027. Supports rate(N unit) and cron with `*`, `?`, lists, ranges,
 * steps and names; `L`, `W` and `#` are refused (name the schedule with --runs-per-month instead).
 */
export function runsPerMonth(expression: string): number {
  const rate = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (rate) {
    const minutes =
      Number(rate[1]) *
      ({ minute: 1, hour: 60, day: 1440 } as const)[
        (rate[2] ?? '').replace(/s$/, '') as 'minute' | 'hour' | 'day'
      ];
    return (365 * 1440) / minutes / 12;
  }
  const cron = /^cron\((.+)\)$/.exec(expression.trim());
  const fields = cron?.[1]?.trim().split(/\s+/);
  if (fields?.length !== 6) {
    throw new Error(
      `schedule.expression: expected cron(minutes hours day-of-month month day-of-week year) or rate(N unit), got "${expression}"`,
    );
  }
  const [min = '', hour = '', dom = '', month = '', dow = ''] = fields;
  const minutes = cronField(min, 0, 59, [], expression);
  const hours = cronField(hour, 0, 23, [], expression);
  const days = cronField(dom, 1, 31, [], expression);
  const months = cronField(month, 1, 12, MONTH_NAMES, expression);
  const weekdays = cronField(dow, 1, 7, DAY_NAMES, expression);
  let count = 0;
  for (let t = Date.UTC(2027, 0, 1); t < Date.UTC(2028, 0, 1); t += 86_400_000) {
    const d = new Date(t);
    if (!months.has(d.getUTCMonth() + 1)) continue;
    if (!days.has(d.getUTCDate()) || !weekdays.has(d.getUTCDay() + 1)) continue;
    count += minutes.size * hours.size;
  }
  return count / 12;
}

function cronField(field: string, low: number, high: number, names: readonly string[], expression: string) {
  const values = new Set<number>();
  if (field === '*' || field === '?') {
    for (let v = low; v <= high; v += 1) values.add(v);
    return values;
  }
  const value = (text: string) => {
    const named = names.indexOf(text.toUpperCase());
    const n = named >= 0 ? named + low : Number(text);
    if (!Number.isInteger(n) || n < low || n > high) {
      throw new Error(
        `schedule.expression: cannot count the runs of "${expression}" (field "${field}"); give --runs-per-month`,
      );
    }
    return n;
  };
  for (const part of field.split(',')) {
    const [range = '', step] = part.split('/');
    const [from, to] =
      range === '*'
        ? [low, high]
        : range.includes('-')
          ? range.split('-').map(value)
          : [value(range), step ? high : value(range)];
    for (let v = from ?? low; v <= (to ?? high); v += Number(step ?? 1)) values.add(v);
  }
  return values;
}
