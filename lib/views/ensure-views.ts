import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { EntityNotFoundException, GetTableCommand, type GlueClient } from '@aws-sdk/client-glue';
import { NO_PUBLISHED_RUN, type RunKey } from '../pipeline/views.js';
import { type LatestViewSpec, statementForRun, type ViewColumn, type ViewsPlan } from './plan.js';

/*
 * Creates the views readers query, at deploy time, so a fresh stack's dashboards show an empty state
 * instead of failing on a missing view:
 *
 * 1. each `<table>_latest` view that does not exist is created empty (NO_PUBLISHED_RUN). An existing one
 *    is left alone: publishing owns it, and re-pointing it here would race a publish. Only when its
 *    columns differ from what the table now declares (an upgrade added a column) is it re-created,
 *    pointed at the latest publish in `published_runs`. Reading the run back out of the existing view's
 *    definition would mean parsing Athena's encoded view text; `published_runs` is the record publishing
 *    writes for exactly this question, and names the same run unless a publish is under way.
 * 2. then every `dashboard_*` view is replaced, in order: they read the `_latest` views, and their SQL
 *    is the deployment's, so the latest deploy always wins.
 */

export interface EnsureViewsDeps {
  readonly athena: AthenaClient;
  readonly glue: GlueClient;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Longest wait for one statement. @default 5 minutes */
  readonly statementTimeoutMs?: number;
  /** `GetTable` calls and statements in flight at once for the `_latest` views. @default 4 */
  readonly concurrency?: number;
}

export type LatestViewAction = 'created' | 'recreated' | 'unchanged';

export interface EnsureViewsResult {
  readonly latest: Readonly<Record<string, LatestViewAction>>;
  readonly dashboards: readonly string[];
  /** The run re-created views were pointed at, when any was. */
  readonly publishedRun?: RunKey;
}

const POLL_START_MS = 250;
const POLL_MAX_MS = 3_000;

export async function ensureViews(plan: ViewsPlan, deps: EnsureViewsDeps): Promise<EnsureViewsResult> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const athena = athenaRunner(plan, deps.athena, sleep, deps.statementTimeoutMs ?? 5 * 60_000);
  let published: Promise<RunKey | undefined> | undefined;
  const latestPublished = () => {
    published ??= readLatestPublish(plan, athena);
    return published;
  };

  const latest: Record<string, LatestViewAction> = {};
  await inBatches(plan.latestViews, deps.concurrency ?? 4, async (spec) => {
    const existing = await viewColumns(deps.glue, plan.database, spec.view);
    if (existing === undefined) {
      await athena.run(statementForRun(spec, NO_PUBLISHED_RUN), `create view ${plan.database}.${spec.view}`);
      latest[spec.view] = 'created';
      return;
    }
    if (sameColumns(existing, spec.columns)) {
      latest[spec.view] = 'unchanged';
      return;
    }
    const run = (await latestPublished()) ?? NO_PUBLISHED_RUN;
    await athena.run(statementForRun(spec, run), `re-create view ${plan.database}.${spec.view}`);
    latest[spec.view] = 'recreated';
  });

  const dashboards: string[] = [];
  for (const view of plan.dashboardViews) {
    await athena.run(view.statement, `create view ${plan.database}.${view.view}`);
    dashboards.push(view.view);
  }
  const run = published ? await published : undefined;
  return { latest, dashboards, ...(run ? { publishedRun: run } : {}) };
}

/** The columns of a catalog table or view, or undefined when it does not exist. */
async function viewColumns(
  glue: GlueClient,
  database: string,
  name: string,
): Promise<ViewColumn[] | undefined> {
  try {
    const found = await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }));
    return (found.Table?.StorageDescriptor?.Columns ?? []).map((c) => ({
      name: c.Name ?? '',
      type: c.Type ?? '',
    }));
  } catch (error) {
    if (error instanceof EntityNotFoundException) return undefined;
    throw error;
  }
}

