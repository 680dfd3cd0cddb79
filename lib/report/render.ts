import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { escapeHtml } from '../html.js';
import type {
  AtRiskCustomer,
  FlaggedCustomer,
  KmeansProfile,
  QualityCheck,
  ReportData,
  SegmentSummary,
} from './data.js';

/*
 * ReportData -> one self-contained HTML file: the chart library (Observable Plot on d3) and the data are
 * inlined, so the file opens by double-click with no network. Tables are written here; charts are drawn
 * in the browser by client.js from the inlined JSON. Each section carries `data-section`, and each of its
 * parts `data-part`: a chart (`data-chart`) or rows (`data-item`), or the empty state (`data-empty`)
 * when the run has no rows for it, so a test can tell a section that shows data from one that does not.
 */

/** What a section shows when the latest published run has no rows for it. */
export const EMPTY_STATE = 'No data in the latest published run';

/** The sections in report order: id and heading. */
export const SECTIONS = [
  { id: 'overview', title: 'Customer 360 report' },
  { id: 'segments', title: 'Customers by lifecycle stage and RFM segment' },
  { id: 'rfm-grid', title: 'RFM grid' },
  { id: 'churn', title: 'Churn risk distribution' },
  { id: 'at-risk', title: 'Top at-risk high-value customers' },
  { id: 'clv', title: 'Customer lifetime value distribution' },
  { id: 'clusters', title: 'K-Means cluster profiles' },
  { id: 'fraud', title: 'Fraud flags and their reasons' },
  { id: 'revenue', title: 'Revenue by month' },
  { id: 'products', title: 'Top products over time' },
  { id: 'engagement', title: 'Engagement by channel' },
  { id: 'data-quality', title: 'Data quality and the quality gate' },
  { id: 'summaries', title: 'Segment summaries' },
] as const;

export type SectionId = (typeof SECTIONS)[number]['id'];

/** The library scripts and the drawing code, inlined into the page in this order. */
export interface ReportAssets {
  readonly scripts: readonly { readonly name: string; readonly source: string }[];
}

function packageRoot(name: string): string {
  // The packages' `exports` do not expose their dist files or package.json: walk up from the entry.
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!existsSync(join(dir, 'package.json')) || readPackageName(join(dir, 'package.json')) !== name) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the package folder of ${name}`);
    dir = parent;
  }
  return dir;
}

function readPackageName(file: string): string | undefined {
  return (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name;
}

/** d3, Observable Plot (its UMD build reads the global d3) and the drawing code, from node_modules. */
export function loadReportAssets(): ReportAssets {
  return {
    scripts: [
      { name: 'd3', source: readFileSync(join(packageRoot('d3'), 'dist', 'd3.min.js'), 'utf8') },
      {
        name: '@observablehq/plot',
        source: readFileSync(join(packageRoot('@observablehq/plot'), 'dist', 'plot.umd.min.js'), 'utf8'),
      },
      { name: 'report', source: readFileSync(new URL('./client.js', import.meta.url), 'utf8') },
    ],
  };
}

/**
 * JSON for a `<script type="application/json">` body: every `<` escaped, so no value can close the
 * tag (`</script>`) or open an HTML comment; the line and paragraph separators too, for old parsers.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function inlineScript(name: string, source: string): string {
  // A script body ends at the first `</script`, and `<!--` changes how the parser looks for it.
  if (/<\/script|<!--/i.test(source))
    throw new Error(`${name} cannot be inlined: it contains </script or <!-- (it would end its tag)`);
  return `<script data-inline="${escapeHtml(name)}">\n${source}\n</script>`;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const money = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat('en-US', {
  style: 'percent',
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

const DASH = '–';
const fmt = (format: Intl.NumberFormat) => (value: number | null | undefined) =>
  value === null || value === undefined || !Number.isFinite(value) ? DASH : format.format(value);
export const formatInteger = fmt(integer);
export const formatMoney = fmt(money);
export const formatDecimal = fmt(oneDecimal);
export const formatPercent = fmt(percent);

/** How money is labelled: "Revenue (USD)", or "Revenue (amount)" when the run names no currency. */
function unit(currency: string | null): string {
  return currency ?? 'amount';
}

interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => string;
  readonly numeric?: boolean;
}

function table<T>(
  part: string,
  caption: string,
  columns: readonly Column<T>[],
  rows: readonly T[],
  rowClass: (row: T) => string = () => '',
): string {
  if (rows.length === 0) return emptyState(part);
  const head = columns
    .map((c) => `<th scope="col"${c.numeric ? ' class="num"' : ''}>${escapeHtml(c.header)}</th>`)
    .join('');
  const body = rows
    .map((row) => {
      const cls = rowClass(row);
      const cells = columns.map((c) => `<td${c.numeric ? ' class="num"' : ''}>${c.cell(row)}</td>`).join('');
      return `<tr data-item${cls ? ` class="${cls}"` : ''}>${cells}</tr>`;
    })
    .join('\n');
  return `<div class="table-wrap" data-part="${part}"><table>
