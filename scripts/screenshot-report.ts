/**
 * The README's picture of the report: a full-page screenshot of a report.html in headless Chromium,
 * laid out at 1200 CSS pixels and captured at 0.75 device pixels per CSS pixel (900 px wide, what a
 * README column shows anyway), which keeps the PNG near 1 MB.
 *
 *   npx c360 demo && npx c360 report
 *   npx tsx scripts/screenshot-report.ts [.c360/report.html] [docs/images/report.png]
 *
 * Needs the Debian chromium package (scripts/setup.sh installs it); the page is allowed no network.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const report = resolve(process.argv[2] ?? '.c360/report.html');
const out = resolve(process.argv[3] ?? 'docs/images/report.png');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 0.75 });
  const url = pathToFileURL(report).href;
  await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url, { waitUntil: 'load' });
  if (errors.length > 0) throw new Error(`The report has script errors: ${errors.join('; ')}`);
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true, scale: 'device' });
  process.stdout.write(`Screenshot of ${report} written to ${out}\n`);
} finally {
  await browser.close();
}
