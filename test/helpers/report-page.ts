import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { SECTIONS } from '../../lib/report/render.js';

/** Debian's chromium; playwright-core brings no browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A report opened in a page, with everything it asked the network for and every error it logged. */
export interface OpenedReport {
  readonly page: Page;
  /** Every request other than the report file itself (each was aborted). */
  readonly requests: string[];
  /** Console errors and uncaught page errors. */
  readonly errors: string[];
}

/**
 * Opens a report file with every request routed: the file itself is let through, anything else is
 * recorded and aborted, so a report that needs the network fails the caller's check instead of
 * quietly loading something.
 */
export async function openReport(browser: Browser, file: string, width = 1200): Promise<OpenedReport> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const url = `file://${file}`;
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  // Requests the route does not see (it does not intercept every scheme) are still recorded here.
  page.on('request', (request) => {
    if (request.url() !== url && !requests.includes(request.url())) requests.push(request.url());
  });
  await page.route('**/*', (route) => {
    const requested = route.request().url();
    if (requested === url) return route.continue();
    if (!requests.includes(requested)) requests.push(requested);
    return route.abort();
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, errors };
}

/** What one section of an opened report shows. */
export interface SectionContent {
  readonly id: string;
  readonly parts: readonly {
    readonly part: string;
    readonly empty: boolean;
    /** Data marks drawn in the part's charts (axes, frames and rules not counted). */
    readonly marks: number;
    /** Rows, cards or figures the part lists. */
    readonly items: number;
  }[];
}

// A Plot chart is an <svg> whose top-level <g aria-label="..."> are its marks; axes, frame and the zero
// rule carry no data.
const DATA_MARKS =
  'svg > g[aria-label]:not([aria-label*="axis"]):not([aria-label="rule"]):not([aria-label="frame"]) :is(rect, path, circle, text, line)';

/** Every section of the page with, for each of its parts, whether it is empty and what it draws. */
export async function readSections(page: Page): Promise<SectionContent[]> {
  const sections: SectionContent[] = [];
  for (const section of await page.locator('[data-section]').all()) {
    const id = (await section.getAttribute('data-section')) ?? '';
    const parts = [];
    for (const part of await section.locator('[data-part]').all()) {
      parts.push({
        part: (await part.getAttribute('data-part')) ?? '',
        empty:
          (await part.getAttribute('data-empty')) !== null ||
          (await part.locator('[data-empty]').count()) > 0,
        marks: await part.locator(DATA_MARKS).count(),
        items: await part.locator('[data-item]').count(),
      });
    }
    sections.push({ id, parts });
  }
  return sections;
}

/**
 * Why the page is not a complete report, one line per problem (none when complete): a section missing,
 * a section without parts, a part showing the empty state, or a part with neither drawn marks nor rows.
 */
export function sectionProblems(sections: readonly SectionContent[]): string[] {
  const problems: string[] = [];
  for (const expected of SECTIONS) {
    const section = sections.find((s) => s.id === expected.id);
    if (!section) {
      problems.push(`${expected.id}: section missing`);
      continue;
    }
    if (section.parts.length === 0) problems.push(`${expected.id}: no chart, table or figures`);
    for (const part of section.parts) {
      if (part.empty) problems.push(`${expected.id}/${part.part}: shows the empty state`);
      else if (part.marks === 0 && part.items === 0)
        problems.push(`${expected.id}/${part.part}: nothing drawn or listed`);
    }
  }
  return problems;
}
