import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FIT_MODELS_MEMORY_MB, FIT_MODELS_STATE } from '../constructs/pipeline.js';
import { registerPublishedViews } from '../local/athena.js';
import { openLocalEngine } from '../local/duckdb.js';
import { tableFiles } from '../local/lake.js';
import type { LocalRunSummary } from '../local/pipeline-runner.js';
import { prepareEngine, registerLake } from '../local/sql-runner.js';
import { sqlString } from '../schema/derive.js';
import { allTables, rawDynamodbInteractions } from '../schema/tables.js';
import type { TableSchema } from '../schema/types.js';
import type { MeasuredRun } from './estimate.js';

/** One table scan of one query: the columns and files Athena would read, and their compressed bytes. */
export interface TableScan {
  readonly table: string;
  readonly columns: readonly string[];
  readonly files: number;
  readonly bytes: number;
  /** Ranged GETs: one footer read per file and one per column chunk read. */
  readonly gets: number;
}

/**
 * Bytes Athena would scan for one statement on this lake: for each table scan of its plan, the
 * compressed size of the column chunks of the columns it reads, in the partitions it reads.
 *
 * The plan is DuckDB's (`EXPLAIN (FORMAT json)`) on a connection set up for measuring: filter
 * pushdown is off, so each scan's filter stays a FILTER node above it rather than being folded into
 * the file list at bind time, and every partitioned table's view carries a filter that can never be
 * false (`<first key> != <a date in the year 1000>`) whose date names the table.
 */