<caption>${escapeHtml(caption)}</caption>
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody></table></div>`;
}

function emptyState(part: string): string {
  return `<p class="empty" data-part="${part}" data-empty>${EMPTY_STATE}</p>`;
}

/** A figure the client draws into: its title (with units) is written here, the SVG there. */
function chart(name: string, title: string, rows: readonly unknown[], caption = ''): string {
  if (rows.length === 0) return emptyState(name);
  return `<figure class="chart" data-part="${name}" data-chart="${name}">
<h3 class="chart-title">${escapeHtml(title)}</h3>
<div class="plot"></div>${caption ? `\n<figcaption>${caption}</figcaption>` : ''}
</figure>`;
}

const monthFormat = new Intl.DateTimeFormat('en-US', { month: 'short', year: 'numeric', timeZone: 'UTC' });
const monthLabel = (month: string) => monthFormat.format(new Date(`${month}T00:00:00Z`));

/** The peak months by revenue, named under the chart: on it their labels would collide. */
function peakCaption(data: ReportData): string {
  const peaks = data.revenueByMonth
    .filter((m) => m.is_peak)
    .sort((a, b) => (b.revenue ?? 0) - (a.revenue ?? 0));
  if (peaks.length === 0) return '';
  const partial = data.revenueByMonth.find((m) => m.is_partial_month);
  return `Peak months (red), most revenue first: ${peaks
    .map((m) => `${escapeHtml(monthLabel(m.month))} (${formatMoney(m.revenue)})`)
    .join(
      ', ',
    )}.${partial ? ` ${escapeHtml(monthLabel(partial.month))} is still in progress (${formatMoney(partial.revenue)} so far).` : ''}`;
}

function section(id: SectionId, how: string, body: string): string {
  const title = SECTIONS.find((s) => s.id === id)?.title ?? id;
  return `<section id="${id}" data-section="${id}">
<h2>${escapeHtml(title)}</h2>
<p class="how">${escapeHtml(how)}</p>
${body}
</section>`;
}

const text = (value: string | null | undefined) => escapeHtml(value ?? DASH);

function overview(data: ReportData): string {
  const customers = data.segmentOverview.reduce((sum, r) => sum + r.customers, 0);
  const revenue = data.segmentOverview.reduce((sum, r) => sum + (r.lifetime_revenue ?? 0), 0);
  const blocking = data.dataQuality.filter((c) => c.is_blocking && !c.is_passed);
  const warnings = data.dataQuality.filter((c) => !c.is_blocking && !c.is_passed);
  const gate =
    data.dataQuality.length === 0
      ? { verdict: 'No checks', cls: 'bad', note: 'the run has no data-quality rows' }
      : blocking.length > 0
        ? { verdict: 'Failed', cls: 'bad', note: `${blocking.length} blocking check(s) failed` }
        : {
            verdict: 'Passed',
            cls: 'good',
            note: `${data.dataQuality.length} checks, ${warnings.length} non-blocking warning(s)`,
          };
  const figure = (label: string, value: string, note = '', cls = '') =>
    `<div class="figure${cls ? ` ${cls}` : ''}" data-item><dt>${escapeHtml(label)}</dt><dd>${value}</dd>${
      note ? `<dd class="note">${escapeHtml(note)}</dd>` : ''
    }</div>`;
  const figures = [
    figure('Run date', escapeHtml(data.run.run_date), data.run.is_forced ? 'published with --force' : ''),
    figure('Quality gate', escapeHtml(gate.verdict), gate.note, gate.cls),
    figure('Customers', formatInteger(customers)),
    figure(`Revenue to date (${unit(data.currency)})`, formatMoney(revenue)),
    figure('Flagged for fraud', formatInteger(data.flaggedTotal)),
  ].join('\n');
  return `<header id="overview" data-section="overview">
