import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The CDNOW sample fixture (test/fixtures/cdnow/README.md). */
export const CDNOW_SAMPLE = join(import.meta.dirname, '..', 'fixtures', 'cdnow', 'CDNOW_sample.txt');

export interface CdnowCustomer {
  readonly id: string;
  /** Repeat purchase days in the calibration period (same-day purchases are one). */
  readonly x: number;
  /** Days from the first to the last purchase day in the calibration period, / 7. */
  readonly tx: number;
  /** Days from the first purchase to the calibration end date, / 7. */
  readonly T: number;
  /** Mean spend of the repeat purchase days (first day excluded); undefined when x = 0. */
  readonly mbar: number | undefined;
  /** Repeat purchase days after the calibration end, up to the holdout end. */
  readonly holdoutX: number;
}

const DAY_MS = 86_400_000;

function dayNumber(yyyymmdd: string, where: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(yyyymmdd);
  if (!m) throw new Error(`${where}: date ${JSON.stringify(yyyymmdd)}; expected yyyymmdd`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
}

/**
 * Per-customer calibration summary, as BTYD's cdnowSummary and the paper: purchase days (same-day rows
 * merged, spend summed), the calibration end date counting as calibration, holdout in (end, holdoutEnd].
 */
export function loadCdnow(calibrationEnd = '19970930', holdoutEnd = '19980630'): CdnowCustomer[] {
  const end = dayNumber(calibrationEnd, 'calibrationEnd');
  const hEnd = dayNumber(holdoutEnd, 'holdoutEnd');
  const days = new Map<string, Map<number, number>>();
  const lines = readFileSync(CDNOW_SAMPLE, 'utf8').split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const where = `${CDNOW_SAMPLE}:${i + 1}`;
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 5)
      throw new Error(`${where}: ${fields.length} fields; expected 5 (id, id, date, CDs, dollars)`);
    const [id, , date, , dollars] = fields as [string, string, string, string, string];
    const spend = Number(dollars);
    if (!Number.isFinite(spend))
      throw new Error(`${where}: dollars ${JSON.stringify(dollars)}; expected a number`);
    const perDay = days.get(id) ?? new Map<number, number>();
    const day = dayNumber(date, where);
    perDay.set(day, (perDay.get(day) ?? 0) + spend);
    days.set(id, perDay);
  }
  const customers: CdnowCustomer[] = [];
  for (const [id, perDay] of days) {
    const sorted = [...perDay.entries()].sort((u, v) => u[0] - v[0]);
    const first = sorted[0]?.[0] ?? end;
    if (first > end) continue;
    const calibration = sorted.filter(([d]) => d <= end);
    const repeats = calibration.slice(1);
    const last = calibration[calibration.length - 1]?.[0] ?? first;
    customers.push({
      id,
      x: repeats.length,
      tx: (last - first) / 7,
      T: (end - first) / 7,
      mbar: repeats.length > 0 ? repeats.reduce((s, [, v]) => s + v, 0) / repeats.length : undefined,
      holdoutX: sorted.filter(([d]) => d > end && d <= hEnd).length,
    });
  }
  return customers;
}

/** Distinct (x, t_x, T) triples with counts. */
export function triples(
  customers: readonly CdnowCustomer[],
): { x: number; tx: number; T: number; n: number }[] {
  const byKey = new Map<string, { x: number; tx: number; T: number; n: number }>();
  for (const c of customers) {
    const key = `${c.x}|${c.tx}|${c.T}`;
    const found = byKey.get(key);
    if (found) found.n++;
    else byKey.set(key, { x: c.x, tx: c.tx, T: c.T, n: 1 });
  }
  return [...byKey.values()];
}
