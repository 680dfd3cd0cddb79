/**
 * The benchmark's results: their shape, the machine they were measured on, and the JSON and Markdown
 * files written under `bench/results/`. Everything here is pure except `machineInfo` and
 * `writeReport`, so the formatting is tested without running a benchmark.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { version as duckdbVersion } from '@duckdb/node-api';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly totalMemoryGiB: number;
  readonly node: string;
  readonly duckdb: string;
  readonly os: string;
  /** The commit measured, with `-dirty` when the worktree had uncommitted changes. */
  readonly commit: string;
}

/** Wall time, CPU time and memory of one timed piece of work. */
export interface Measure {
  readonly name: string;
  readonly wallSeconds: number;
  /** User plus system CPU of this process (DuckDB's threads included), not of the MariaDB server. */
  readonly cpuSeconds: number;
  /** Largest resident set of this process seen by the sampler during this piece of work. */
  readonly peakRssMiB: number;
  /** getrusage maxrss at its end: the process's peak so far, earlier phases included. */
  readonly maxRssMiB: number;
  /** Largest resident set of the mysqld child seen by the sampler, when one was running. */
  readonly mariadbPeakRssMiB?: number;
  /** CPU seconds the mysqld child used meanwhile (it is not part of `cpuSeconds`). */
  readonly mariadbCpuSeconds?: number;
  /** Rows this piece of work read or wrote, when it has one count. */
  readonly rows?: number;
}

export interface StateFigures {
  readonly state: string;
  readonly status: string;
  readonly seconds: number;
  readonly cpuSeconds?: number;
  /** Rows the state's query wrote (`stage.<item>` or `analytics.<item>`), for a query state. */
  readonly rows?: number;
  readonly rowsPerSecond?: number;
}

export interface RunFigures {
  /** `full` (day D from the filled raw zone) or `incremental` (D+1 after it). */
  readonly name: string;
  readonly input: Readonly<Record<string, string | boolean>>;
  readonly status: string;
  readonly runId?: string;
  readonly measure: Measure;
  readonly failure?: string;
  readonly states: readonly StateFigures[];
  /** `summary.rows`: rows out per table. */
  readonly rows: Readonly<Record<string, number>>;
  /** Bytes on disk of each table's `run_date=D/run_id=R/` partition written by this run. */
  readonly runBytes: Readonly<Record<string, number>>;
  /** Bytes on disk of each raw table the run read (every ingest date up to the run's). */
  readonly rawBytes: Readonly<Record<string, number>>;
  /**
   * The AWS cost of the same run (lib/cost), at the measured size and extrapolated; without the
   * extraction, which the bench times apart (Glue and the DynamoDB export are priced by `c360 cost` on a
   * run that extracts).
   */
  readonly cost?: readonly RunCost[];
  /** Fit models: per model and cutoff, the rows fitted (distinct triples or sampled customers) and time. */
  readonly models?: readonly ModelFigures[];
}

export interface ModelFigures {
  readonly model: string;
  readonly cutoffRole: string;
  readonly status: string;
  readonly fittedRows: number;
  readonly customers: number;
}

export interface RunCost {
  readonly customers: number;
  /** Bytes Athena would bill for the run's queries (each at least 10 MB). */
  readonly athenaBytes: number;
  readonly athenaCost: number;
  readonly perRun: number;
  readonly perMonth: number;
}

export interface PipelineFigures {
  readonly customers: number;
  readonly runDate: string;
  readonly nextDate: string;
  /** Whether the raw zone came from the cache of an earlier bench (phases 1-3 skipped). */
  readonly reused: boolean;
  readonly dataDir: string;
  /** What the generator produced (its manifest counts) and the day of changes. */
  readonly sources: Readonly<Record<string, number>>;
  /** Sources, extraction of D and the day of changes, each timed apart (from the cache when reused). */
  readonly preparation: readonly Measure[];
  readonly runs: readonly RunFigures[];
}

export interface GenerateFigures {
  /** One JSON line per generator scenario (files, mysql, dynamodb), as bench/generate.ts prints them. */
  readonly lines: readonly Readonly<Record<string, unknown>>[];
}

export interface BenchReport {
  /** `yyyy-MM-dd` of the measurement (UTC). */
  readonly date: string;
  readonly customers: number;
  readonly machine: MachineInfo;
  readonly pipeline?: PipelineFigures;
  readonly generate?: GenerateFigures;
}