<h1>Customer 360 report</h1>
<p class="how">The latest published run, read from the same <code>_latest</code> and <code>dashboard_*</code> views the BI tools read. Customer ids only: look names up in the CRM.</p>
<dl class="figures" data-part="figures">
${figures}
</dl>
<p class="meta">Published ${escapeHtml(data.run.published_at)} UTC as run <code>${escapeHtml(data.run.run_id)}</code>.</p>
</header>`;
}

function atRiskTable(data: ReportData): string {
  const cur = unit(data.currency);
  const columns: Column<AtRiskCustomer>[] = [
    { header: 'Rank', cell: (r) => formatInteger(r.risk_rank), numeric: true },
    { header: 'Customer id', cell: (r) => escapeHtml(String(r.customer_id)), numeric: true },
    { header: `Value at risk (${cur})`, cell: (r) => formatMoney(r.value_at_risk), numeric: true },
    { header: `Lifetime value (${cur})`, cell: (r) => formatMoney(r.lifetime_value), numeric: true },
    { header: 'Churn probability', cell: (r) => formatPercent(r.churn_probability), numeric: true },
    { header: 'RFM segment', cell: (r) => text(r.rfm_segment ?? r.lifecycle_stage) },
    { header: 'Days since last order', cell: (r) => formatInteger(r.days_since_last_order), numeric: true },
    { header: `Revenue to date (${cur})`, cell: (r) => formatMoney(r.lifetime_revenue), numeric: true },
    { header: 'Main channel', cell: (r) => text(r.primary_channel) },
  ];
  return table(
    'at-risk-table',
    `Top ${formatInteger(data.atRiskCustomers.length)} of the ${formatInteger(data.atRiskRanked)} customers ranked by value at risk`,
    columns,
    data.atRiskCustomers,
  );
}

function clusterTable(data: ReportData): string {
  const cur = unit(data.currency);
  const columns: Column<KmeansProfile>[] = [
    { header: 'Cluster', cell: (r) => text(r.kmeans_segment) },
    { header: 'Customers', cell: (r) => formatInteger(r.customers), numeric: true },
    { header: 'Share', cell: (r) => formatPercent(r.share), numeric: true },
    {
      header: 'Days since last purchase',
      cell: (r) => formatDecimal(r.avg_days_since_last_purchase),
      numeric: true,
    },
    { header: 'Purchase days', cell: (r) => formatDecimal(r.avg_purchase_days), numeric: true },
    { header: `Spend per purchase day (${cur})`, cell: (r) => formatMoney(r.avg_mean_spend), numeric: true },
    { header: 'Engagement events', cell: (r) => formatDecimal(r.avg_engagement_events), numeric: true },
    { header: `Lifetime value (${cur})`, cell: (r) => formatMoney(r.avg_lifetime_value), numeric: true },
    { header: 'Churn probability', cell: (r) => formatPercent(r.avg_churn_probability), numeric: true },
  ];
  const untrusted = data.kmeansProfiles.some((r) => r.is_trustworthy === false);
  return table(
    'clusters-table',
    `Means per cluster${untrusted ? '; the clustering did not pass its checks in this run: read it with care' : ''}`,
    columns,
    data.kmeansProfiles,
  );
}

function flaggedTable(data: ReportData): string {
  const cur = unit(data.currency);
  const columns: Column<FlaggedCustomer>[] = [
    { header: 'Customer id', cell: (r) => escapeHtml(String(r.customer_id)), numeric: true },
    { header: `Spend in window (${cur})`, cell: (r) => formatMoney(r.window_spend), numeric: true },
    { header: `Largest order (${cur})`, cell: (r) => formatMoney(r.max_order_total), numeric: true },
    { header: 'Orders', cell: (r) => formatInteger(r.orders_in_window), numeric: true },
    {
      header: 'Reasons (figure > threshold)',
      cell: (r) =>
        (r.flag_reasons ?? DASH)
          .split('; ')
          .map((reason) => `<span class="reason">${escapeHtml(reason)}</span>`)
          .join(' '),
    },
  ];
  return table(
    'flagged-table',
    `The ${formatInteger(data.flaggedCustomers.length)} flagged customers with the most spend in the fraud window, of ${formatInteger(data.flaggedTotal)} flagged`,
    columns,
    data.flaggedCustomers,
  );
}

function qualityTable(data: ReportData): string {
  const columns: Column<QualityCheck>[] = [
    {
      header: 'Result',
      cell: (r) => (r.is_passed ? 'pass' : `<strong>${r.is_blocking ? 'FAIL' : 'warning'}</strong>`),
    },
    { header: 'Blocking', cell: (r) => (r.is_blocking ? '<strong>blocking</strong>' : 'no') },
    { header: 'Check', cell: (r) => `<code>${escapeHtml(r.check_name)}</code>` },
    { header: 'Subject', cell: (r) => escapeHtml(r.subject) },
    { header: 'Value', cell: (r) => formatCheckValue(r.metric_value), numeric: true },
    { header: 'Threshold', cell: (r) => formatCheckValue(r.threshold), numeric: true },
    { header: 'Detail', cell: (r) => text(r.detail) },
  ];
  // Failed first, then blocking, whatever order the rows came in.
  const checks = data.dataQuality
    .filter((c) => c.threshold !== null || !c.is_passed)
    .sort(
      (a, b) => Number(a.is_passed) - Number(b.is_passed) || Number(b.is_blocking) - Number(a.is_blocking),
    );
  // Row counts and rejects by reason have no threshold and always pass: figures behind the checks,
  // folded away so the checks read at a glance (opened for printing by the client).
  const figures = data.dataQuality.filter((c) => c.threshold === null && c.is_passed);
  const blocking = data.dataQuality.filter((c) => c.is_blocking);
  const failedBlocking = blocking.filter((c) => !c.is_passed).length;
  const warnings = data.dataQuality.filter((c) => !c.is_blocking && !c.is_passed).length;
  const passed = failedBlocking === 0;
  const gate =
    data.dataQuality.length === 0
      ? ''
      : `<p class="gate ${passed ? 'good' : 'bad'}" data-gate="${passed ? 'passed' : 'failed'}">Quality gate: <strong>${
          passed ? 'passed' : 'failed'
        }</strong>. ${formatInteger(failedBlocking)} of ${formatInteger(blocking.length)} blocking checks failed; ${formatInteger(
          warnings,
        )} non-blocking warning${warnings === 1 ? '' : 's'}.</p>`;
  const rowClass = (r: QualityCheck) => (r.is_passed ? '' : r.is_blocking ? 'fail blocking' : 'fail');
  return `${gate}
