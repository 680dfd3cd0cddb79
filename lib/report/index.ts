import { pathToFileURL } from 'node:url';
import type { DuckDBConnection } from '@duckdb/node-api';
import { writeFileAtomically } from '../local/state.js';
import { loadReportData, type ReportData } from './data.js';
import { renderReport } from './render.js';

export { NoPublishedRunError, type ReportData } from './data.js';
export { EMPTY_STATE, renderReport, SECTIONS } from './render.js';

/** The report written, and what was in it. */
export interface WrittenReport {
  readonly file: string;
  /** The file as a URL, to paste into a browser. */
  readonly url: string;
  readonly data: ReportData;
  readonly bytes: number;
}

/**
 * Writes the report of the latest published run to `file`, from a connection on which the workspace's
 * views exist (openWorkspaceEngine). Replaced whole: a browser never opens half a report.
 * Throws NoPublishedRunError before the first publish.
 */
export async function writeReport(connection: DuckDBConnection, file: string): Promise<WrittenReport> {
  const data = await loadReportData(connection);
  const html = renderReport(data);
  writeFileAtomically(file, html);
  return { file, url: pathToFileURL(file).href, data, bytes: Buffer.byteLength(html) };
}
