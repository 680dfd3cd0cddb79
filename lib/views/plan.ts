import { z } from 'zod';
import {
  dashboardViewStatement,
  dashboardViews,
  latestViewStatement,
  latestViewTables,
  type RunKey,
} from '../pipeline/views.js';
import type { DashboardView } from '../schema/dashboards.js';
import { sqlString } from '../schema/derive.js';
import { publishedRuns } from '../schema/marts/published-runs.js';
import type { TableSchema, Zone } from '../schema/types.js';
import { SQL_ROOT } from '../sql/models.js';

/*
 * What the views custom resource is asked to do, as plain strings: CloudFormation passes it as the
 * resource's properties, so a change to any statement (a dashboard SQL file, a column added to a table)
 * changes the properties and re-runs it on the next deploy. The statements are rendered here, at synth
 * time, by the same functions the pipeline and the local workspace use; the Lambda only fills in a run.
 */

/** Stand-ins for the run a `_latest` view shows; the Lambda replaces them (see `statementForRun`). */
const RUN_DATE_PLACEHOLDER = '{{run_date}}';
const RUN_ID_PLACEHOLDER = '{{run_id}}';
const PLACEHOLDER_RUN: RunKey = { runDate: RUN_DATE_PLACEHOLDER, runId: RUN_ID_PLACEHOLDER };

const viewColumn = z.strictObject({ name: z.string().min(1), type: z.string().min(1) });

const latestView = z.strictObject({
  /** View name, unqualified: `<table>_latest`. */
  view: z.string().regex(/^[a-z][a-z0-9_]*_latest$/, 'expected <table>_latest'),
  /** The view's columns as the table declares them (data columns, then partition keys). */
  columns: z.array(viewColumn).min(1),
  /** `CREATE OR REPLACE VIEW` with the run left as placeholders. */
  statement: z
    .string()
    .refine((s) => s.split(sqlString(RUN_DATE_PLACEHOLDER)).length === 2, 'expected one run date placeholder')
    .refine((s) => s.split(sqlString(RUN_ID_PLACEHOLDER)).length === 2, 'expected one run id placeholder'),
});

const dashboardView = z.strictObject({
  view: z.string().regex(/^dashboard_[a-z0-9_]+$/, 'expected dashboard_<name>'),
  statement: z.string().min(1),
});

/** The plan, as the custom resource's properties carry it (validated again by the Lambda). */
export const viewsPlanSchema = z.strictObject({
  /** The analytics database: every view lives in it. */
  database: z.string().min(1),
  workGroup: z.string().min(1),
  /** Table recording each publish; read only when a view has to be re-pointed at the published run. */
  publishedRunsTable: z.string().min(1),
  latestViews: z.array(latestView),
  /** In the order they are created (a dashboard view may read an earlier one). */
  dashboardViews: z.array(dashboardView),
});

export type ViewsPlan = z.infer<typeof viewsPlanSchema>;
export type LatestViewSpec = ViewsPlan['latestViews'][number];
export type ViewColumn = z.infer<typeof viewColumn>;

export interface ViewsPlanOptions {
  readonly databases: Readonly<Record<Zone, string>>;
  readonly workGroup: string;
  /** @default every analytics run table (`latestViewTables`) */
  readonly latestTables?: readonly TableSchema[];
  /** @default every declared dashboard view (`dashboardViews`) */
  readonly dashboardViews?: readonly DashboardView[];
  /** Folder holding `dashboards/<name>.sql`. @default sql/ of this repository */
  readonly sqlRoot?: string;
}

/** Renders every view statement for a deployment's databases. */
export function viewsPlan(options: ViewsPlanOptions): ViewsPlan {
  const database = options.databases.analytics;
  const tables = options.latestTables ?? latestViewTables;
  return viewsPlanSchema.parse({
    database,
    workGroup: options.workGroup,
    publishedRunsTable: publishedRuns.name,
    latestViews: tables.map((table) => ({
      view: `${table.name}_latest`,
      columns: [...table.columns, ...table.partitionKeys].map((c) => ({ name: c.name, type: c.type })),
      statement: latestViewStatement(table, database, PLACEHOLDER_RUN),
    })),
    dashboardViews: (options.dashboardViews ?? dashboardViews).map((view) => ({
      view: view.name,
      statement: dashboardViewStatement(view, options.databases, options.sqlRoot ?? SQL_ROOT),
    })),
  });
}

/**
 * A `_latest` view's statement pointed at one run. The run comes from `published_runs` at deploy time,
 * so it is checked to be a date and an execution name (letters, digits, `-`, `_`) before it goes into SQL.
 */
export function statementForRun(spec: LatestViewSpec, run: RunKey): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(run.runDate)) {
    throw new Error(`${spec.view}: run date must be yyyy-MM-dd, got ${JSON.stringify(run.runDate)}`);
  }
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(run.runId)) {
    throw new Error(
      `${spec.view}: run id must be an execution name (1 to 80 letters, digits, - or _), got ${JSON.stringify(run.runId)}`,
    );
  }
  return spec.statement
    .replace(sqlString(RUN_DATE_PLACEHOLDER), sqlString(run.runDate))
    .replace(sqlString(RUN_ID_PLACEHOLDER), sqlString(run.runId));
}
