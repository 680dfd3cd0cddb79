import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWorkspaceEngine, workspaceAt } from '../lib/local/workspace.js';
import { loadReportData, NoPublishedRunError, TABLE_ROWS } from '../lib/report/data.js';

/*
 * loadReportData over a fresh workspace's engine (every `_latest` and `dashboard_*` view exists, empty),
 * with the views it reads replaced by hand-made rows of the declared types: what it picks, orders, cuts
 * and converts, and what it says when a view has another shape. The views' own SQL is tested in
 * sql-dashboards.test.ts.
 */
describe('loadReportData', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;

  const view = (name: string, select: string) =>
    connection.run(`create or replace view analytics.${name} as ${select}`);
  const quality = (detail: string) =>
    view(
      'data_quality_latest',
      `select 'mixed_currency' as check_name, 'stage.orders' as subject, 1.0e0 as metric_value,
        1.0e0 as threshold, true as is_passed, true as is_blocking, '${detail}' as detail`,
    );

  beforeAll(async () => {
    ({ instance, connection } = await openWorkspaceEngine(
      workspaceAt(mkdtempSync(join(tmpdir(), 'c360-report-data-'))),
    ));
  });

  afterAll(() => {
    connection?.closeSync();
    instance?.closeSync();
  });

  it('before any publish: NoPublishedRunError, saying what to run', async () => {
    await expect(loadReportData(connection)).rejects.toThrow(NoPublishedRunError);
    await expect(loadReportData(connection)).rejects.toThrow(
      'no published run yet: run `npx c360 demo` or `npx c360 run` first',
    );
  });

  it('reads the latest publish, and every section of the (still empty) views as empty', async () => {
    // Two publishes: the later one (by published_at, not by run date: a forced older date) is current.
    await connection.run(`insert into analytics.published_runs values
      (date '2025-06-30', 'run-a', 'exec-a', timestamp '2025-06-30 05:00:00', null, null, false),
      (date '2025-06-29', 'run-b', 'exec-b', timestamp '2025-06-30 07:30:00', date '2025-06-30', 'run-a', true)`);
    const data = await loadReportData(connection);
    expect(data.run).toEqual({
      run_date: '2025-06-29',
      run_id: 'run-b',
      execution_id: 'exec-b',
      published_at: '2025-06-30 07:30:00',
      is_forced: true,
    });
    expect(data.currency).toBeNull();
    expect(data.rfmGrid).toEqual([]);
    expect(data.segmentSummaries).toEqual([]);
    expect(data.atRiskRanked).toBe(0);
  });

  it('takes the currency from the mixed_currency check, and none when it names none', async () => {
    await quality('revenue orders all in EUR');
    expect((await loadReportData(connection)).currency).toBe('EUR');
    await quality('no currency on the revenue orders');
    expect((await loadReportData(connection)).currency).toBeNull();
  });

  it('turns DECIMAL and BIGINT into numbers, keeps the top rows of the at-risk list and counts them all', async () => {
    // 25 ranked customers: customer 1000 + rank, value at risk 100 - rank.
    await view(
      'dashboard_at_risk_customers',
      `select
        cast(rank as bigint) as risk_rank,
        cast(1000 + rank as bigint) as customer_id,
        cast(100 - rank as double) as value_at_risk,
        cast(1234.5 as decimal(14,2)) as lifetime_value,
        0.25e0 as churn_probability,
        'At Risk' as rfm_segment,
        'At Risk' as lifecycle_stage,
        cast(90 as integer) as days_since_last_order,
        cast(98765.43 as decimal(14,2)) as lifetime_revenue,
        'web' as primary_channel
      from range(1, 26) as t(rank)`,
    );
    const data = await loadReportData(connection);
    expect(data.atRiskRanked).toBe(25);
    expect(data.atRiskCustomers).toHaveLength(TABLE_ROWS);
    expect(data.atRiskCustomers[0]).toEqual({
      risk_rank: 1,
      customer_id: 1001,
      value_at_risk: 99,
      lifetime_value: 1234.5,
      churn_probability: 0.25,
      rfm_segment: 'At Risk',
      lifecycle_stage: 'At Risk',
      days_since_last_order: 90,
      lifetime_revenue: 98765.43,
      primary_channel: 'web',
    });
    expect(data.atRiskCustomers.at(-1)?.risk_rank).toBe(TABLE_ROWS);
  });

  it('lists flagged customers only, most spend in the window first, and counts all flagged', async () => {
    await view(
      'fraud_flags_latest',
      `select * from (values
        (cast(1 as bigint), 7, 30, 12, 3, 2, cast(2400 as decimal(12,2)), cast(3100.50 as decimal(14,2)), true, true, true, 'distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00'),
        (cast(2 as bigint), 9, 40, 20, 2, 1, cast(1500 as decimal(12,2)), cast(9000.00 as decimal(14,2)), true, true, true, 'distinct_ips 9 > 5; high_value_order 1500.00 > 1000.00'),
        (cast(3 as bigint), 8, 10, 1, 1, 1, cast(5000 as decimal(12,2)), cast(99999.00 as decimal(14,2)), true, true, false, 'distinct_ips 8 > 5')
      ) as t(customer_id, distinct_ips, login_attempts, failed_logins, orders_in_window, high_value_orders,
             max_order_total, window_spend, is_login_anomaly, is_order_anomaly, is_flagged, flag_reasons)`,
    );
    const data = await loadReportData(connection);
    // Customer 3 spent most but is not flagged (a login anomaly alone).
    expect(data.flaggedTotal).toBe(2);
    expect(data.flaggedCustomers.map((c) => [c.customer_id, c.window_spend])).toEqual([
      [2, 9000],
      [1, 3100.5],
    ]);
  });

  it('orders segment summaries RFM first, then lifecycle stages, then clusters, largest first', async () => {
    await view(
      'segment_summaries_latest',
      `select segment_type, segment, 'h' as headline, 'd' as description, 'a' as recommended_actions,
         'template' as source, null as fallback_reason, null as model_id
       from (values ('kmeans_segment', 'k1'), ('lifecycle_stage', 'Lapsed'), ('rfm_segment', 'Lost'),
                    ('rfm_segment', 'Champions')) as t(segment_type, segment)`,
    );
    await view(
      'segment_figures_latest',
      `select segment_type, segment, cast(customers as bigint) as customers
       from (values ('kmeans_segment', 'k1', 500), ('lifecycle_stage', 'Lapsed', 900),
                    ('rfm_segment', 'Lost', 10), ('rfm_segment', 'Champions', 40)) as t(segment_type, segment, customers)`,
    );
    const data = await loadReportData(connection);
    expect(data.segmentSummaries.map((s) => [s.segment, s.customers])).toEqual([
      ['Champions', 40],
      ['Lost', 10],
      ['Lapsed', 900],
      ['k1', 500],
    ]);
  });

  it('names the view, row and column when a view has another shape', async () => {
    await view(
      'dashboard_rfm_grid',
      `select 'five' as r_score, 1 as f_score, cast(3 as bigint) as customers, 0.5e0 as share,
         10.0e0 as avg_monetary, 'Lost' as segment`,
    );
    await expect(loadReportData(connection)).rejects.toThrow(
      'analytics.dashboard_rfm_grid row 1 does not have the shape the report expects: r_score: expected a number (got "five")',
    );
  });
});