/** `<dir>/<date>-<customers>.json` and `.md`. */
export function reportPaths(dir: string, date: string, customers: number): { json: string; md: string } {
  const base = join(dir, `${date}-${customers}`);
  return { json: `${base}.json`, md: `${base}.md` };
}

/** Rows per second, rounded to a whole number; undefined when there is no time to divide by. */
export function rate(rows: number, seconds: number): number | undefined {
  return seconds > 0 ? Math.round(rows / seconds) : undefined;
}

/** Figures for a Markdown cell: thousands separated, at most `digits` decimals, `–` when absent. */
export function cell(value: number | string | undefined, digits = 1): string {
  if (value === undefined) return '–';
  if (typeof value === 'string') return value.replaceAll('|', '\\|');
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  // Numbers right-aligned, the first column (names) left-aligned.
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [
    `| ${header.join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** Which part of a run a top-level state belongs to; undefined for a state inside a Map or Parallel. */
export function runPart(state: string): string | undefined {
  if (/\[.*\]$/.test(state)) return undefined;
  if (/^Extract sources$/.test(state)) return 'extract';
  if (/^Build stage tables wave \d+$/.test(state)) return 'stage';
  if (/^(Prepare|Run) (data_quality|quality gate) query$|^Read quality gate$/.test(state))
    return 'quality gate';
  if (/^Build marts wave \d+$/.test(state)) return 'marts';
  if (
    /^(Claim publishing|Publish latest views|(Prepare|Run) published run record|Complete publishing)$/.test(
      state,
    )
  )
    return 'publish';
  return undefined;
}

/**
 * Wall and CPU seconds of a run's parts (extract, stage, quality gate, marts, publish) from its
 * top-level states, and `other` for the rest of the run's total (run control, choices, the runner).
 */
export function partTotals(
  states: readonly StateFigures[],
  total: { readonly wallSeconds: number; readonly cpuSeconds: number },
): { part: string; wallSeconds: number; cpuSeconds: number }[] {
  const parts = ['extract', 'stage', 'quality gate', 'marts', 'publish'].map((part) => ({
    part,
    wallSeconds: 0,
    cpuSeconds: 0,
  }));
  for (const s of states) {
    const found = parts.find((p) => p.part === runPart(s.state));
    if (!found) continue;
    found.wallSeconds += s.seconds;
    found.cpuSeconds += s.cpuSeconds ?? 0;
  }
  const sum = (key: 'wallSeconds' | 'cpuSeconds') => parts.reduce((n, p) => n + p[key], 0);
  const other = {
    part: 'other',
    wallSeconds: Math.max(0, total.wallSeconds - sum('wallSeconds')),
    cpuSeconds: Math.max(0, total.cpuSeconds - sum('cpuSeconds')),
  };
  const r = (n: number) => Math.round(n * 100) / 100;
  return [...parts, other].map((p) => ({ ...p, wallSeconds: r(p.wallSeconds), cpuSeconds: r(p.cpuSeconds) }));
}

/** States shown in the Markdown: those that took time or wrote rows (the JSON keeps all of them). */
export const SHOWN_STATE_SECONDS = 0.05;

const mib = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / 1024 / 1024);

function measureTable(measures: readonly Measure[]): string[] {
  return table(
    ['phase', 'wall s', 'CPU s', 'rows', 'rows/s', 'peak RSS MiB', 'MariaDB CPU s', 'MariaDB peak RSS MiB'],
    measures.map((m) => [
      m.name,
      cell(m.wallSeconds),
      cell(m.cpuSeconds),
      cell(m.rows, 0),
      cell(m.rows === undefined ? undefined : rate(m.rows, m.wallSeconds), 0),
      cell(m.peakRssMiB, 0),
      cell(m.mariadbCpuSeconds),
      cell(m.mariadbPeakRssMiB, 0),
    ]),
  );
}

function runSection(run: RunFigures): string[] {
  const inputText = JSON.stringify(run.input);
  const lines = [
    `### ${run.name} run: \`${inputText}\` (${run.status}${run.runId ? `, run ${run.runId}` : ''})`,
    '',
    `Total ${cell(run.measure.wallSeconds)} s wall, ${cell(run.measure.cpuSeconds)} s CPU, peak RSS ${cell(run.measure.peakRssMiB, 0)} MiB (process maxrss so far ${cell(run.measure.maxRssMiB, 0)} MiB).`,
  ];
  if (run.failure) lines.push('', `Failed: ${run.failure}`);
  lines.push(
    '',
    ...table(
      ['part', 'wall s', 'CPU s'],
      partTotals(run.states, run.measure).map((p) => [p.part, cell(p.wallSeconds), cell(p.cpuSeconds)]),
    ),
  );
  const shown = run.states.filter(
    (s) => s.seconds >= SHOWN_STATE_SECONDS || s.rows !== undefined || s.status !== 'succeeded',
  );
  lines.push(
    '',
    `States (${run.states.length - shown.length} of ${run.states.length} under ${SHOWN_STATE_SECONDS} s without rows left out; all are in the JSON):`,
    '',
    ...table(
      ['state', 'status', 'wall s', 'CPU s', 'rows out', 'rows/s'],
      shown.map((s) => [
        s.state,
        s.status,
        cell(s.seconds),
        cell(s.cpuSeconds),
        cell(s.rows, 0),
        cell(s.rowsPerSecond, 0),
      ]),
    ),
  );
  const tables = [...new Set([...Object.keys(run.rows), ...Object.keys(run.runBytes)])].sort();
  lines.push(
    '',
    ...table(
      ['table', 'rows out', 'MiB on disk (run partition)'],
      tables.map((t) => [t, cell(run.rows[t], 0), cell(mib(run.runBytes[t]), 2)]),
    ),
  );
  if (run.models && run.models.length > 0)
    lines.push(
      '',
      'Fit models (model_runs; its time is the `Fit models` state above): BG/NBD fits distinct (x, t_x, T) triples, the others bounded samples:',
      '',
      ...table(
        ['model', 'cutoff', 'status', 'rows fitted', 'customers represented'],
        run.models.map((m) => [m.model, m.cutoffRole, m.status, cell(m.fittedRows, 0), cell(m.customers, 0)]),
      ),
    );
  if (run.cost && run.cost.length > 0)
    lines.push(
      '',
      'Estimated AWS cost of this run without extraction (`lib/cost`; prices in lib/cost/prices.ts):',
      '',
      ...table(
        ['customers', 'Athena GiB billed', 'Athena $', 'per run $', 'per month $'],
        run.cost.map((c) => [
          cell(c.customers, 0),
          cell(c.athenaBytes / 2 ** 30, 2),
          cell(c.athenaCost, 4),
          cell(c.perRun, 4),
          cell(c.perMonth, 2),
        ]),
      ),
    );
  const raw = Object.keys(run.rawBytes).sort();
  if (raw.length > 0)
    lines.push(
      '',
      ...table(
        ['raw table', 'MiB on disk (all ingest dates read)'],
        raw.map((t) => [t, cell(mib(run.rawBytes[t]), 2)]),
      ),
    );
  return lines;
}

