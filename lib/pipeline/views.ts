import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DashboardView, dashboardViews } from '../schema/dashboards.js';
import { sqlString } from '../schema/derive.js';
import { martTables } from '../schema/marts/index.js';
import type { TableSchema, Zone } from '../schema/types.js';
import { qualifyZones, SQL_ROOT } from '../sql/models.js';

/*
 * The views readers query: `<table>_latest` over each analytics table (re-pointed by publishing, so
 * they are the BI contract), and the `dashboard_*` views over them, in the shapes charts need. Both are
 * created with the stack (an empty `_latest` view until the first publish) so dashboards deploy and
 * show an empty state on a fresh stack; locally the workspace creates them the same way.
 */

/** A run that never exists: an empty `_latest` view still names run_date and run_id, as projection needs. */
export const NO_PUBLISHED_RUN = { runDate: '1970-01-01', runId: 'no-published-run' } as const;

export interface RunKey {
  readonly runDate: string;
  readonly runId: string;
}

/** The run tables of the analytics zone: each has a `_latest` view. */
export const latestViewTables: readonly TableSchema[] = martTables.filter(
  (t) => t.zone === 'analytics' && t.partitionKeys.some((k) => k.name === 'run_id'),
);

/**
 * The `_latest` views BI tools load (docs/power-bi.md, the QuickSight data sets, the local report).
 * The model inputs and the alert candidates have `_latest` views too, but are the pipeline's own.
 */
export const BI_TABLE_NAMES = [
  'customer_360',
  'rfm',
  'churn_risk',
  'clv',
  'segments',
  'fraud_flags',
  'omni_channel_engagement',
  'sales_trends',
  'sales_top_products',
  'sales_top_customers',
  'data_quality',
  'segment_figures',
  'segment_summaries',
  'model_runs',
] as const;

export const biTables: readonly TableSchema[] = BI_TABLE_NAMES.map((name) => {
  const table = latestViewTables.find((t) => t.name === name);
  if (!table) throw new Error(`BI table ${name} is not an analytics run table`);
  return table;
});

/** The `_latest` view of a table, pointed at one run, or empty (NO_PUBLISHED_RUN) before any publish. */
export function latestViewStatement(table: TableSchema, database: string, run: RunKey): string {
  // Columns by name, never `*`: a view keeps its shape when a column is added to the table later.
  const columns = [...table.columns, ...table.partitionKeys].map((c) => `"${c.name}"`).join(', ');
  const runFilter = `run_date = DATE ${sqlString(run.runDate)} AND run_id = ${sqlString(run.runId)}`;
  return `CREATE OR REPLACE VIEW ${database}.${table.name}_latest AS SELECT ${columns} FROM ${database}.${table.name} WHERE ${runFilter}`;
}

/** The SELECT of a dashboard view, as written in `sql/dashboards/<name>.sql` (zones unqualified). */
export function dashboardViewSql(view: DashboardView, root = SQL_ROOT): string {
  return readFileSync(join(root, 'dashboards', `${view.name}.sql`), 'utf8')
    .trim()
    .replace(/;\s*$/, '');
}

/** `CREATE OR REPLACE VIEW` for one dashboard view, its `analytics.` references mapped to the database. */
export function dashboardViewStatement(
  view: DashboardView,
  databases: Readonly<Record<Zone, string>>,
  root = SQL_ROOT,
): string {
  return `CREATE OR REPLACE VIEW ${databases.analytics}.${view.name} AS\n${qualifyZones(dashboardViewSql(view, root), databases)}`;
}

export type { DashboardView };
export { dashboardViews };