export class ScanMeter {
  private readonly metadata = new Map<
    string,
    { file: string; group: number; column: string; bytes: number }[]
  >();

  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly lakeRoot: string,
    private readonly tables: readonly TableSchema[],
  ) {}

  static async open(
    connection: DuckDBConnection,
    lakeRoot: string,
    tables: readonly TableSchema[] = allTables,
  ): Promise<ScanMeter> {
    await prepareEngine(connection);
    await registerLake(connection, lakeRoot, tables);
    for (const [index, table] of tables.entries()) {
      const key = table.partitionKeys[0];
      if (!key) continue;
      const found = await connection.runAndReadAll(
        `SELECT sql FROM duckdb_views() WHERE schema_name = '${table.zone}' AND view_name = '${table.name}'`,
      );
      const sql = found.getRowObjectsJson()[0]?.sql;
      if (typeof sql !== 'string') continue; // no files yet: an empty table, nothing to scan
      const sentinel = key.type === 'date' ? `DATE '${sentinelDate(index)}'` : `'~sentinel-${index}'`;
      await connection.run(
        `${sql.replace(/^CREATE VIEW/, 'CREATE OR REPLACE VIEW').replace(/;\s*$/, '')} WHERE "${key.name}" != ${sentinel}`,
      );
    }
    await registerPublishedViews(connection, lakeRoot);
    await connection.run(`SET disabled_optimizers = 'filter_pushdown'`);
    return new ScanMeter(connection, lakeRoot, tables);
  }

  /** The scans of one statement as the pipeline sent it to Athena; DDL scans nothing. */
  async measure(statement: string): Promise<{ ddl: boolean; scans: TableScan[] }> {
    const sql = statement.trim();
    if (/^(CREATE|DROP|ALTER)\s/i.test(sql)) return { ddl: true, scans: [] };
    const unload = /^UNLOAD\s*\(([\s\S]*)\)\s*TO\s*'([^']+)'\s*WITH\s*\(([\s\S]*)\)\s*$/i.exec(sql);
    const select = unload ? (unload[1] ?? '') : sql;
    const explained = await this.connection.runAndReadAll(`EXPLAIN (FORMAT json) ${select}`);
    const row = explained.getRowObjectsJson().find((r) => r.explain_key === 'physical_plan');
    const plan = JSON.parse(String(row?.explain_value ?? '[]')) as PlanNode[];
    const found: { projections: string[]; conjuncts: string[] }[] = [];
    const walk = (node: PlanNode, pending: string[]) => {
      const info = node.extra_info ?? {};
      if (node.name === 'READ_PARQUET' || info.Function === 'READ_PARQUET') {
        const projections = info.Projections;
        found.push({
          projections: Array.isArray(projections) ? projections : projections ? [projections] : [],
          conjuncts: pending,
        });
        return;
      }
      // Filters reach a scan through projections only (the view's casts); anything else ends them.
      const passing =
        node.name === 'FILTER'
          ? [...pending, ...conjunctsOf(String(info.Expression ?? ''))]
          : node.name === 'PROJECTION'
            ? pending
            : [];
      for (const child of node.children ?? []) walk(child, passing);
    };
    for (const node of plan) walk(node, []);
    const scans: TableScan[] = [];
    for (const scan of found) scans.push(await this.price(scan.projections, scan.conjuncts));
    return { ddl: false, scans };
  }

  private async price(projections: string[], conjuncts: string[]): Promise<TableScan> {
    const table = this.identify(projections, conjuncts);
    if (!table) return { table: 'unknown', columns: projections, files: 0, bytes: 0, gets: 0 };
    const keys = new Set(table.partitionKeys.map((k) => k.name));
    const data = new Set(table.columns.map((c) => c.name));
    const columns = projections.filter((p) => data.has(p));
    const partitionFilters = conjuncts.filter((c) => {
      const names = identifiers(c);
      return names.some((n) => keys.has(n)) && !names.some((n) => data.has(n)) && !isSentinel(c);
    });
    const files = await this.filesPassing(table, partitionFilters);
    const chosen = new Set(files);
    const wanted = new Set(columns);
    const chunks = (await this.chunks(table)).filter((c) => chosen.has(c.file) && wanted.has(c.column));
    return {
      table: `${table.zone}.${table.name}`,
      columns,
      files: files.length,
      bytes: chunks.reduce((sum, c) => sum + c.bytes, 0),
      gets: files.length + chunks.length,
    };
  }

  private identify(projections: string[], conjuncts: string[]): TableSchema | undefined {
    for (const conjunct of conjuncts) {
      const date = /'1000-(\d{2})-(\d{2})'::DATE/.exec(conjunct);
      const text = /'~sentinel-(\d+)'/.exec(conjunct);
      const index = date
        ? Math.round(
            (Date.UTC(1000, Number(date[1]) - 1, Number(date[2])) - Date.UTC(1000, 0, 1)) / 86_400_000,
          )
        : text
          ? Number(text[1])
          : undefined;
      if (index !== undefined && isSentinel(conjunct)) return this.tables[index];
    }
    // No sentinel: an unpartitioned table, or a scan whose filter the plan placed elsewhere (then
    // every partition is counted). The smallest table that holds every projected column.
    const candidates = this.tables
      .filter((t) => projections.every((p) => [...t.columns, ...t.partitionKeys].some((c) => c.name === p)))
      .sort((a, b) => a.columns.length - b.columns.length);
    return candidates[0];
  }

  /** The table's files whose partition values pass the filters (each filter alone, so one DuckDB cannot evaluate only widens the set). */
  private async filesPassing(table: TableSchema, filters: string[]): Promise<string[]> {
    const { files } = tableFiles(this.lakeRoot, table);
    if (files.length === 0 || table.partitionKeys.length === 0 || filters.length === 0) return files;
    const rows = files.map((file) => {
      const values = table.partitionKeys.map((key) => {
        const value = new RegExp(`/${key.name}=([^/]+)/`).exec(file)?.[1] ?? '';
        return key.type === 'date' ? `DATE ${sqlString(value)}` : sqlString(decodeURIComponent(value));
      });
      return `(${[sqlString(file), ...values].join(', ')})`;
    });
    const names = ['"__file"', ...table.partitionKeys.map((k) => `"${k.name}"`)].join(', ');
    let passing = new Set(files);
    for (const filter of filters) {
      try {
        const result = await this.connection.runAndReadAll(
          `SELECT "__file" FROM (VALUES ${rows.join(', ')}) AS t(${names}) WHERE ${filter}`,
        );
        const kept = new Set(result.getRowObjectsJson().map((r) => String(r.__file)));
        passing = new Set([...passing].filter((f) => kept.has(f)));
      } catch {
        // A filter that is not about partition values alone reads every partition: counted in full.
      }
    }
    return files.filter((f) => passing.has(f));
  }

  private async chunks(table: TableSchema) {
    const name = `${table.zone}.${table.name}`;
    const cached = this.metadata.get(name);
    if (cached) return cached;
    const { files } = tableFiles(this.lakeRoot, table);
    let chunks: { file: string; group: number; column: string; bytes: number }[] = [];
    if (files.length > 0) {
      const result = await this.connection.runAndReadAll(
        `SELECT file_name, row_group_id, path_in_schema, total_compressed_size FROM parquet_metadata([${files.map(sqlString).join(', ')}])`,
      );
      chunks = result.getRowObjectsJson().map((r) => ({
        file: String(r.file_name),
        group: Number(r.row_group_id),
        // A nested column's leaves are `column, element, ...`: all of them belong to the column.
        column: String(r.path_in_schema).split(/[.,]\s*/)[0] ?? '',
        bytes: Number(r.total_compressed_size),
      }));
    }
    this.metadata.set(name, chunks);
    return chunks;
  }
}

