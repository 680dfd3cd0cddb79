import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../lib/html.js';
import {
  EMPTY_STATE,
  formatMoney,
  formatPercent,
  loadReportAssets,
  type ReportAssets,
  renderReport,
  SECTIONS,
  scriptJson,
} from '../lib/report/render.js';
import { reportFixture } from './helpers/report-fixture.js';

// The real libraries are read once: they are what must not break out of their tags either.
const assets = loadReportAssets();
const noScripts: ReportAssets = { scripts: [] };

/** The body of the inlined JSON, parsed as the browser does. */
function inlinedData(html: string): Record<string, unknown> {
  const match = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!match?.[1]) throw new Error('no report-data script in the page');
  return JSON.parse(match[1]) as Record<string, unknown>;
}

/** The HTML of one section, from its opening tag to the next section's. */
function sectionHtml(html: string, id: string): string {
  const start = html.indexOf(`data-section="${id}"`);
  const next = html.indexOf('data-section="', start + 1);
  return html.slice(start, next === -1 ? html.indexOf('</main>') : next);
}

describe('renderReport', () => {
  it('writes every section, in order, each with a heading and its parts, and no empty state when all have rows', () => {
    const html = renderReport(reportFixture(), noScripts);
    const ids = [...html.matchAll(/data-section="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual(SECTIONS.map((s) => s.id));
    for (const { id, title } of SECTIONS) {
      const part = sectionHtml(html, id);
      expect(part, id).toContain(escapeHtml(title));
      expect(part, id).toMatch(/data-part="/);
    }
    expect(html).not.toContain(EMPTY_STATE);
    expect(html).not.toContain('data-empty');
  });

  it('shows the empty state in exactly the section whose rows are empty', () => {
    const data = { ...reportFixture(), rfmGrid: [] };
    const html = renderReport(data, noScripts);
    const grid = sectionHtml(html, 'rfm-grid');
    expect(grid).toContain(EMPTY_STATE);
    expect(grid).toContain('data-empty');
    expect(grid).not.toContain('data-chart=');
    // One empty state in the whole page: the others still show their data.
    expect(html.split(EMPTY_STATE).length - 1).toBe(1);
  });

  it('shows the empty state in the part of a two-part section that has no rows', () => {
    const data = { ...reportFixture(), flaggedCustomers: [], flaggedTotal: 0 };
    const fraud = sectionHtml(renderReport(data, noScripts), 'fraud');
    expect(fraud).toContain('data-chart="fraud-signals"');
    expect(fraud).toMatch(/data-part="flagged-table" data-empty/);
  });

  it('keeps data containing </script> and <!-- inside the JSON: it neither ends the tag nor changes on parsing', () => {
    const hostile = '</script><script>window.pwned = 1</script><!-- x';
    const fixture = reportFixture();
    const data = {
      ...fixture,
      topProducts: fixture.topProducts.map((p) => ({ ...p, product_name: hostile })),
      segmentOverview: fixture.segmentOverview.map((s) => ({ ...s, rfm_segment: hostile })),
      segmentSummaries: fixture.segmentSummaries.map((s) => ({ ...s, headline: hostile })),
    };
    const html = renderReport(data, noScripts);
    // The only script tags are the page's own: one JSON block here (no library scripts given).
    expect(html.match(/<script/gi)).toHaveLength(1);
    expect(html.match(/<\/script/gi)).toHaveLength(1);
    expect(html).not.toContain('<!-- x');
    // The browser gets the text back exactly.
    const inlined = inlinedData(html) as { topProducts: { product_name: string }[] };
    expect(inlined.topProducts[0]?.product_name).toBe(hostile);
    // In HTML text (the summary headline) it is escaped.
    expect(sectionHtml(html, 'summaries')).toContain(
      '&lt;/script&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;&lt;!-- x',
    );
  });

  it('escapes < as \\u003c in JSON, and the line separators', () => {
    expect(scriptJson({ a: '</script>\u2028' })).toBe('{"a":"\\u003c/script>\\u2028"}');
  });

  it('inlines d3, Observable Plot and the drawing code, and names no http(s) URL in any src or href', () => {
    const html = renderReport(reportFixture(), assets);
    expect(html).toContain('data-inline="d3"');
    expect(html).toContain('data-inline="@observablehq/plot"');
    expect(html).toContain('data-inline="report"');
    expect(html).toContain('// @observablehq/plot v0.6.17');
    // Any src= or href= at all would be a request: the page has none, local or remote.
    expect(html.match(/\s(src|href)\s*=\s*["']?https?:/gi)).toBeNull();
    expect(html.match(/<(script|link|img|iframe)[^>]*\s(src|href)=/gi)).toBeNull();
    // Only the scripts' own strings name URLs (XML namespaces, a licence line), never a resource.
    expect(html.match(/<link\b/gi)).toBeNull();
  });

  it('refuses to inline a script that would end its tag', () => {
    expect(() =>
      renderReport(reportFixture(), { scripts: [{ name: 'bad', source: 'var s = "</script>";' }] }),
    ).toThrow('bad cannot be inlined: it contains </script or <!--');
  });

  it('formats money with thousands separators and two decimals, and shares as percentages', () => {
    expect(formatMoney(1234567.891)).toBe('1,234,567.89');
    expect(formatMoney(null)).toBe('–');
    expect(formatPercent(0.4567)).toBe('45.7%');
    const html = renderReport(reportFixture(), noScripts);
    // The header adds up the segments: 120 + 30 customers, 9,000.50 + 1,234.56 revenue.
    const overview = sectionHtml(html, 'overview');
    expect(overview).toContain('<dd>150</dd>');
    expect(overview).toContain('<dd>10,235.06</dd>');
    expect(overview).toContain('Revenue to date (USD)');
    // The at-risk table: money and probability formatted, a missing figure as a dash.
    const atRisk = sectionHtml(html, 'at-risk');
    expect(atRisk).toContain('<td class="num">1,234.50</td>');
    expect(atRisk).toContain('<td class="num">15,000.75</td>');
    expect(atRisk).toContain('<td class="num">50.0%</td>');
    expect(atRisk).toContain('Value at risk (USD)');
  });

  it('says the gate passed when no blocking check failed, and lists failed checks first', () => {
    const html = renderReport(reportFixture(), noScripts);
    const quality = sectionHtml(html, 'data-quality');
    expect(quality).toContain('data-gate="passed"');
    // 0 of the 1 blocking check failed; the failed identity_group_cap is a warning.
    expect(quality).toContain('0 of 1 blocking checks failed; 1 non-blocking warning.');
    const checks = quality.slice(quality.indexOf('data-part="quality-checks"'), quality.indexOf('<details'));
    expect(checks.indexOf('identity_group_cap')).toBeLessThan(checks.indexOf('reject_share'));
    expect(checks).toContain('<tr data-item class="fail">');
    // Information-only rows are folded under the checks.
    expect(quality.slice(quality.indexOf('<details'))).toContain('row_count');
    // A small share keeps its digits (0.0052, not 0.0).
    expect(checks).toContain('<td class="num">0.0052</td>');
  });

  it('says the gate failed when a blocking check failed', () => {
    const fixture = reportFixture();
    const data = {
      ...fixture,
      dataQuality: fixture.dataQuality.map((c) => (c.is_blocking ? { ...c, is_passed: false } : c)),
    };
    const html = renderReport(data, noScripts);
    expect(sectionHtml(html, 'data-quality')).toContain('data-gate="failed"');
    expect(sectionHtml(html, 'overview')).toContain('1 blocking check(s) failed');
  });

  it('labels amounts without a currency when the run names none', () => {
    const html = renderReport({ ...reportFixture(), currency: null }, noScripts);
    expect(html).not.toContain('(USD)');
    expect(sectionHtml(html, 'overview')).toContain('Revenue to date (amount)');
    expect(sectionHtml(html, 'segments')).toContain('shown without one');
    expect(inlinedData(html).currency).toBeNull();
  });

  it('says who wrote each segment summary', () => {
    const fixture = reportFixture();
    const bedrock = {
      ...fixture.segmentSummaries[0],
      segment: 'Lost',
      source: 'bedrock',
      model_id: 'anthropic.claude-3-haiku',
    } as (typeof fixture.segmentSummaries)[number];
    const html = renderReport(
      { ...fixture, segmentSummaries: [...fixture.segmentSummaries, bedrock] },
      noScripts,
    );
    const summaries = sectionHtml(html, 'summaries');
    expect(summaries).toContain('Written by the template');
    expect(summaries).toContain('Written by Bedrock (anthropic.claude-3-haiku)');
    expect(summaries).toContain('<li>Reward them.</li><li>Ask for reviews.</li>');
  });
});