/** The report as Markdown: the machine, then each scenario's tables. */
export function formatMarkdown(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `# Benchmark: ${report.customers.toLocaleString('en-US')} customers, ${report.date}`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${cell(m.totalMemoryGiB)} GiB, ${m.os}; Node ${m.node}, DuckDB ${m.duckdb}; commit ${m.commit}.`,
  ];
  const p = report.pipeline;
  if (p) {
    lines.push(
      '',
      `## Pipeline: full run of ${p.runDate}, then incremental run of ${p.nextDate}`,
      '',
      p.reused
        ? `Raw zone reused from ${p.dataDir} (sources, extraction and the day of changes below are from when it was built).`
        : `Raw zone built by this bench in ${p.dataDir}.`,
      '',
      `Sources: ${Object.entries(p.sources)
        .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
        .join(', ')}.`,
      '',
      ...measureTable(p.preparation),
    );
    for (const run of p.runs) lines.push('', ...runSection(run));
  }
  const g = report.generate;
  if (g && g.lines.length > 0) {
    const keys = [...new Set(g.lines.flatMap((l) => Object.keys(l)))];
    lines.push(
      '',
      '## Generator',
      '',
      ...table(
        keys,
        g.lines.map((l) => keys.map((k) => cell(l[k] as number | string | undefined))),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The machine and code measured. */
export function machineInfo(cwd = process.cwd()): MachineInfo {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const head = git('rev-parse', '--short=12', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    totalMemoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    duckdb: duckdbVersion(),
    os: `${platform()} ${release()}`,
    commit: dirty ? `${head}-dirty` : head,
  };
}

/** Writes `<date>-<customers>.json` and `.md` under `dir`; returns their paths. */
export function writeReport(dir: string, report: BenchReport): { json: string; md: string } {
  const paths = reportPaths(dir, report.date, report.customers);
  mkdirSync(dir, { recursive: true });
  writeFileSync(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(paths.md, formatMarkdown(report));
  return paths;
}