${table('quality-checks', 'Checks with a threshold, failed first, then blocking', columns, checks, rowClass)}
<details class="figures-table">
<summary>Figures behind the checks: ${formatInteger(figures.length)} row counts and rejects by reason (information only)</summary>
${table('quality-figures', 'Information only: these always pass', columns.slice(2), figures)}
</details>`;
}

const significant = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

function formatCheckValue(value: number | null): string {
  if (value === null) return DASH;
  return Number.isInteger(value) ? formatInteger(value) : significant.format(value);
}

const SEGMENT_TYPES: Record<string, string> = {
  rfm_segment: 'RFM segments',
  kmeans_segment: 'K-Means clusters',
  lifecycle_stage: 'Lifecycle stages outside the RFM window',
};

function summaryCards(rows: readonly SegmentSummary[]): string {
  if (rows.length === 0) return emptyState('summary-cards');
  const card = (r: SegmentSummary) => {
    const writer =
      r.source === 'bedrock'
        ? `Written by Bedrock${r.model_id ? ` (${r.model_id})` : ''}`
        : `Written by the template${r.fallback_reason ? ` (Bedrock fell back: ${r.fallback_reason})` : ''}`;
    const actions = r.recommended_actions
      .split('\n')
      .filter((a) => a.trim() !== '')
      .map((a) => `<li>${escapeHtml(a.replace(/^\s*[-*]\s*/, ''))}</li>`)
      .join('');
    return `<article class="summary" data-item>
