import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { generateDataset } from '../lib/generate/index.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';
import { type LocalRunSummary, runPipelineLocally } from '../lib/local/pipeline-runner.js';
import { openWorkspaceEngine, type Workspace, workspaceAt } from '../lib/local/workspace.js';
import { TABLE_ROWS } from '../lib/report/data.js';
import { renderReport } from '../lib/report/render.js';
import { reportFixture } from './helpers/report-fixture.js';
import { launchChromium, openReport, readSections, sectionProblems } from './helpers/report-page.js';

/*
 * The report as a user gets it: a local pipeline run over real local sources (MariaDB, dynalite,
 * history files), `c360 report` run as a command, and the file opened in headless Chromium with every
 * request but the file itself aborted. The screenshot lands in test-output/report.png for review.
 */
const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const OUTPUT = join(ROOT, 'test-output');
const RUN_DATE = '2025-06-30';
// 400 customers, seed 'report': the smallest run tried here in which every section has rows. The churn
// model and CLV pass their checks (at-risk customers exist) and the generator's planted fraud is flagged;
// the first test asserts both, so a generator change that loses them fails there, not as a blank chart.
const CUSTOMERS = 400;
const SEED = 'report';

function c360(args: readonly string[]) {
  return execFileAsync(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'c360.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
  });
}

