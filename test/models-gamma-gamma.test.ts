import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../lib/generate/rng.js';
import {
  expectedAverageSpend,
  fitGammaGamma,
  type GammaGammaParams,
  populationMeanSpend,
  type RepeatSpend,
} from '../lib/models/gamma-gamma.js';
import { ensureSpecialFunctions } from '../lib/models/special.js';
import { loadCdnow } from './helpers/cdnow.js';

/** Published CDNOW estimates (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"). */
const PUBLISHED: GammaGammaParams = { p: 6.25, q: 3.74, v: 15.44 };
const sig3 = (v: number) => Number(v.toPrecision(3));

beforeAll(async () => {
  await ensureSpecialFunctions();
});

describe('Gamma-Gamma on the CDNOW sample (Fader & Hardie 2013)', () => {
  let repeat: RepeatSpend[];
  beforeAll(() => {
    // Calibration to 1997-09-30; mean spend of the repeat purchase days, the first day excluded.
    repeat = loadCdnow('19970930').flatMap((c) => (c.mbar === undefined ? [] : [{ x: c.x, mbar: c.mbar }]));
  });

  it('has the 946 repeat customers of the paper', () => {
    expect(repeat).toHaveLength(946);
  });

  it('reproduces p 6.25, q 3.74, v 15.44 to three significant figures', () => {
    const { params, diagnostics } = fitGammaGamma(repeat);
    expect(sig3(params.p)).toBe(sig3(PUBLISHED.p));
    expect(sig3(params.q)).toBe(sig3(PUBLISHED.q));
    expect(sig3(params.v)).toBe(sig3(PUBLISHED.v));
    expect(diagnostics).toMatchObject({ status: 'ok', converged: true, boundary: [], warnings: [] });
    expect(Number.isFinite(diagnostics.logLikelihood)).toBe(true);
  });

  it('the same fit from weighted rows (n) as from one row per customer', () => {
    const counts = new Map<string, RepeatSpend & { n: number }>();
    for (const r of repeat) {
      const key = `${r.x}|${r.mbar}`;
      const found = counts.get(key);
      if (found) found.n++;
      else counts.set(key, { ...r, n: 1 });
    }
    const weighted = fitGammaGamma([...counts.values()]);
    const single = fitGammaGamma(repeat);
    expect(weighted.params.p).toBeCloseTo(single.params.p, 4);
    expect(weighted.params.q).toBeCloseTo(single.params.q, 4);
    expect(weighted.diagnostics.logLikelihood).toBeCloseTo(single.diagnostics.logLikelihood, 6);
  });

  it('a fit stopped by a tiny maxIterations is not_converged', () => {
    expect(fitGammaGamma(repeat, { maxIterations: 3 }).diagnostics).toMatchObject({
      status: 'not_converged',
      converged: false,
    });
  });
});

describe('expected spend', () => {
  it('expectedAverageSpend on the published parameters, worked by hand', () => {
    // x = 2 repeat purchases averaging $30:
    //   p (v + x mbar) / (p x + q - 1) = 6.25 (15.44 + 60) / (12.5 + 3.74 - 1) = 471.5 / 15.24 = 30.938320...
    expect(expectedAverageSpend(PUBLISHED, 2, 30)).toBeCloseTo(30.93832, 5);
    // A weighted mean of the population mean and the customer's own: more purchases, closer to their own.
    expect(expectedAverageSpend(PUBLISHED, 50, 30)).toBeGreaterThan(30);
    expect(expectedAverageSpend(PUBLISHED, 50, 30)).toBeLessThan(expectedAverageSpend(PUBLISHED, 2, 30));
  });

  it('the population mean p v / (q - 1), worked by hand, is what customers outside the domain get', () => {
    // 6.25 * 15.44 / 2.74 = 96.5 / 2.74 = 35.218978...
    expect(populationMeanSpend(PUBLISHED)).toBeCloseTo(35.218978, 5);
    expect(expectedAverageSpend(PUBLISHED, 0, 0)).toBeCloseTo(35.218978, 5);
    expect(expectedAverageSpend(PUBLISHED, 3, 0)).toBeCloseTo(35.218978, 5);
  });

  it('populationMeanSpend is undefined when q <= 1, and the spend of a one-time buyer does not exist', () => {
    expect(populationMeanSpend({ p: 6.25, q: 1, v: 15.44 })).toBeUndefined();
    expect(populationMeanSpend({ p: 6.25, q: 0.7, v: 15.44 })).toBeUndefined();
    expect(() => expectedAverageSpend({ p: 6.25, q: 0.7, v: 15.44 }, 0, 0)).toThrow(/q <= 1/);
  });
});

describe('Gamma-Gamma diagnostics', () => {
  it('a fit with q <= 1 (heavy-tailed spend across customers) is flagged degenerate with the reason', () => {
    // Simulated: nu ~ Gamma(q = 0.7, rate v = 10) per customer, each transaction ~ Gamma(p = 5, rate nu).
    const rng = new Rng('gamma-gamma', 'heavy-tail');
    const data: RepeatSpend[] = [];
    for (let i = 0; i < 3000; i++) {
      const nu = rng.gamma(0.7, 1 / 10);
      const x = 1 + rng.poisson(2);
      let total = 0;
      for (let j = 0; j < x; j++) total += rng.gamma(5, 1 / nu);
      data.push({ x, mbar: total / x });
    }
    const { params, diagnostics } = fitGammaGamma(data);
    expect(params.q).toBeLessThan(1);
    expect(diagnostics.status).toBe('degenerate');
    expect(diagnostics.boundary.some((b) => /^q = .* <= 1: the population mean spend/.test(b))).toBe(true);
    expect(populationMeanSpend(params)).toBeUndefined();
  });

  it('fewer than 10 repeat customers is insufficient_data; none is not fitted', () => {
    const few = fitGammaGamma([
      { x: 1, mbar: 20 },
      { x: 3, mbar: 35, n: 2 },
    ]);
    expect(few.diagnostics.status).toBe('insufficient_data');
    const none = fitGammaGamma([]);
    expect(none.diagnostics).toMatchObject({ status: 'insufficient_data', iterations: 0 });
  });

  it('rejects a customer outside the domain, naming the row', () => {
    expect(() => fitGammaGamma([{ x: 0, mbar: 20 }])).toThrow(/data\[0\].*x >= 1/);
    expect(() => fitGammaGamma([{ x: 2, mbar: 0 }])).toThrow(/data\[0\].*mbar > 0/);
  });
});
