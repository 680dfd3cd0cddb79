import { TrinoSQL } from 'dt-sql-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalViews, LOCAL_NAMES } from '../lib/local/athena.js';
import {
  dashboardViewStatement,
  dashboardViews,
  latestViewStatement,
  latestViewTables,
  NO_PUBLISHED_RUN,
} from '../lib/pipeline/views.js';
import { duckdbType } from '../lib/schema/derive.js';
import {
  customer360,
  fraudFlags,
  omniChannelEngagement,
  rfm,
  salesTopProducts,
  salesTrends,
  segments,
} from '../lib/schema/marts/index.js';
import { FIXTURE_RUN_ID, FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * The dashboard views on DuckDB over hand-made rows of the marts, published through the `_latest` views
 * exactly as the pipeline points them. Every expected value below is worked by hand from the rows.
 */
const RUN_DATE = '2024-06-30';
const ATHENA = { raw: 'c360_raw', stage: 'c360_stage', analytics: 'c360_analytics' };

const customer = (customer_id: number, extra: FixtureRow): FixtureRow => ({
  customer_id,
  is_churn_risk: false,
  ...extra,
});
// 105 low-value customers, so the at-risk list has more candidates than its 100 places.
const EXTRA_IDS = Array.from({ length: 105 }, (_, i) => 100 + i);

async function query(lake: FixtureLake, sql: string): Promise<Record<string, unknown>[]> {
  return (await lake.engine.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

async function publish(lake: FixtureLake): Promise<void> {
  for (const table of latestViewTables) {
    await lake.engine.run(
      latestViewStatement(table, LOCAL_NAMES.analytics, { runDate: RUN_DATE, runId: FIXTURE_RUN_ID }),
    );
  }
  for (const view of dashboardViews) await lake.engine.run(dashboardViewStatement(view, LOCAL_NAMES));
}

describe('dashboard views over the published run', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(customer360, RUN_DATE, [
      customer(1, {
        lifecycle_stage: 'Champions',
        rfm_segment: 'Champions',
        lifetime_revenue: 1000,
        lifetime_value: 800,
        churn_probability: 0.25,
        days_since_last_order: 12,
        primary_channel: 'web',
      }),
      customer(2, {
        lifecycle_stage: 'Champions',
        rfm_segment: 'Champions',
        lifetime_revenue: 500,
        churn_probability: 0.95,
        is_churn_risk: true,
      }),
      customer(3, {
        lifecycle_stage: 'Lapsed',
        lifetime_revenue: 200,
        lifetime_value: 25,
        churn_probability: 1,
        is_churn_risk: true,
      }),
      customer(4, { lifecycle_stage: 'Prospect', lifetime_revenue: 0 }),
      customer(5, {
        lifecycle_stage: 'Loyal',
        rfm_segment: 'Loyal',
        lifetime_revenue: 300,
        lifetime_value: 400,
        churn_probability: 0.5,
      }),
      customer(6, {
        lifecycle_stage: 'Loyal',
        rfm_segment: 'Loyal',
        lifetime_revenue: 6000,
        lifetime_value: 5000,
      }),
      ...EXTRA_IDS.map((id) =>
        customer(id, {
          lifecycle_stage: 'Hibernating',
          rfm_segment: 'Hibernating',
          lifetime_revenue: 10,
          lifetime_value: 1,
          churn_probability: 0.1,
        }),
      ),
    ]);
    // Another run's rows: not published, so no view may show them.
    await lake.write(
      customer360,
      RUN_DATE,
      [customer(999, { lifecycle_stage: 'Champions', lifetime_value: 99999, churn_probability: 1 })],
      'unpublished-run',
    );
    await lake.write(rfm, RUN_DATE, [
      { customer_id: 1, r_score: 5, f_score: 5, monetary: 1000, segment: 'Champions' },
      { customer_id: 2, r_score: 5, f_score: 5, monetary: 500, segment: 'Champions' },
      { customer_id: 5, r_score: 5, f_score: 5, monetary: 300, segment: 'Loyal' },
      { customer_id: 6, r_score: 3, f_score: 4, monetary: 200, segment: 'Loyal' },
      { customer_id: 7, r_score: 3, f_score: 4, monetary: 100, segment: 'Potential Loyalist' },
      { customer_id: 8, r_score: 1, f_score: 1, monetary: 50, segment: 'Lost' },
      { customer_id: 9, r_score: null, f_score: null, monetary: null, segment: null },
    ]);
    await lake.write(segments, RUN_DATE, [
      {
        customer_id: 1,
        kmeans_cluster: 0,
        kmeans_segment: 'A',
        days_since_last_purchase: 10,
        purchase_days: 5,
        mean_spend: 100,
        engagement_events: 4,
        is_trustworthy: true,
      },
      {
        customer_id: 5,
        kmeans_cluster: 0,
        kmeans_segment: 'A',
        days_since_last_purchase: 30,
        purchase_days: 3,
        mean_spend: 200,
        engagement_events: 6,
        is_trustworthy: true,
      },
      {
        customer_id: 3,
        kmeans_cluster: 1,
        kmeans_segment: 'B',
        days_since_last_purchase: 400,
        purchase_days: 1,
        mean_spend: 50,
        engagement_events: 0,
        is_trustworthy: true,
      },
    ]);
    await lake.write(fraudFlags, RUN_DATE, [
      {
        customer_id: 1,
        is_flagged: true,
        flag_reasons: 'distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00',
      },
      { customer_id: 2, is_flagged: false, flag_reasons: 'distinct_ips 6 > 5' },
      { customer_id: 3, is_flagged: true, flag_reasons: 'failed_logins 12 > 10; orders_in_window 11 > 10' },
      { customer_id: 4, is_flagged: false, flag_reasons: null },
    ]);
    await lake.write(salesTrends, RUN_DATE, [
      { month: '2023-05-01', revenue: 100, orders: 2, is_peak: false, is_partial_month: false },
      { month: '2023-06-01', revenue: 0, orders: 0, is_peak: false, is_partial_month: false },
      { month: '2024-05-01', revenue: 150, orders: 3, is_peak: true, is_partial_month: false },
      { month: '2024-06-01', revenue: 50, orders: 1, is_peak: false, is_partial_month: true },
    ]);
    const product = (month: string, product_id: number, revenue: number): FixtureRow => ({
      month,
      product_id,
      product_name: `P${product_id}`,
      revenue,
      units: 1,
    });
    await lake.write(salesTopProducts, RUN_DATE, [
      product('2024-05-01', 1, 100),
      product('2024-05-01', 2, 90),
      product('2024-05-01', 3, 80),
      product('2024-05-01', 4, 70),
      product('2024-05-01', 5, 70),
      product('2024-05-01', 6, 50),
      product('2024-06-01', 6, 55),
      product('2024-06-01', 1, 10),
    ]);
    const engagement = (customer_id: number, extra: FixtureRow): FixtureRow => ({
      customer_id,
      emails_sent: 0,
      email_opens: 0,
      email_clicks: 0,
      ad_views: 0,
      ad_clicks: 0,
      web_visits: 0,
      orders: 0,
      web_orders: 0,
      mobile_orders: 0,
      ...extra,
    });
    await lake.write(omniChannelEngagement, RUN_DATE, [
      engagement(1, {
        emails_sent: 10,
        email_opens: 2,
        email_clicks: 1,
        ad_views: 5,
        web_visits: 4,
        orders: 2,
        web_orders: 1,
        mobile_orders: 1,
        primary_channel: 'web',
      }),
      engagement(2, { emails_sent: 10, ad_views: 5, ad_clicks: 1, primary_channel: 'ads' }),
      engagement(3, { emails_sent: 5 }),
    ]);
    await publish(lake);
  });

  afterAll(() => lake?.close());

  it.each(dashboardViews.map((v) => [v.name, v] as const))(
    '%s has exactly the declared columns and types',
    async (name, view) => {
      const described = await query(lake, `DESCRIBE analytics.${name}`);
      expect(described.map((c) => [c.column_name, c.column_type])).toEqual(
        view.columns.map((c) => [c.name, duckdbType(c.type)]),
      );
    },
  );

  it('segment overview: counts, revenue and value per stage and segment; averages skip withheld values', async () => {
    const rows = await query(
      lake,
      'SELECT * FROM analytics.dashboard_segment_overview ORDER BY lifecycle_stage, rfm_segment',
    );
    // 111 customers of the published run (customer 999 is in another run).
    expect(rows.map((r) => [r.lifecycle_stage, r.rfm_segment, r.customers, r.lifetime_revenue])).toEqual([
      ['Champions', 'Champions', '2', '1500.00'],
      ['Hibernating', 'Hibernating', '105', '1050.00'],
      ['Lapsed', null, '1', '200.00'],
      ['Loyal', 'Loyal', '2', '6300.00'],
      ['Prospect', null, '1', '0.00'],
    ]);
    const champions = rows[0] ?? {};
    // customer 2's CLV is withheld: the mean is customer 1's 800, not (800 + 0) / 2
    expect(champions.share).toBeCloseTo(2 / 111, 12);
    expect(champions.avg_lifetime_value).toBe(800);
    expect(champions.expected_lifetime_value).toBe('800.00');
    expect(champions.avg_churn_probability).toBeCloseTo((0.25 + 0.95) / 2, 12);
    expect(champions.churn_risk_customers).toBe('1');
    // Loyal: (400 + 5000) / 2; churn mean over customer 5 only (customer 6 has none)
    expect(rows[3]?.avg_lifetime_value).toBe(2700);
    expect(rows[3]?.avg_churn_probability).toBe(0.5);
    expect(rows[4]?.avg_lifetime_value).toBeNull();
  });

  it('RFM grid: one cell per (r, f) with customers, mean spend and the main segment (ties by name)', async () => {
    const rows = await query(lake, 'SELECT * FROM analytics.dashboard_rfm_grid ORDER BY r_score, f_score');
    expect(rows).toEqual([
      { r_score: 1, f_score: 1, customers: '1', share: 1 / 6, avg_monetary: 50, segment: 'Lost' },
      // one Loyal, one Potential Loyalist: the tie goes to the first name
      { r_score: 3, f_score: 4, customers: '2', share: 2 / 6, avg_monetary: 150, segment: 'Loyal' },
      // (1000 + 500 + 300) / 3
      { r_score: 5, f_score: 5, customers: '3', share: 3 / 6, avg_monetary: 600, segment: 'Champions' },
    ]);
  });

  it('churn distribution: ten-point bands, lower bound inclusive, 1.0 in the top band, no probability left out', async () => {
    const rows = await query(
      lake,
      'SELECT * FROM analytics.dashboard_churn_distribution ORDER BY band_index',
    );
    expect(
      rows.map((r) => [r.band_index, r.band_label, r.customers, r.churn_risk_customers, r.lifetime_value]),
    ).toEqual([
      // 0.1 x 10 = 1 exactly: the 105 at 0.1 open band 1
      [1, '10-20%', '105', '0', '105.00'],
      [2, '20-30%', '1', '0', '800.00'],
      [5, '50-60%', '1', '0', '400.00'],
      // 0.95 and 1.0; customer 2's value is withheld, so only customer 3's 25
      [9, '90-100%', '2', '2', '25.00'],
    ]);
    expect(rows[0]).toMatchObject({ probability_from: 0.1, probability_to: 0.2 });
  });

  it('at-risk customers: the 100 with most value at risk, ties by id, only customers with both figures', async () => {
    const rows = await query(lake, 'SELECT * FROM analytics.dashboard_at_risk_customers ORDER BY risk_rank');
    expect(rows).toHaveLength(100);
    // 800 x 0.25 = 200 = 400 x 0.5: customer 1 before 5; then 25 x 1.0; then 1 x 0.1 from id 100 up
    expect(rows.slice(0, 4).map((r) => [r.risk_rank, r.customer_id, r.value_at_risk])).toEqual([
      ['1', '1', 200],
      ['2', '5', 200],
      ['3', '3', 25],
      ['4', '100', 0.1],
    ]);
    expect(rows[99]?.customer_id).toBe(String(100 + 96));
    expect(rows[0]).toMatchObject({
      lifetime_value: '800.00',
      days_since_last_order: 12,
      primary_channel: 'web',
    });
  });

  it('CLV distribution: money bands widening upward, lower bound inclusive, an open top band', async () => {
    const rows = await query(lake, 'SELECT * FROM analytics.dashboard_clv_distribution ORDER BY band_index');
    expect(
      rows.map((r) => [r.band_index, r.band_label, r.value_from, r.value_to, r.customers, r.lifetime_value]),
    ).toEqual([
      [0, '0-25', 0, 25, '105', '105.00'],
      [1, '25-50', 25, 50, '1', '25.00'],
      [4, '250-500', 250, 500, '1', '400.00'],
      [5, '500-1000', 500, 1000, '1', '800.00'],
      [8, '5000+', 5000, null, '1', '5000.00'],
    ]);
  });

  it('K-Means profiles: size and feature means per cluster, with value and risk from customer_360', async () => {
    const rows = await query(
      lake,
      'SELECT * FROM analytics.dashboard_kmeans_profiles ORDER BY kmeans_segment',
    );
    expect(rows).toEqual([
      {
        kmeans_segment: 'A',
        kmeans_cluster: 0,
        customers: '2',
        share: 2 / 3,
        avg_days_since_last_purchase: 20,
        avg_purchase_days: 4,
        avg_mean_spend: 150,
        avg_engagement_events: 5,
        avg_lifetime_value: 600,
        avg_churn_probability: 0.375,
        is_trustworthy: true,
      },
      {
        kmeans_segment: 'B',
        kmeans_cluster: 1,
        customers: '1',
        share: 1 / 3,
        avg_days_since_last_purchase: 400,
        avg_purchase_days: 1,
        avg_mean_spend: 50,
        avg_engagement_events: 0,
        avg_lifetime_value: 25,
        avg_churn_probability: 1,
        is_trustworthy: true,
      },
    ]);
  });

  it('fraud signals: each condition counted from flag_reasons, with the flagged among them', async () => {
    const rows = await query(lake, 'SELECT * FROM analytics.dashboard_fraud_signals ORDER BY signal');
    expect(rows.map((r) => [r.signal, r.signal_group, r.customers, r.flagged_customers])).toEqual([
      ['distinct_ips', 'login', '2', '1'],
      ['failed_logins', 'login', '1', '1'],
      ['high_value_order', 'order', '1', '1'],
      ['login_attempts', 'login', '0', '0'],
      ['orders_in_window', 'order', '1', '1'],
    ]);
  });

  it('revenue by month: the same month a year earlier beside it; no change from a zero or missing year', async () => {
    const rows = await query(lake, 'SELECT * FROM analytics.dashboard_revenue_by_month ORDER BY month');
    expect(
      rows.map((r) => [
        r.month,
        r.revenue,
        r.previous_year_revenue,
        r.year_over_year_change,
        r.is_peak,
        r.is_partial_month,
      ]),
    ).toEqual([
      ['2023-05-01', '100.00', null, null, false, false],
      ['2023-06-01', '0.00', null, null, false, false],
      // 150 / 100 - 1
      ['2024-05-01', '150.00', '100.00', 0.5, true, false],
      ['2024-06-01', '50.00', '0.00', null, false, true],
    ]);
  });

  it('top products: the five with most revenue over all months (ties to the lower id), month by month', async () => {
    const rows = await query(
      lake,
      'SELECT * FROM analytics.dashboard_top_products ORDER BY month, overall_rank',
    );
    // totals: 1 = 110, 6 = 105, 2 = 90, 3 = 80, 4 = 70 = 5 (4 wins the tie)
    expect(rows.map((r) => [r.month, r.product_id, r.overall_rank])).toEqual([
      ['2024-05-01', '1', '1'],
      ['2024-05-01', '6', '2'],
      ['2024-05-01', '2', '3'],
      ['2024-05-01', '3', '4'],
      ['2024-05-01', '4', '5'],
      ['2024-06-01', '1', '1'],
      ['2024-06-01', '6', '2'],
    ]);
  });

  it('engagement by channel: reach, primary customers, exposures, actions and rates', async () => {
    const rows = await query(
      lake,
      'SELECT * FROM analytics.dashboard_engagement_by_channel ORDER BY channel',
    );
    expect(rows).toEqual([
      // ad clicks / ad views = 1 / 10
      {
        channel: 'ads',
        active_customers: '1',
        primary_customers: '1',
        exposures: '10',
        actions: '1',
        action_rate: 0.1,
      },
      // opens + clicks = 3; clicks / sent = 1 / 25
      {
        channel: 'email',
        active_customers: '1',
        primary_customers: '0',
        exposures: '25',
        actions: '3',
        action_rate: 0.04,
      },
      {
        channel: 'purchase',
        active_customers: '1',
        primary_customers: '0',
        exposures: null,
        actions: '2',
        action_rate: null,
      },
      // (web + mobile orders) / visits = 2 / 4
      {
        channel: 'web',
        active_customers: '1',
        primary_customers: '1',
        exposures: null,
        actions: '4',
        action_rate: 0.5,
      },
    ]);
  });
});

