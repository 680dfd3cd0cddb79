/**
 * The pipeline scenario of `npm run bench`: N generated customers through the local pipeline.
 *
 * 1. Sources: the data set into a throwaway MariaDB (LOAD DATA), the interactions as a DynamoDB
 *    table export folder, the history files into a folder.
 * 2. Extract day D into a raw zone with the local extractors (each table timed apart).
 * 3. A day of changes for D+1 (`applyChanges` on the same MariaDB, the day's new interactions as an
 *    incremental export), extracted into raw partitions D+1 kept apart.
 * 4. The raw zones of D and of D+1 stay under the data folder; a later bench with the same N reuses
 *    them and skips 1-3 (unless `fresh`).
 * 5. A full run of D on a fresh lake holding D's raw zone (hard links), with no sources: stage,
 *    quality gate, marts and publish.
 * 6. The D+1 raw partitions added, the run of D+1 on the same lake.
 */

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  createWriteStream,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createGzip } from 'node:zlib';
import type { BatchWriteItemCommand, BatchWriteItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../lib/config/load.js';
import type { Customer360Config } from '../lib/config/schema.js';
import { estimateRunCost } from '../lib/cost/index.js';
import { applyChanges, type ChangeOptions, generateDataset } from '../lib/generate/index.js';
import { folderObjectStore, LOCAL_NAMES } from '../lib/local/athena.js';
import { openLocalEngine } from '../lib/local/duckdb.js';
import { extractDynamoDb } from '../lib/local/extract-dynamodb.js';
import { extractHistory } from '../lib/local/extract-history.js';
import { extractMysql, type MysqlTableName } from '../lib/local/extract-mysql.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import { type LocalRunSummary, runPipelineLocally } from '../lib/local/pipeline-runner.js';
import { lockWorkspace, openWorkspaceEngine, type Workspace, workspaceAt } from '../lib/local/workspace.js';
import { readRows } from '../lib/models/parquet.js';
import { modelRuns } from '../lib/schema/marts/models.js';
import { tableAtLocation } from '../lib/schema/tables.js';
import type { Measure, ModelFigures, PipelineFigures, RunCost, RunFigures, StateFigures } from './report.js';
import { rate } from './report.js';

export interface PipelineScenarioOptions {
  readonly customers: number;
  /**
   * The generator's purchase profile.
   * @default 'retail'
   */
  readonly profile?: 'retail' | 'grocery';
  /** Where the raw zones are cached and the runs' lake is made. */
  readonly dataDir: string;
  /**
   * Rebuild the sources and raw zones even when the data folder holds them.
   * @default false
   */
  readonly fresh?: boolean;
  /**
   * Day D: the generated history ends with it, and the full run is for it.
   * @default '2025-12-30'
   */
  readonly runDate?: string;
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
}

const SEED = 'bench';
const DAY_MS = 86_400_000;
const CACHE_FILE = 'raw-cache.json';

/** What a filled data folder holds, and how it was made. */
interface RawCache {
  readonly customers: number;
  /** Absent in caches made before profiles existed: those hold the frequent-purchase (grocery) data. */
  readonly profile?: 'retail' | 'grocery';
  readonly seed: string;
  readonly runDate: string;
  readonly nextDate: string;
  readonly sources: Record<string, number>;
  readonly preparation: Measure[];
}

/**
 * How many keys a day of changes touches, in proportion to the customers (the generator's defaults
 * are sized for tests). Orders and interactions follow the generated history's own daily rates
 * roughly: about 9 orders and 29 interactions per customer over its years.
 */
export function dayOfChanges(customers: number): Omit<ChangeOptions, 'seed' | 'updatedAt'> {
  const part = (fraction: number, least: number) => Math.max(least, Math.round(customers * fraction));
  return {
    customersUpdated: part(0.002, 5),
    customersInserted: part(0.0005, 3),
    productsUpdated: 20,
    ordersUpdated: part(0.004, 8),
    ordersInserted: part(0.003, 6),
    eventsInserted: part(0.03, 12),
  };
}

/** The day after `date` (yyyy-MM-dd). */
export function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

/** Wall, CPU and memory of the work inside `measure`; a sampler follows RSS every 100 ms. */
class Meter {
  mariadbPid: number | undefined;

  async measure<T>(
    name: string,
    work: () => Promise<T>,
    describe: (value: T) => { rows?: number } = () => ({}),
  ): Promise<{ value: T; measure: Measure }> {
    const started = performance.now();
    const cpu = process.cpuUsage();
    let peak = process.memoryUsage.rss();
    let mariadbPeak: number | undefined;
    const sample = () => {
      peak = Math.max(peak, process.memoryUsage.rss());
      const server = this.mariadbPid === undefined ? undefined : residentBytes(this.mariadbPid);
      if (server !== undefined) mariadbPeak = Math.max(mariadbPeak ?? 0, server);
    };
    sample();
    const serverCpu = this.mariadbPid === undefined ? undefined : cpuSecondsOf(this.mariadbPid);
    const timer = setInterval(sample, 100);
    try {
      const value = await work();
      sample();
      const used = process.cpuUsage(cpu);
      const serverCpuAfter = this.mariadbPid === undefined ? undefined : cpuSecondsOf(this.mariadbPid);
      const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
      return {
        value,
        measure: {
          name,
          wallSeconds: round((performance.now() - started) / 1000),
          cpuSeconds: round((used.user + used.system) / 1e6),
          peakRssMiB: mib(peak),
          maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
          ...(mariadbPeak === undefined ? {} : { mariadbPeakRssMiB: mib(mariadbPeak) }),
          ...(serverCpu === undefined || serverCpuAfter === undefined
            ? {}
            : { mariadbCpuSeconds: round(serverCpuAfter - serverCpu) }),
          ...describe(value),
        },
      };
    } finally {
      clearInterval(timer);
    }
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

/** VmRSS of a process from /proc (Linux), or undefined where it cannot be read. */
function residentBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * User plus system CPU seconds of a process from /proc/<pid>/stat (fields 14 and 15, in clock ticks
 * of 1/100 s on Linux), or undefined where it cannot be read.
 */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Stands in for the DynamoDB client `applyChanges` writes the day's interactions with, and keeps
 * every item put: those are exactly what DynamoDB's incremental export for the day would hold.
 */
class ChangeCapture {
  readonly items: Record<string, unknown>[] = [];
  async send(command: BatchWriteItemCommand): Promise<BatchWriteItemCommandOutput> {
    for (const requests of Object.values(command.input.RequestItems ?? {}))
      for (const request of requests) if (request.PutRequest?.Item) this.items.push(request.PutRequest.Item);
    return { UnprocessedItems: {}, $metadata: {} };
  }
}

/**
 * Writes the captured items as a DynamoDB incremental export in DYNAMODB_JSON: one data file of
 * `{"Metadata":{"WriteTimestampMicros"},"Keys","NewImage"}` lines and the two manifests, as in
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html.
 * `exportTime` (the end of the export window) is what the local extractor takes as its watermark.
 */
async function writeIncrementalExport(
  dir: string,
  tableName: string,
  items: readonly Record<string, unknown>[],
  from: string,
  to: string,
): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  const dataKey = 'data/00000-incremental.json.gz';
  const gzip = createGzip();
  const out = createWriteStream(join(dir, dataKey));
  const md5 = createHash('md5');
  gzip.on('data', (chunk: Buffer) => md5.update(chunk));
  gzip.pipe(out);
  const micros = `${Date.parse(to) * 1000 - 1}`;
  for (const item of items) {
    const keys = { customer_key: item.customer_key, event_key: item.event_key };
    const line = { Metadata: { WriteTimestampMicros: { N: micros } }, Keys: keys, NewImage: item };
    if (!gzip.write(`${JSON.stringify(line)}\n`)) await once(gzip, 'drain');
  }
  const closed = once(out, 'close');
  gzip.end();
  await closed;
  const digest = md5.digest();
  const entry = {
    itemCount: items.length,
    md5Checksum: digest.toString('base64'),
    etag: digest.toString('hex'),
    dataFileS3Key: dataKey,
  };
  writeFileSync(join(dir, 'manifest-files.json'), `${JSON.stringify(entry)}\n`);
  const tableArn = `arn:aws:dynamodb:local:000000000000:table/${tableName}`;
  const summary = {
    version: '2023-08-01',
    exportArn: `${tableArn}/export/${String(Date.parse(to)).padStart(14, '0')}-incremental`,
    startTime: to,
    endTime: to,
    tableArn,
    exportFromTime: from,
    exportToTime: to,
    exportTime: to,
    manifestFilesS3Key: 'manifest-files.json',
    itemCount: items.length,
    outputFormat: 'DYNAMODB_JSON',
    outputView: 'NEW_IMAGE',
    exportType: 'INCREMENTAL_EXPORT',
  };
  writeFileSync(join(dir, 'manifest-summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

/** Every file under `from` hard-linked at the same place under `to` (raw files are never modified). */
function linkTree(from: string, to: string, skip: (name: string) => boolean = () => false): number {
  let files = 0;
  if (!existsSync(from)) return files;
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) files += linkTree(source, target);
    else {
      rmSync(target, { force: true });
      linkSync(source, target);
      files++;
    }
  }
  return files;
}

/** Bytes of the files under a folder. */
function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    bytes += entry.isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return bytes;
}

/**
 * Bytes of each stage and analytics table's `run_date=<date>/run_id=<runId>/` partition, keyed
 * `zone.table`, found by walking the zone (a table's folder is its location).
 */
export function runPartitionBytes(lakeRoot: string, runDate: string, runId: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const zone of ['stage', 'analytics']) {
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isDirectory() || entry.name.startsWith('_')) continue;
        const path = join(dir, entry.name);
        if (entry.name === `run_date=${runDate}`) {
          const location = `${relative(join(lakeRoot, zone), dir).split('/').join('/')}/`;
          const declared = tableAtLocation(zone, location);
          const table = declared?.name ?? location.slice(0, -1).split('/').join('_');
          found[`${zone}.${table}`] = folderBytes(join(path, `run_id=${runId}`));
        } else if (!entry.name.includes('=')) walk(path);
      }
    };
    walk(join(lakeRoot, zone));
  }
  return found;
}