/**
 * Athena records a view's columns in Glue with Hive type names, the vocabulary the schema declares in,
 * so names and types compare directly (case and spaces aside). A type change matters as much as a new
 * column: Athena refuses to query a view whose stored types no longer match its table ("stale").
 */
function sameColumns(existing: readonly ViewColumn[], declared: readonly ViewColumn[]): boolean {
  const norm = (c: ViewColumn) => `${c.name.toLowerCase()} ${c.type.toLowerCase().replaceAll(' ', '')}`;
  const have = existing.map(norm);
  const want = declared.map(norm);
  return have.length === want.length && want.every((c, i) => have[i] === c);
}

/** The run of the latest publish (by `published_at`), or undefined before the first. */
async function readLatestPublish(plan: ViewsPlan, athena: AthenaRunner): Promise<RunKey | undefined> {
  const rows = await athena.query(
    `SELECT CAST(run_date AS varchar) AS run_date, run_id FROM ${plan.database}.${plan.publishedRunsTable} ORDER BY published_at DESC, run_date DESC LIMIT 1`,
    `read the latest publish from ${plan.database}.${plan.publishedRunsTable}`,
  );
  const row = rows[0];
  if (!row) return undefined;
  const [runDate, runId] = row;
  if (!runDate || !runId) {
    throw new Error(
      `${plan.database}.${plan.publishedRunsTable}: the latest publish has no run date or run id`,
    );
  }
  return { runDate, runId };
}

interface AthenaRunner {
  /** Runs one statement to completion; `what` names it in any failure. */
  run(statement: string, what: string): Promise<string>;
  /** Runs a query and returns its data rows (the header row dropped), as strings. */
  query(statement: string, what: string): Promise<(string | undefined)[][]>;
}

function athenaRunner(
  plan: ViewsPlan,
  athena: AthenaClient,
  sleep: (ms: number) => Promise<void>,
  timeoutMs: number,
): AthenaRunner {
  const run = async (statement: string, what: string): Promise<string> => {
    const started = await athena.send(
      new StartQueryExecutionCommand({
        QueryString: statement,
        WorkGroup: plan.workGroup,
        QueryExecutionContext: { Catalog: 'AwsDataCatalog', Database: plan.database },
      }),
    );
    const id = started.QueryExecutionId;
    if (!id) throw new Error(`Could not ${what}: Athena returned no query execution id`);
    let waited = 0;
    for (let delay = POLL_START_MS; ; delay = Math.min(delay * 2, POLL_MAX_MS)) {
      const { QueryExecution: execution } = await athena.send(
        new GetQueryExecutionCommand({ QueryExecutionId: id }),
      );
      const state = execution?.Status?.State;
      if (state === 'SUCCEEDED') return id;
      if (state === 'FAILED' || state === 'CANCELLED') {
        const reason = execution?.Status?.StateChangeReason ?? execution?.Status?.AthenaError?.ErrorMessage;
        throw new Error(`Could not ${what}: Athena query ${id} ${state}: ${reason ?? 'no reason given'}`);
      }
      if (waited >= timeoutMs) {
        throw new Error(
          `Could not ${what}: Athena query ${id} still ${state ?? 'unknown'} after ${timeoutMs} ms`,
        );
      }
      await sleep(delay);
      waited += delay;
    }
  };
  return {
    run,
    async query(statement, what) {
      const id = await run(statement, what);
      const rows: (string | undefined)[][] = [];
      let token: string | undefined;
      let first = true;
      do {
        const page = await athena.send(
          new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token }),
        );
        const pageRows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue));
        rows.push(...(first ? pageRows.slice(1) : pageRows));
        first = false;
        token = page.NextToken;
      } while (token);
      return rows;
    },
  };
}

/** Runs `work` over the items, at most `size` at a time; the first failure fails the whole. */
async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.max(1, Math.min(size, items.length)) }, async () => {
    // After a failure no worker starts another statement: the deploy is failing anyway.
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  await Promise.all(workers);
}

export type { LatestViewSpec };