describe('c360 report over a local pipeline run, in headless Chromium', () => {
  let mariadb: LocalMariaDb;
  let dynamodb: LocalDynamoDb;
  let client: DynamoDBClient;
  let browser: Browser;
  let workspace: Workspace;
  let summary: LocalRunSummary;
  let stdout: string;
  const reportFile = () => join(workspace.root, 'report.html');

  /** Rows of a query on the workspace's views, as the report's reader sees them. */
  const views = async (sql: string): Promise<Record<string, unknown>[]> => {
    const { instance, connection } = await openWorkspaceEngine(workspace);
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  };

  beforeAll(async () => {
    workspace = workspaceAt(mkdtempSync(join(tmpdir(), 'c360-report-')));
    const config = parseConfig({});
    const tableName = config.sources.dynamodb.interactionsTableName;
    [mariadb, dynamodb, browser] = await Promise.all([
      LocalMariaDb.start(),
      LocalDynamoDb.start(),
      launchChromium(),
    ]);
    client = dynamodb.client();
    await generateDataset(
      {
        customers: CUSTOMERS,
        seed: SEED,
        end: RUN_DATE,
        historyCustomerKey: config.sources.history.customerKey,
      },
      {
        mysql: { connection: mariadb.connection },
        dynamodb: { client, tableName },
        historyDir: workspace.historyDir,
      },
    );
    const { instance, connection } = await openWorkspaceEngine(workspace);
    try {
      summary = await runPipelineLocally({
        config,
        lakeRoot: workspace.lake,
        engine: instance,
        sources: {
          mysql: mariadb.connection,
          dynamodb: { client, tableName },
          historyDir: workspace.historyDir,
        },
        alertsStore: { client, tableName: 'customer360-sent-alerts' },
        outboxFile: workspace.outboxFile,
        runsDir: workspace.runsDir,
        startTime: new Date(`${RUN_DATE}T05:00:00Z`),
      });
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    // The command a user runs, in its own process, on the workspace the run published.
    ({ stdout } = await c360(['report', '--workspace', workspace.root]));
  }, 600_000);

  afterAll(async () => {
    client?.destroy();
    await Promise.allSettled([mariadb?.stop(), dynamodb?.stop(), browser?.close()]);
  });

  it('publishes a run in which fraud flags and at-risk high-value customers exist', async () => {
    expect(summary.failure).toBeUndefined();
    expect(summary.status).toBe('SUCCEEDED');
    const [counts] = await views(
      `select
        (select count(*) from analytics.fraud_flags_latest where is_flagged) as flagged,
        (select count(*) from analytics.dashboard_at_risk_customers) as at_risk`,
    );
    expect(Number(counts?.flagged)).toBeGreaterThan(0);
    expect(Number(counts?.at_risk)).toBeGreaterThan(0);
  });

  it('writes the report into the workspace and says where and how to open it', () => {
    expect(stdout).toContain(`Report of run ${RUN_DATE} (${summary.runId}) written to ${reportFile()}`);
    expect(stdout).toContain(`Open it in a browser: file://${reportFile()}`);
    // Libraries and data inlined: a few hundred kB, all in one file.
    expect(statSync(reportFile()).size).toBeGreaterThan(400_000);
  });

  it('renders every section with data, with no console errors and no network requests, and is screenshotted', async () => {
    const { page, requests, errors } = await openReport(browser, reportFile());
    try {
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      const sections = await readSections(page);
      expect(sectionProblems(sections)).toEqual([]);
      // Every chart drew an SVG: the client found a drawing function for each.
      const charts = await page.locator('figure[data-chart]').count();
      expect(charts).toBe(10);
      expect(await page.locator('figure[data-chart] .plot > svg').count()).toBe(charts);
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, 'report.png'), fullPage: true, scale: 'css' });
    } finally {
      await page.close();
    }
    expect(statSync(join(OUTPUT, 'report.png')).size).toBeGreaterThan(50_000);
  });

  it('shows what the views hold: the header, the RFM grid cells, the table rows and the gate', async () => {
    const [expected] = await views(
      `select
        (select cast(run_date as varchar) from analytics.published_runs order by published_at desc limit 1) as run_date,
        (select count(*) from analytics.dashboard_rfm_grid) as rfm_cells,
        (select sum(customers) from analytics.dashboard_rfm_grid) as rfm_customers,
        (select count(*) from analytics.dashboard_clv_distribution) as clv_bands,
        (select count(*) from analytics.dashboard_at_risk_customers) as at_risk,
        (select min(customer_id) filter (where risk_rank = 1) from analytics.dashboard_at_risk_customers) as first_at_risk,
        (select count(*) from analytics.fraud_flags_latest where is_flagged) as flagged,
        (select count(*) from analytics.dashboard_fraud_signals) as signals,
        (select count(*) from analytics.dashboard_kmeans_profiles) as clusters,
        (select count(*) from analytics.data_quality_latest) as checks,
        (select count(*) from analytics.data_quality_latest where is_blocking and not is_passed) as blocking_failed,
        (select count(*) from analytics.segment_summaries_latest) as summaries,
        (select count(*) from analytics.customer_360_latest) as customers`,
    );
    const n = (key: string) => Number(expected?.[key]);
    const { page } = await openReport(browser, reportFile());
    try {
      const overview = page.locator('[data-section="overview"]');
      expect(
        await overview.locator('.figure', { hasText: 'Run date' }).locator('dd').first().textContent(),
      ).toBe(String(expected?.run_date));
      // Published runs passed the gate; the header says so, and the customer count is every customer.
      expect(n('blocking_failed')).toBe(0);
      expect(
        await overview.locator('.figure', { hasText: 'Quality gate' }).locator('dd').first().textContent(),
      ).toBe('Passed');
      expect(
        await overview.locator('.figure', { hasText: 'Customers' }).locator('dd').first().textContent(),
      ).toBe(n('customers').toLocaleString('en-US'));
      // One cell (and one count label) per row of dashboard_rfm_grid, adding up to its customers.
      const grid = page.locator('[data-chart="rfm-grid"] svg > g[aria-label="cell"] rect');
      expect(await grid.count()).toBe(n('rfm_cells'));
      const labels = await page
        .locator('[data-chart="rfm-grid"] svg > g[aria-label="text"] text')
        .allTextContents();
      expect(labels.reduce((sum, t) => sum + Number(t.replaceAll(',', '')), 0)).toBe(n('rfm_customers'));
      // One bar per CLV band; one light bar per fraud signal.
      expect(await page.locator('[data-chart="clv"] svg > g[aria-label="bar"] rect').count()).toBe(
        n('clv_bands'),
      );
      expect(
        await page
          .locator('[data-chart="fraud-signals"] svg > g[aria-label="bar"]')
          .first()
          .locator('rect')
          .count(),
      ).toBe(n('signals'));
      // Tables: the top rows of each list, the first at-risk customer first.
      const atRisk = page.locator('[data-part="at-risk-table"] tbody tr');
      expect(await atRisk.count()).toBe(Math.min(TABLE_ROWS, n('at_risk')));
      expect(await atRisk.first().locator('td').nth(1).textContent()).toBe(String(expected?.first_at_risk));
      expect(await page.locator('[data-part="flagged-table"] tbody tr').count()).toBe(
        Math.min(TABLE_ROWS, n('flagged')),
      );
      expect(await page.locator('[data-part="clusters-table"] tbody tr').count()).toBe(n('clusters'));
      const checks = await page.locator('[data-section="data-quality"] tbody tr').count();
      expect(checks).toBe(n('checks'));
      expect(await page.locator('[data-gate]').getAttribute('data-gate')).toBe('passed');
      expect(await page.locator('article.summary').count()).toBe(n('summaries'));
    } finally {
      await page.close();
    }
  });
});