interface PlanNode {
  readonly name?: string;
  readonly children?: readonly PlanNode[];
  readonly extra_info?: Record<string, string | string[] | undefined>;
}

function sentinelDate(index: number): string {
  return new Date(Date.UTC(1000, 0, 1) + index * 86_400_000).toISOString().slice(0, 10);
}

function isSentinel(conjunct: string): boolean {
  return /^\(?"?\w+"? != ('1000-\d{2}-\d{2}'::DATE|'~sentinel-\d+')\)?$/.test(conjunct.trim());
}

/** Top-level AND terms of a filter expression, outer parentheses removed. */
export function conjunctsOf(expression: string): string[] {
  let text = expression.trim();
  while (text.startsWith('(') && closingParen(text, 0) === text.length - 1) text = text.slice(1, -1).trim();
  const terms: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (ch === "'") quoted = !quoted;
    if (quoted) continue;
    if (ch === '(') depth += 1;
    else if (ch === ')') depth -= 1;
    else if (depth === 0 && text.startsWith(' AND ', i)) {
      terms.push(text.slice(start, i).trim());
      start = i + 5;
    }
  }
  terms.push(text.slice(start).trim());
  return terms.filter((t) => t.length > 0);
}

function closingParen(text: string, open: number): number {
  let depth = 0;
  let quoted = false;
  for (let i = open; i < text.length; i += 1) {
    if (text[i] === "'") quoted = !quoted;
    if (quoted) continue;
    if (text[i] === '(') depth += 1;
    else if (text[i] === ')') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Names in an expression outside string literals. */
function identifiers(expression: string): string[] {
  return [...expression.replace(/'[^']*'/g, "''").matchAll(/"?([A-Za-z_][A-Za-z0-9_]*)"?/g)].map(
    (m) => m[1] ?? '',
  );
}

export interface MeasureOptions {
  /**
   * Base names of the states that invoke a Lambda function (the definition's Task states with a
   * FunctionName).
   * @default states named Prepare ..., Begin run, Claim publishing, Complete publishing, Fit models
   */
  readonly lambdaStates?: ReadonlySet<string>;
  /** @default 512, as lib/constructs/pipeline.ts configures every function but Fit models (counted at its own) */
  readonly lambdaMemoryMb?: number;
  /** DPUs of each Glue job (workers x DPUs per worker of its worker type). */
  readonly glueDpus: number;
  /**
   * Seconds the DynamoDB job waits for the table export in the cloud.
   * @default 360
   */
  readonly exportWaitSeconds?: number;
  /**
   * Customers in the measured data set.
   * @default the rows the run wrote to stage.customers
   */
  readonly customers?: number;
}

const GLUE_STATES: Readonly<Record<string, string>> = {
  'Extract mysql': 'extract-mysql',
  'Extract dynamodb': 'extract-dynamodb',
  'Extract history': 'land-history',
};

/**
 * Counts what one local run would cost in AWS: each Athena query's scanned bytes, Glue job time,
 * the DynamoDB export, state transitions, Lambda invocations, S3 and KMS requests and log bytes.
 */
export async function measureRun(
  summary: LocalRunSummary,
  lakeRoot: string,
  options: MeasureOptions,
): Promise<MeasuredRun & { readonly scans: readonly { label: string; scans: readonly TableScan[] }[] }> {
  const { connection, instance } = await openLocalEngine();
  try {
    const meter = await ScanMeter.open(connection, lakeRoot);
    const queries: { label: string; bytesScanned: number; ddl: boolean }[] = [];
    const scans: { label: string; scans: TableScan[] }[] = [];
    let gets = 0;
    let kms = 0;
    for (const [i, query] of summary.queries.entries()) {
      const label = query.target ?? `${query.sql.trim().split(/\s+/).slice(0, 6).join(' ')} (#${i + 1})`;
      const measured = await meter.measure(query.sql);
      const bytes = measured.scans.reduce((sum, s) => sum + s.bytes, 0);
      queries.push({ label, bytesScanned: bytes, ddl: measured.ddl });
      scans.push({ label, scans: measured.scans });
      gets += measured.scans.reduce((sum, s) => sum + s.gets, 0);
      // With S3 Bucket Keys, a data key is asked of KMS about once per bucket a query reads or writes.
      const buckets = new Set(measured.scans.map((s) => s.table.split('.')[0]));
      if (query.target) buckets.add(query.target.split('.')[0]);
      kms += buckets.size;
    }

    const runId = summary.runId ?? summary.executionName;
    const runDate = summary.runDate ?? '';
    // Files the run put: its UNLOAD outputs, raw partitions of its ingest date, and per query the
    // result and metadata objects Athena writes to its output location.
    let puts = summary.queries.length * 2;
    for (const table of allTables) {
      for (const file of tableFiles(lakeRoot, table).files) {
        if (file.includes(`/run_id=${runId}/`) || file.includes(`/ingest_date=${runDate}/`)) puts += 1;
      }
    }

    const lambdaStates = options.lambdaStates;
    const isLambda = (name: string) =>
      lambdaStates
        ? lambdaStates.has(name)
        : /^Prepare /.test(name) ||
          ['Begin run', 'Claim publishing', 'Complete publishing', FIT_MODELS_STATE].includes(name);
    let transitions = 0;
    let lambdaInvocations = 0;
    let lambdaSeconds = 0;
    const glue = new Map<string, number>();
    for (const state of summary.states) {
      if (state.status === 'caught') continue;
      transitions += 1;
      const base = state.state.replace(/ \[.*\]$/, '');
      if (isLambda(base) && state.status !== 'retried') {
        lambdaInvocations += 1;
        // Duration is billed by memory: Fit models has more than the others, so its seconds weigh more.
        lambdaSeconds +=
          state.seconds *
          (base === FIT_MODELS_STATE ? FIT_MODELS_MEMORY_MB / (options.lambdaMemoryMb ?? 512) : 1);
      }
      const job = GLUE_STATES[base];
      if (job && state.status === 'succeeded') glue.set(job, (glue.get(job) ?? 0) + state.seconds);
    }
    const glueJobs = [...glue].map(([job, seconds]) => ({ job, seconds, dpus: options.glueDpus }));
    kms += glueJobs.length * 2;

    let dynamodbExport: MeasuredRun['dynamodbExport'];
    if (glue.has('extract-dynamodb')) {
      const items = tableFiles(lakeRoot, rawDynamodbInteractions).files.filter((f) => {
        const date = /\/ingest_date=(\d{4}-\d{2}-\d{2})\//.exec(f)?.[1] ?? '';
        return date <= runDate;
      });
      const earlier = items.some((f) => !f.includes(`/ingest_date=${runDate}/`));
      const exported = earlier ? items.filter((f) => f.includes(`/ingest_date=${runDate}/`)) : items;
      // The export's size is the items' size: their DynamoDB JSON, which raw keeps as item_json.
      let bytes = 0;
      if (exported.length > 0) {
        const size = await connection.runAndReadAll(
          `SELECT coalesce(sum(total_uncompressed_size), 0) AS b FROM parquet_metadata([${exported.map(sqlString).join(', ')}]) WHERE path_in_schema = 'item_json'`,
        );
        bytes = Number(size.getRowObjectsJson()[0]?.b ?? 0);
      }
      dynamodbExport = {
        kind: earlier ? 'incremental' : 'full',
        bytes,
        waitSeconds: options.exportWaitSeconds ?? 360,
        job: 'extract-dynamodb',
      };
    }

    // Level ALL with execution data: every history event is logged with its input or output. About
    // 600 bytes of envelope per event, two events per state and three more per task; each query's
    // text travels in about four events (its preparation's result and exit, its run's entry and
    // scheduling).
    const events = transitions * 2 + (lambdaInvocations + summary.queries.length + glueJobs.length) * 3;
    const logBytes = events * 600 + summary.queries.reduce((sum, q) => sum + Buffer.byteLength(q.sql) * 4, 0);

    const customers = options.customers ?? summary.rows['stage.customers'] ?? 0;
    return {
      executionName: summary.executionName,
      runDate: summary.runDate,
      mode: String(
        (summary.output as { mode?: string } | undefined)?.mode ?? (glue.size > 0 ? 'daily' : 'rebuild'),
      ),
      customers,
      queries,
      scans,
      glueJobs,
      ...(dynamodbExport ? { dynamodbExport } : {}),
      stateTransitions: transitions,
      lambda: {
        invocations: lambdaInvocations,
        seconds: lambdaSeconds,
        memoryMb: options.lambdaMemoryMb ?? 512,
      },
      s3: { puts, gets, storedBytes: lakeBytes(lakeRoot) },
      kmsRequests: kms,
      logBytes,
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Bytes of every Parquet file in the lake. */
function lakeBytes(root: string): number {
  let total = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.parquet')) total += statSync(path).size;
    }
  };
  walk(root);
  return total;
}

export function readSummary(path: string): LocalRunSummary {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LocalRunSummary;
  } catch (error) {
    throw new Error(`Run summary ${path}: ${(error as Error).message}`);
  }
}