/** Bytes of each raw table (`raw/<source>/<table>/`), keyed `raw.<source>_<table>`; `_state` left out. */
export function rawTableBytes(lakeRoot: string): Record<string, number> {
  const found: Record<string, number> = {};
  const raw = join(lakeRoot, 'raw');
  if (!existsSync(raw)) return found;
  for (const source of readdirSync(raw, { withFileTypes: true })) {
    if (!source.isDirectory() || source.name.startsWith('_')) continue;
    for (const table of readdirSync(join(raw, source.name), { withFileTypes: true })) {
      if (!table.isDirectory() || table.name.startsWith('_')) continue;
      found[`raw.${source.name}_${table.name}`] = folderBytes(join(raw, source.name, table.name));
    }
  }
  return found;
}

/**
 * Per-state figures: the query states (`Run ... query [model]`) get the rows their model wrote
 * and rows per second of their wall time.
 */
export function stateFigures(summary: Pick<LocalRunSummary, 'states' | 'rows'>): StateFigures[] {
  return summary.states.map((s) => {
    const item = /\[([a-z0-9_]+)\]$/.exec(s.state)?.[1] ?? /^Run ([a-z0-9_]+) query$/.exec(s.state)?.[1];
    const rows =
      item === undefined ? undefined : (summary.rows[`stage.${item}`] ?? summary.rows[`analytics.${item}`]);
    const isQuery = /^Run .* query/.test(s.state);
    return {
      state: s.state,
      status: s.status,
      seconds: round(s.seconds),
      ...(s.cpuSeconds === undefined ? {} : { cpuSeconds: round(s.cpuSeconds) }),
      ...(rows === undefined || !isQuery ? {} : { rows, rowsPerSecond: rate(rows, s.seconds) }),
    };
  });
}