describe('dashboard views before the first publish', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(
      customer360,
      RUN_DATE,
      [customer(1, { lifecycle_stage: 'Prospect' })],
      'unpublished-run',
    );
    await ensureLocalViews(lake.engine);
  });

  afterAll(() => lake?.close());

  it.each(dashboardViews.map((v) => [v.name] as const))(
    '%s answers with no rows, not an error',
    async (name) => {
      expect(await query(lake, `SELECT * FROM analytics.${name}`)).toEqual([]);
    },
  );

  it('every `_latest` view exists and is empty', async () => {
    for (const table of latestViewTables) {
      expect(await query(lake, `SELECT count(*) AS n FROM analytics.${table.name}_latest`)).toEqual([
        { n: '0' },
      ]);
    }
  });
});

describe('view statements are Athena engine v3 (Trino) SQL', () => {
  const trino = new TrinoSQL();

  it.each(dashboardViews.map((v) => [v.name, v] as const))('%s parses as Trino', (_name, view) => {
    const statement = dashboardViewStatement(view, ATHENA);
    expect(statement).toContain(`c360_analytics.${view.name} AS`);
    expect(statement).not.toMatch(/\banalytics\./);
    expect(trino.validate(statement)).toEqual([]);
  });

  it('the empty `_latest` view names the partitions, as injected projection requires, and parses', () => {
    for (const table of latestViewTables) {
      const statement = latestViewStatement(table, ATHENA.analytics, NO_PUBLISHED_RUN);
      expect(statement).toContain("WHERE run_date = DATE '1970-01-01' AND run_id = 'no-published-run'");
      expect(trino.validate(statement)).toEqual([]);
    }
  });

  it('the parser rejects a broken view (so the checks above can fail)', () => {
    expect(trino.validate('CREATE OR REPLACE VIEW a.b AS SELECT x, FROM t')).not.toEqual([]);
  });
});