<h4>${escapeHtml(r.segment)}${r.customers === null ? '' : ` <span class="kind">${formatInteger(r.customers)} customers</span>`}</h4>
<p class="headline">${escapeHtml(r.headline)}</p>
<p>${escapeHtml(r.description)}</p>
<ul class="actions">${actions}</ul>
<p class="source" data-source="${escapeHtml(r.source)}">${escapeHtml(writer)}</p>
</article>`;
  };
  const groups = [...new Set(rows.map((r) => r.segment_type))].map((type) => {
    const cards = rows.filter((r) => r.segment_type === type).map(card);
    return `<h3>${escapeHtml(SEGMENT_TYPES[type] ?? type)}</h3>\n<div class="summaries">\n${cards.join('\n')}\n</div>`;
  });
  return `<div data-part="summary-cards">\n${groups.join('\n')}\n</div>`;
}

/** The subset of ReportData the browser draws charts from (tables are already HTML). */
export function chartData(data: ReportData) {
  return {
    currency: data.currency,
    segmentOverview: data.segmentOverview,
    rfmGrid: data.rfmGrid,
    churnDistribution: data.churnDistribution,
    clvDistribution: data.clvDistribution,
    fraudSignals: data.fraudSignals,
    revenueByMonth: data.revenueByMonth,
    topProducts: data.topProducts,
    engagementByChannel: data.engagementByChannel,
  };
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1a1a1a; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 2px; }
h3 { font-size: 15px; margin: 12px 0 4px; }
section, header { padding: 18px 0 22px; border-bottom: 1px solid #e3e3e3; break-inside: avoid-page; }
.how { color: #555; margin: 0 0 10px; max-width: 80ch; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 10px 24px; margin: 12px 0 0; }
.figure dt { color: #555; font-size: 13px; }
.figure dd { margin: 0; font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.meta { color: #555; font-size: 13px; margin: 10px 0 0; }
.figure dd.note { font-size: 12px; font-weight: 400; color: #666; overflow-wrap: anywhere; }
.good dd:first-of-type, .gate.good strong { color: #1f6f3a; }
.bad dd:first-of-type, .gate.bad strong { color: #a12a1f; }
.chart { margin: 8px 0 14px; }
.chart-title { margin: 6px 0 2px; }
figcaption { color: #555; font-size: 13px; margin-top: 4px; }
.plot svg { max-width: 100%; height: auto; overflow: visible; }
.row { display: grid; grid-template-columns: 440fr 300fr 300fr; gap: 0; }
.row > .chart { min-width: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #555; padding: 4px 0 6px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { border-bottom: 1px solid #bbb; font-weight: 600; }
td.num, th.num { text-align: right; width: 1%; }
td.num { white-space: nowrap; }
th.num { min-width: 7.5em; }
tr.fail td { background: #fff6e5; }
tr.fail.blocking td { background: #fde8e6; }
.reason { display: inline-block; margin: 0 4px 2px 0; padding: 0 4px; border: 1px solid #ddd; border-radius: 3px; white-space: nowrap; font-size: 12px; }
.empty { color: #a12a1f; font-style: italic; }
.summaries { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px 24px; font-size: 14px; }
.summary { border-top: 3px solid #3b6ea8; padding: 4px 0 8px; }
.summary h4 { margin: 6px 0 2px; font-size: 15px; }
details.figures-table { margin-top: 10px; }
details.figures-table summary { cursor: pointer; color: #333; }
.summary .kind { font-weight: 400; color: #666; font-size: 13px; }
.summary .headline { font-weight: 600; margin: 2px 0 4px; }
.summary p { margin: 0 0 6px; }
.summary .actions { margin: 0 0 6px; padding-left: 18px; }
.summary .source { color: #666; font-size: 12px; }
code { font-size: 12px; }
@media print { main { max-width: none; padding: 0; } section, header { break-inside: avoid; } }
`;