const MYSQL_TABLE_ORDER: readonly MysqlTableName[] = ['customers', 'products', 'orders', 'order_items'];

/** Phases 1-3: sources, extraction of D, a day of changes extracted into D+1. Returns the cache record. */
async function buildRawZones(
  config: Customer360Config,
  options: {
    readonly customers: number;
    readonly profile?: 'retail' | 'grocery';
    readonly runDate: string;
    readonly dataDir: string;
    readonly log: (line: string) => void;
  },
  dirs: { dayLake: string; nextLake: string; exportDir: string; nextExportDir: string; historyDir: string },
  meter: Meter,
  servers: { mariadb?: LocalMariaDb },
): Promise<RawCache> {
  const { customers, runDate, log } = options;
  const nextDate = nextDay(runDate);
  const tableName = config.sources.dynamodb.interactionsTableName;
  const preparation: Measure[] = [];

  log(`[sources] starting a throwaway MariaDB`);
  const db = await LocalMariaDb.start();
  servers.mariadb = db;
  meter.mariadbPid = db.pid;

  log(`[sources] generating ${customers.toLocaleString('en-US')} customers (seed ${SEED}) up to ${runDate}`);
  const generated = await meter.measure(
    'sources: generate into MariaDB, DynamoDB export, history files',
    () =>
      generateDataset(
        {
          customers,
          seed: SEED,
          end: runDate,
          historyCustomerKey: config.sources.history.customerKey,
          purchaseProfile: options.profile ?? 'retail',
        },
        {
          // Multi-row INSERT, not LOAD DATA LOCAL: at 600,000 customers mysql2 once lost the server's reply
          // to a LOAD and the bench waited forever; INSERT measured within 15% of it at 50,000.
          mysql: { connection: db.connection, method: 'insert' },
          dynamodbExport: { dir: dirs.exportDir, tableName },
          historyDir: dirs.historyDir,
          files: {
            dir: join(options.dataDir, 'generated'),
            mysql: false,
            dynamodb: false,
            history: false,
          },
          progressEvery: Math.max(10_000, Math.round(customers / 10)),
          onProgress: (done) => log(`[sources]   ${done.toLocaleString('en-US')} customers generated`),
        },
      ),
    ({ manifest }) => {
      const c = manifest.counts;
      const rows =
        c.mysql.customers +
        c.mysql.products +
        c.mysql.orders +
        c.mysql.order_items +
        c.dynamodb.items +
        c.history.rows;
      return { rows };
    },
  );
  preparation.push(generated.measure);
  const counts = generated.value.manifest.counts;
  const sources: Record<string, number> = {
    'mysql customers': counts.mysql.customers,
    'mysql products': counts.mysql.products,
    'mysql orders': counts.mysql.orders,
    'mysql order_items': counts.mysql.order_items,
    'dynamodb items': counts.dynamodb.items,
    'history rows': counts.history.rows,
  };
  log(`[sources] done in ${generated.measure.wallSeconds} s: ${JSON.stringify(sources)}`);

  const { instance, connection } = await openLocalEngine({ tempDirectory: join(options.dataDir, 'tmp') });
  try {
    const extractInto = async (lakeRoot: string, ingestDate: string, exportDir: string, label: string) => {
      let mysqlRows = 0;
      let mysqlSeconds = 0;
      for (const table of MYSQL_TABLE_ORDER.filter((t) => config.sources.mysql.tables.includes(t))) {
        log(`[${label}] extracting mysql.${table} into raw ingest_date=${ingestDate}`);
        const { measure } = await meter.measure(
          `${label}: mysql.${table}`,
          () =>
            extractMysql({
              source: db.connection,
              engine: connection,
              lakeRoot,
              ingestDate,
              tables: [table],
            }),
          (results) => ({ rows: results.reduce((n, r) => n + r.rows, 0) }),
        );
        preparation.push(measure);
        mysqlRows += measure.rows ?? 0;
        mysqlSeconds += measure.wallSeconds;
        log(
          `[${label}]   ${cell(measure.rows)} rows in ${measure.wallSeconds} s (${cell(rate(measure.rows ?? 0, measure.wallSeconds))} rows/s)`,
        );
      }
      log(
        `[${label}] MariaDB extraction: ${cell(mysqlRows)} rows at ${cell(rate(mysqlRows, mysqlSeconds))} rows/s`,
      );
      log(`[${label}] extracting the DynamoDB export ${relative(process.cwd(), exportDir)}`);
      const dynamo = await meter.measure(
        `${label}: dynamodb export`,
        () => extractDynamoDb({ exportDir, tableName, engine: connection, lakeRoot, ingestDate }),
        (r) => ({ rows: r.rows }),
      );
      preparation.push(dynamo.measure);
      log(`[${label}]   ${cell(dynamo.measure.rows)} items in ${dynamo.measure.wallSeconds} s`);
      log(`[${label}] landing the history files`);
      const history = await meter.measure(
        `${label}: history files`,
        () =>
          extractHistory({
            historyDir: dirs.historyDir,
            config: config.sources.history,
            engine: connection,
            lakeRoot,
            ingestDate,
          }),
        (r) => ({ rows: r.rows }),
      );
      preparation.push(history.measure);
      log(`[${label}]   ${cell(history.measure.rows)} rows in ${history.measure.wallSeconds} s`);
    };

    await extractInto(dirs.dayLake, runDate, dirs.exportDir, `extract ${runDate}`);

    // D+1 continues from D's watermarks, but its partitions land in a lake of their own.
    linkTree(join(dirs.dayLake, 'raw', '_state'), join(dirs.nextLake, 'raw', '_state'));
    const updatedAt = `${nextDate}T12:00:00.000Z`;
    const shape = dayOfChanges(customers);
    log(`[changes ${nextDate}] applying a day of changes to MariaDB: ${JSON.stringify(shape)}`);
    const capture = new ChangeCapture();
    const changed = await meter.measure(
      `changes ${nextDate}: applyChanges on MariaDB + incremental export`,
      async () => {
        const changes = await applyChanges(
          { mysql: db.connection, dynamodb: { client: capture as never, tableName } },
          { seed: SEED, updatedAt, ...shape },
        );
        await writeIncrementalExport(
          dirs.nextExportDir,
          tableName,
          capture.items,
          `${runDate}T23:59:59.999Z`,
          `${nextDate}T23:59:59.999Z`,
        );
        return changes;
      },
      (c) => ({
        rows:
          Object.values(c.mysql).reduce((n, k) => n + k.updated.length + k.inserted.length, 0) +
          c.dynamodb.inserted.length,
      }),
    );
    preparation.push(changed.measure);
    sources['changes: mysql keys'] = Object.values(changed.value.mysql).reduce(
      (n, k) => n + k.updated.length + k.inserted.length,
      0,
    );
    sources['changes: dynamodb items'] = changed.value.dynamodb.inserted.length;
    await extractInto(dirs.nextLake, nextDate, dirs.nextExportDir, `extract ${nextDate}`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  await db.stop();
  servers.mariadb = undefined;
  meter.mariadbPid = undefined;
  return {
    customers,
    profile: options.profile ?? 'retail',
    seed: SEED,
    runDate,
    nextDate,
    sources,
    preparation,
  };
}

const cell = (n: number | undefined) => (n === undefined ? '–' : n.toLocaleString('en-US'));

/** What the run would cost on AWS, at its size and at 1M and 10M customers. */
async function runCost(
  workspace: Workspace,
  summary: LocalRunSummary,
  config: Customer360Config,
  log: (line: string) => void,
): Promise<RunCost[]> {
  try {
    const { estimates } = await estimateRunCost(
      join(workspace.runsDir, `${summary.executionName}.json`),
      workspace.lake,
      { config },
    );
    return estimates.map((e) => {
      const athena = e.lines.filter((l) => l.item.toLowerCase().startsWith('athena'));
      return {
        customers: e.customers,
        // TB billed, binary as in lib/cost: the 10 MB minimum per query included.
        athenaBytes: athena.reduce((sum, l) => sum + (l.unit === 'TB billed' ? l.quantity * 2 ** 40 : 0), 0),
        athenaCost: athena.reduce((sum, l) => sum + l.cost, 0),
        perRun: e.perRun,
        perMonth: e.perMonth,
      };
    });
  } catch (error) {
    // The timings stand on their own; a cost model that cannot read this run is reported, not fatal.
    log(`[cost] not estimated: ${(error as Error).message}`);
    return [];
  }
}

/** Phases 5 and 6: one run of the state machine on the bench lake, with no sources. */
async function measureRun(
  config: Customer360Config,
  workspace: Workspace,
  name: string,
  runDate: string,
  meter: Meter,
  log: (line: string) => void,
): Promise<RunFigures> {
  const input = { runDate, full: true };
  log(`[${name} run] ${JSON.stringify(input)} from the filled raw zone, no sources`);
  const { value: summary, measure } = await meter.measure(`${name} run ${runDate}`, async () => {
    const { instance, connection } = await openWorkspaceEngine(workspace);
    try {
      return await runPipelineLocally({
        config,
        lakeRoot: workspace.lake,
        engine: instance,
        sources: {},
        outboxFile: workspace.outboxFile,
        runsDir: workspace.runsDir,
        input,
        onEvent: (line) => log(`[${name} run] ${line.trimStart()}`),
      });
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
  log(`[${name} run] ${summary.status} in ${measure.wallSeconds} s (peak RSS ${measure.peakRssMiB} MiB)`);
  return {
    name,
    input,
    status: summary.status,
    ...(summary.runId ? { runId: summary.runId } : {}),
    measure,
    ...(summary.failure
      ? { failure: `${summary.failure.state}: ${summary.failure.error}: ${summary.failure.cause}` }
      : summary.error
        ? { failure: `${summary.error.error}: ${summary.error.cause}` }
        : {}),
    states: stateFigures(summary),
    rows: summary.rows,
    runBytes: summary.runId ? runPartitionBytes(workspace.lake, runDate, summary.runId) : {},
    rawBytes: rawTableBytes(workspace.lake),
    ...(summary.status === 'SUCCEEDED' ? { cost: await runCost(workspace, summary, config, log) } : {}),
    ...(summary.runId ? { models: await modelFigures(workspace.lake, runDate, summary.runId) } : {}),
  };
}

/** What Fit models recorded: per model, what it read (distinct triples or sampled customers). */
async function modelFigures(lakeRoot: string, runDate: string, runId: string): Promise<ModelFigures[]> {
  const rows = await readRows(
    folderObjectStore(lakeRoot),
    LOCAL_NAMES.analytics,
    `${modelRuns.location}run_date=${runDate}/run_id=${runId}/`,
  );
  return rows.map((r) => ({
    model: String(r.model),
    cutoffRole: String(r.cutoff_role),
    status: String(r.status),
    fittedRows: Number(r.fitted_rows),
    customers: Number(r.customers),
  }));
}

/** Runs the pipeline scenario; servers are stopped on every exit path, Ctrl-C included. */
export async function runPipelineScenario(options: PipelineScenarioOptions): Promise<PipelineFigures> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runDate = options.runDate ?? '2025-12-30';
  const nextDate = nextDay(runDate);
  const dataDir = resolve(options.dataDir);
  const config = loadConfig();
  const workspace = workspaceAt(dataDir);
  const release = lockWorkspace(workspace, 'npm run bench', log);
  const dirs = {
    dayLake: join(dataDir, `raw-${runDate}`),
    nextLake: join(dataDir, `raw-${nextDate}`),
    exportDir: join(dataDir, 'dynamodb-export'),
    nextExportDir: join(dataDir, `dynamodb-export-${nextDate}`),
    historyDir: workspace.historyDir,
  };
  const cacheFile = join(dataDir, CACHE_FILE);
  const meter = new Meter();
  const servers: { mariadb?: LocalMariaDb } = {};
  const stopServers = async () => {
    await servers.mariadb?.stop().catch(() => undefined);
    servers.mariadb = undefined;
  };
  // Ctrl-C reaches this process twice under `npm run` (from the terminal and relayed by tsx): a
  // `once` listener would leave the second to kill the process before MariaDB is stopped.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    log('\nInterrupted: stopping MariaDB.');
    void stopServers().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let cache: RawCache | undefined;
    if (!options.fresh && existsSync(cacheFile)) {
      const found = JSON.parse(readFileSync(cacheFile, 'utf8')) as RawCache;
      if (
        found.customers === options.customers &&
        (found.profile ?? 'grocery') === (options.profile ?? 'retail') &&
        found.seed === SEED &&
        found.runDate === runDate &&
        existsSync(dirs.dayLake) &&
        existsSync(dirs.nextLake)
      )
        cache = found;
      else log(`[cache] ${cacheFile} is for other data; rebuilding`);
    }
    const reused = cache !== undefined;
    if (cache) log(`[cache] reusing the raw zones of ${relative(process.cwd(), dataDir)} (--fresh rebuilds)`);
    else {
      // The cache record goes last: a bench killed while building leaves no record, so it rebuilds.
      rmSync(cacheFile, { force: true });
      for (const dir of [dirs.dayLake, dirs.nextLake, dirs.exportDir, dirs.nextExportDir, dirs.historyDir])
        rmSync(dir, { recursive: true, force: true });
      mkdirSync(dirs.historyDir, { recursive: true });
      cache = await buildRawZones(
        config,
        { customers: options.customers, profile: options.profile, dataDir, runDate, log },
        dirs,
        meter,
        servers,
      );
      // The raw zones are what is reused; the source files are not needed again.
      for (const dir of [dirs.exportDir, dirs.nextExportDir]) rmSync(dir, { recursive: true, force: true });
      writeFileSync(cacheFile, `${JSON.stringify(cache, null, 2)}\n`);
    }

    // A fresh lake for the runs: D's raw zone linked in.
    rmSync(workspace.lake, { recursive: true, force: true });
    const linked = linkTree(join(dirs.dayLake, 'raw'), join(workspace.lake, 'raw'));
    log(`[full run] lake ${relative(process.cwd(), workspace.lake)} with ${linked} raw files of ${runDate}`);
    const runs: RunFigures[] = [];
    runs.push(await measureRun(config, workspace, 'full', runDate, meter, log));

    const added = linkTree(join(dirs.nextLake, 'raw'), join(workspace.lake, 'raw'));
    log(`[incremental run] added ${added} raw files of ${nextDate}`);
    runs.push(await measureRun(config, workspace, 'incremental', nextDate, meter, log));

    return {
      customers: options.customers,
      runDate,
      nextDate,
      reused,
      dataDir: relative(process.cwd(), dataDir) || '.',
      sources: cache.sources,
      preparation: cache.preparation,
      runs,
    };
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopServers();
    release();
  }
}