describe('the page check', () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'c360-report-page-'));
  const write = (name: string, html: string) => {
    const file = join(dir, name);
    writeFileSync(file, html);
    return file;
  };

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('finds nothing wrong with a complete report', async () => {
    const { page, errors, requests } = await openReport(
      browser,
      write('complete.html', renderReport(reportFixture())),
    );
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(sectionProblems(await readSections(page))).toEqual([]);
    await page.close();
  });

  it('reports a section whose rows are empty', async () => {
    const html = renderReport({ ...reportFixture(), rfmGrid: [] });
    const { page } = await openReport(browser, write('empty-grid.html', html));
    expect(sectionProblems(await readSections(page))).toEqual(['rfm-grid/rfm-grid: shows the empty state']);
    await page.close();
  });

  it('reports every chart when the charts are not drawn', async () => {
    // The drawing code left out: the figures are there, their SVGs are not.
    const html = renderReport(reportFixture()).replace(/<script data-inline="report">[\s\S]*?<\/script>/, '');
    const { page } = await openReport(browser, write('no-charts.html', html));
    expect(sectionProblems(await readSections(page))).toEqual([
      'segments/segments-customers: nothing drawn or listed',
      'segments/segments-revenue: nothing drawn or listed',
      'segments/segments-value: nothing drawn or listed',
      'rfm-grid/rfm-grid: nothing drawn or listed',
      'churn/churn: nothing drawn or listed',
      'clv/clv: nothing drawn or listed',
      'fraud/fraud-signals: nothing drawn or listed',
      'revenue/revenue: nothing drawn or listed',
      'products/products: nothing drawn or listed',
      'engagement/engagement: nothing drawn or listed',
    ]);
    await page.close();
  });

  it('records a request to the network, and a script error', async () => {
    const html = renderReport(reportFixture()).replace(
      '</main>',
      '</main><img src="https://example.invalid/pixel.png" alt=""><script>undefinedFunction()</script>',
    );
    const { page, requests, errors } = await openReport(browser, write('network.html', html));
    expect(requests).toEqual(['https://example.invalid/pixel.png']);
    expect(errors.some((e) => e.includes('undefinedFunction is not defined'))).toBe(true);
    await page.close();
  });

  it('c360 report before any publish exits 1 and says what to run first', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'c360-report-empty-'));
    const failed = await c360(['report', '--workspace', empty]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toBe('no published run yet: run `npx c360 demo` or `npx c360 run` first\n');
    expect(() => readFileSync(join(empty, 'report.html'))).toThrow();
  });
});