/** The whole report as one HTML document. */
export function renderReport(data: ReportData, assets: ReportAssets = loadReportAssets()): string {
  const cur = unit(data.currency);
  const currencyNote = data.currency
    ? ''
    : ' The run names no currency (its orders carry none), so amounts are shown without one.';
  const sections = [
    overview(data),
    section(
      'segments',
      `Each bar is a segment: RFM segments for customers who bought in the RFM window, Lapsed for earlier buyers, Prospect for customers who never bought. Left to right: how many customers (share of all), what they have spent to date, and the mean expected lifetime value of a customer (future spend; n/a where the model’s value is withheld).${currencyNote}`,
      data.segmentOverview.length === 0
        ? emptyState('segments')
        : `<div class="row">${chart('segments-customers', 'Customers', data.segmentOverview)}${chart(
            'segments-revenue',
            `Revenue to date (${cur})`,
            data.segmentOverview,
          )}${chart('segments-value', `Mean lifetime value (${cur})`, data.segmentOverview)}</div>`,
    ),
    section(
      'rfm-grid',
      'Customers by recency score (rows, 5 = bought most recently) and frequency score (columns, 5 = buys most often); darker cells hold more customers. Top right are the best customers, bottom left the ones slipping away.',
      chart('rfm-grid', 'Customers per recency and frequency score', data.rfmGrid),
    ),
    section(
      'churn',
      'How many customers fall in each 10-point band of churn probability (the model’s chance that a customer buys nothing in the next period). The darker part of each bar is the customers the purchase-gap rule also flags.',
      chart('churn', 'Customers per churn probability band', data.churnDistribution),
    ),
    section(
      'at-risk',
      `The customers with the most lifetime value at risk (lifetime value × churn probability): call these first. Amounts in ${cur}.`,
      atRiskTable(data),
    ),
    section(
      'clv',
      `How many customers have an expected lifetime value (discounted future spend, BG/NBD and Gamma-Gamma) in each band; bands widen as values grow. Customers whose value is withheld (an untrustworthy fit) are left out.`,
      chart('clv', `Customers per lifetime value band (${cur})`, data.clvDistribution),
    ),
    section(
      'clusters',
      'The K-Means clusters and the mean of each clustering feature: how recent, how often, how much and how engaged the customers of each cluster are, and what they are worth.',
      clusterTable(data),
    ),
    section(
      'fraud',
      'A customer is flagged when a login anomaly and an order anomaly occur together in the fraud window. Bars: customers each condition triggered for (light) and, of those, the flagged ones (dark). Table: the flagged customers and every condition that triggered, with its figure and threshold.',
      `${chart('fraud-signals', 'Customers per fraud signal', data.fraudSignals)}\n${flaggedTable(data)}`,
    ),
    section(
      'revenue',
      'Revenue per calendar month (dark line) and the same month a year earlier (grey, dashed). Red dots mark the peak months, the months with the most revenue; the hollow dot is the month the run date falls in, not complete yet.',
      chart('revenue', `Revenue per month (${cur})`, data.revenueByMonth, peakCaption(data)),
    ),
    section(
      'products',
      'The five products with the most revenue over all months, one row each on the same scale, month by month; a gap means the product was not among that month’s top sellers. The month in progress is left out.',
      chart('products', `Revenue per month of the top five products (${cur})`, data.topProducts),
    ),
    section(
      'engagement',
      'How many customers each channel reaches (light bar) and for how many it is the main channel (dark bar); the label adds the action rate: email clicks per email sent, ad clicks per ad shown, orders per web visit.',
      chart('engagement', 'Customers per channel', data.engagementByChannel),
    ),
    section(
      'data-quality',
      'Every data-quality check of the run. A failed blocking check stops a run before it publishes, so a published run has passed the gate; warnings are failed checks that do not block.',
      qualityTable(data),
    ),
    section(
      'summaries',
      'A plain-language summary of each segment, written from aggregate figures only (never a customer’s data), by Bedrock or, when Bedrock is off or its answer is unusable, by a deterministic template.',
      summaryCards(data.segmentSummaries),
    ),
  ].join('\n\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer 360 report: run ${escapeHtml(data.run.run_date)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${sections}
</main>
<script type="application/json" id="report-data">${scriptJson(chartData(data))}</script>
${assets.scripts.map((s) => inlineScript(s.name, s.source)).join('\n')}
</body>
</html>
`;
}
