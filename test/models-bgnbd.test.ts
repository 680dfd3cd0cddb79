import { beforeAll, describe, expect, it } from 'vitest';
import {
  aliveExpectationOverC,
  type BgnbdParams,
  bgnbdLogLikelihood,
  conditionalExpectedPurchases,
  discountedExpectedPurchases,
  expectedPurchasesNewCustomer,
  type FrequencyRecencyAge,
  fitBgnbd,
  pAlive,
  WEEKS_PER_YEAR,
} from '../lib/models/bgnbd.js';
import { ensureSpecialFunctions } from '../lib/models/special.js';
import { simulate } from './helpers/bgnbd-simulation.js';
import { type CdnowCustomer, loadCdnow, triples } from './helpers/cdnow.js';
import { refConditionalExpectation, refLogLikelihood, refPAlive } from './helpers/decimal-reference.js';

/** Published CDNOW estimates (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way",
 * Marketing Science 24(2), section 4). */
const PUBLISHED: BgnbdParams = { r: 0.2426, alpha: 4.4137, a: 0.793, b: 2.4262 };
const relErr = (got: number, want: number) => Math.abs(got / want - 1);
const sig3 = (v: number) => Number(v.toPrecision(3));

beforeAll(async () => {
  await ensureSpecialFunctions();
});

describe('BG/NBD on the CDNOW sample (Fader, Hardie & Lee 2005), weeks, calibration to 1997-09-30', () => {
  let customers: CdnowCustomer[];
  let data: FrequencyRecencyAge[];
  beforeAll(() => {
    customers = loadCdnow('19970930', '19980630');
    data = triples(customers);
  });

  it('the loader reproduces the paper’s counts', () => {
    // The paper: 2,357 customers, 2,457 repeat purchases in the calibration weeks, 1,882 in the holdout.
    expect(customers).toHaveLength(2357);
    expect(customers.reduce((s, c) => s + c.x, 0)).toBe(2457);
    expect(customers.reduce((s, c) => s + c.holdoutX, 0)).toBe(1882);
    // BTYD's cdnowSummary: a first purchase on 1997-01-01 has T = 272 days / 7.
    const firstDay = customers.find((c) => c.id === '00004');
    expect(firstDay?.T).toBeCloseTo(272 / 7, 12);
    // Customer 00004 bought on 1997-01-01, 01-18 and 08-02 in calibration: x = 2, t_x = 213 days / 7.
    expect(firstDay?.x).toBe(2);
    expect(firstDay?.tx).toBeCloseTo(213 / 7, 12);
    // The fit runs on 1,016 distinct (x, t_x, T) triples, weighted by their counts.
    expect(data).toHaveLength(1016);
    expect(data.reduce((s, d) => s + d.n, 0)).toBe(2357);
  });

  it('fitBgnbd reproduces r, alpha, a, b and the log-likelihood to three significant figures', () => {
    const { params, diagnostics } = fitBgnbd(data);
    expect(sig3(params.r)).toBe(sig3(PUBLISHED.r));
    expect(sig3(params.alpha)).toBe(sig3(PUBLISHED.alpha));
    expect(sig3(params.a)).toBe(sig3(PUBLISHED.a));
    expect(sig3(params.b)).toBe(sig3(PUBLISHED.b));
    // Tighter than three figures: each within 0.05% of the published four-figure value.
    for (const key of ['r', 'alpha', 'a', 'b'] as const) {
      expect(relErr(params[key], PUBLISHED[key]), key).toBeLessThan(5e-4);
    }
    expect(diagnostics.logLikelihood).toBeCloseTo(-9582.43, 1);
    expect(diagnostics).toMatchObject({ status: 'ok', converged: true, boundary: [], warnings: [] });
    expect(diagnostics.iterations).toBeGreaterThan(0);
  });

  it('the per-customer log-likelihood sums to the published -9582.43 at the published parameters', () => {
    const ll = customers.reduce((s, c) => s + bgnbdLogLikelihood(PUBLISHED, c.x, c.tx, c.T), 0);
    expect(ll).toBeCloseTo(-9582.43, 1);
  });

  it('the 39-week holdout: summed conditional expectation about 1,653 (within 0.1%) against 1,882 actual', () => {
    const { params } = fitBgnbd(data);
    const expected = customers.reduce(
      (s, c) => s + conditionalExpectedPurchases(params, 39, c.x, c.tx, c.T),
      0,
    );
    expect(Math.abs(expected - 1653) / 1653).toBeLessThan(1e-3);
  });
});

describe('BG/NBD fit on simulated data', () => {
  it('recovers known parameters from 20,000 simulated customers (r, alpha within 10%; a, b within 15%)', () => {
    // a and b get the wider band: only repeat buyers inform the dropout process. Seeded, so the
    // tolerance is about the estimator's spread (seen 1-8% over seeds), not flakiness.
    const truth = { r: 0.5, alpha: 5, a: 0.8, b: 2.5 };
    const { params, diagnostics } = fitBgnbd(simulate(20_000, truth, 'recovery'));
    expect(diagnostics.status).toBe('ok');
    expect(relErr(params.r, truth.r)).toBeLessThan(0.1);
    expect(relErr(params.alpha, truth.alpha)).toBeLessThan(0.1);
    expect(relErr(params.a, truth.a)).toBeLessThan(0.15);
    expect(relErr(params.b, truth.b)).toBeLessThan(0.15);
  });

  it('customers who never drop out (pure NBD) drive the fit to the boundary: degenerate, with a boundary entry', () => {
    const { params, diagnostics } = fitBgnbd(
      simulate(5_000, { r: 0.5, alpha: 5, a: 1, b: 1 }, 'nbd', { dropout: false }),
    );
    expect(diagnostics.status).toBe('degenerate');
    expect(params.a / (params.a + params.b)).toBeLessThan(1e-4);
    expect(diagnostics.boundary.some((b) => /^a\/\(a\+b\) = .*dropout probability vanishes/.test(b))).toBe(
      true,
    );
    // Scores stay finite even there.
    expect(Number.isFinite(conditionalExpectedPurchases(params, 52, 3, 20, 40))).toBe(true);
  });

  it('a fit stopped by a tiny maxIterations is not_converged', () => {
    const data = triples(loadCdnow());
    const { diagnostics } = fitBgnbd(data, { maxIterations: 5 });
    expect(diagnostics).toMatchObject({ status: 'not_converged', converged: false, iterations: 5 });
    expect(diagnostics.warnings.join()).toMatch(/cap of 5 iterations/);
  });

  it('fewer than 10 repeat buyers is insufficient_data; none at all is not fitted', () => {
    const few = [
      { x: 0, tx: 0, T: 30, n: 200 },
      { x: 1, tx: 3, T: 30, n: 2 },
      { x: 2, tx: 10, T: 25, n: 1 },
    ];
    expect(fitBgnbd(few).diagnostics.status).toBe('insufficient_data');
    const none = fitBgnbd([{ x: 0, tx: 0, T: 30, n: 200 }]);
    expect(none.diagnostics).toMatchObject({ status: 'insufficient_data', iterations: 0 });
    expect(Number.isNaN(none.params.r)).toBe(true);
  });

  it('rejects an impossible triple, naming it', () => {
    expect(() => fitBgnbd([{ x: 1, tx: 5, T: 3, n: 1 }])).toThrow(/data\[0\].*0 <= tx <= T/);
  });
});

describe('BG/NBD numerics at the extremes, against an 80-digit evaluation of the paper’s formulas', () => {
  const TEN_YEARS = 3650 / 7; // weeks
  // [name, params, t, x, t_x, T]. Relative tolerance 1e-12 for every figure (measured: at most 2.2e-14).
  const cases: [string, BgnbdParams, number, number, number, number][] = [
    ['x = 2,000, t_x a day before T = ten years', PUBLISHED, 52, 2000, TEN_YEARS - 1 / 7, TEN_YEARS],
    ['a = 1 + 1e-9, x = 2,000', { ...PUBLISHED, a: 1 + 1e-9 }, 52, 2000, TEN_YEARS - 1 / 7, TEN_YEARS],
    ['a = 1 - 1e-9, x = 2,000', { ...PUBLISHED, a: 1 - 1e-9 }, 52, 2000, TEN_YEARS - 1 / 7, TEN_YEARS],
    ['a = 1 + 1e-9, one-time buyer of ten years', { ...PUBLISHED, a: 1 + 1e-9 }, 52, 0, 0, TEN_YEARS],
    ['one-time buyer of ten years', PUBLISHED, 52, 0, 0, TEN_YEARS],
    ['a -> 0 (1e-6)', { ...PUBLISHED, a: 1e-6 }, 52, 5, 20, 40],
    ['b large (1e6), r small (1e-4)', { ...PUBLISHED, b: 1e6, r: 1e-4 }, 52, 3, 10, 50],
    [
      'b large, r small, x = 2,000',
      { ...PUBLISHED, b: 1e6, r: 1e-4 },
      52,
      2000,
      TEN_YEARS - 1 / 7,
      TEN_YEARS,
    ],
    ['long gone (P(alive) 3e-16)', PUBLISHED, 52, 20, 5, 60],
    ['ten-year horizon, a year-old customer', PUBLISHED, 520, 4, 30, 52],
    // r > a + b - 1: the other series (the first one cancels to -4,059 here).
    ['r large (100), a -> 0, new customer', { ...PUBLISHED, r: 100, a: 1e-6 }, 52, 0, 0, 0],
    ['r large (100), a = 1 - 1e-9', { ...PUBLISHED, r: 100, a: 1 - 1e-9 }, 52, 3, 20, 30],
    ['r large (100), x = 2,000', { ...PUBLISHED, r: 100 }, 52, 2000, TEN_YEARS - 1 / 7, TEN_YEARS],
    ['a + b < 1 (c < 0 for a one-time buyer)', { ...PUBLISHED, a: 0.3, b: 0.5 }, 52, 0, 0, 20],
  ];
  for (const [name, p, t, x, tx, T] of cases) {
    it(name, () => {
      const ll = bgnbdLogLikelihood(p, x, tx, T);
      const alive = pAlive(p, x, tx, T);
      const expected = conditionalExpectedPurchases(p, t, x, tx, T);
      for (const v of [ll, alive, expected]) expect(Number.isFinite(v)).toBe(true);
      // Relative, except near a log-likelihood of 0 (a new customer's is exactly 0), where absolute.
      const llWant = refLogLikelihood(p, x, tx, T);
      expect(Math.abs(ll - llWant)).toBeLessThan(1e-12 * Math.max(1, Math.abs(llWant)));
      expect(relErr(alive, refPAlive(p, x, tx, T))).toBeLessThan(1e-12);
      expect(relErr(expected, refConditionalExpectation(p, t, x, tx, T))).toBeLessThan(1e-12);
    });
  }

  it('a = 1 exactly (where (a+b+x-1)/(a-1) is 1/0) lies between a = 1 -+ 1e-9', () => {
    const at = (a: number) => conditionalExpectedPurchases({ ...PUBLISHED, a }, 52, 7, 30, 40);
    const [below, exact, above] = [at(1 - 1e-9), at(1), at(1 + 1e-9)];
    expect(Number.isFinite(exact)).toBe(true);
    expect(relErr(exact, (below + above) / 2)).toBeLessThan(1e-12);
  });

  it('E[X(t)] for a new customer (eq. 7) matches the 80-digit eq. 10 at x = t_x = T = 0', () => {
    for (const t of [1, 39, 78]) {
      expect(
        relErr(expectedPurchasesNewCustomer(PUBLISHED, t), refConditionalExpectation(PUBLISHED, t, 0, 0, 0)),
      ).toBeLessThan(1e-12);
    }
  });

  it('where the series would be too long, the Cephes route agrees with it (1e-13; 2e-9 within 1e-5 of a = 1)', () => {
    // z = 500 / 505.4 = 0.989 and 5000 / 5004.4: the series takes thousands of terms; a cap of 10 sends
    // the call to Cephes. Near a = 1 that route divides by a - 1 (interpolated within 1e-5 of it), which
    // costs digits: measured 8e-10.
    for (const a of [0.793, 1 - 1e-9, 1, 1 + 1e-7, 3]) {
      const p = { ...PUBLISHED, a };
      for (const [t, T] of [
        [500, 1],
        [5000, 0],
      ] as const) {
        const series = aliveExpectationOverC(p, t, 0, T);
        const cephes = aliveExpectationOverC(p, t, 0, T, 10);
        expect(relErr(cephes, series), `a = ${a}, t = ${t}`).toBeLessThan(
          Math.abs(a - 1) < 1e-5 ? 2e-9 : 1e-13,
        );
      }
    }
  });

  it('every value is finite over a grid of edges (x to 2,000, T to ten years, a, b, r at their edges)', () => {
    let evaluated = 0;
    for (const r of [1e-4, 0.2426, 100])
      for (const a of [1e-6, 0.5, 1 - 1e-9, 1, 1 + 1e-9, 5])
        for (const b of [1e-3, 2.4262, 1e6])
          for (const [x, tx, T] of [
            [0, 0, 0],
            [0, 0, TEN_YEARS],
            [1, 0.1, 52],
            [2000, TEN_YEARS - 1 / 7, TEN_YEARS],
          ] as const)
            for (const t of [1, 52, 520]) {
              const p = { r, alpha: 4.4137, a, b };
              const alive = pAlive(p, x, tx, T);
              const e = conditionalExpectedPurchases(p, t, x, tx, T);
              expect(alive >= 0 && alive <= 1, JSON.stringify({ p, x, tx, T })).toBe(true);
              expect(Number.isFinite(e) && e >= 0, JSON.stringify({ p, t, x, tx, T, e })).toBe(true);
              expect(Number.isFinite(bgnbdLogLikelihood(p, x, tx, T))).toBe(true);
              evaluated++;
            }
    expect(evaluated).toBe(3 * 6 * 3 * 4 * 3);
  });
});

describe('discountedExpectedPurchases (weekly increments of eq. 10, discounted at mid-week)', () => {
  const customer = [4, 30, 52] as const;

  it('undiscounted, it is the conditional expectation over the horizon', () => {
    const undiscounted = discountedExpectedPurchases(PUBLISHED, ...customer, 52, 0);
    expect(relErr(undiscounted, conditionalExpectedPurchases(PUBLISHED, 52, ...customer))).toBeLessThan(
      1e-12,
    );
  });

  it('one week: E(1) discounted half a week, worked by hand', () => {
    // 10% a year over half a week: 1.1^(-0.5 / 52.178571) = exp(-0.09531018 * 0.00958248)
    // = exp(-0.00091331) = 0.99908711.
    const oneWeek = conditionalExpectedPurchases(PUBLISHED, 1, ...customer);
    expect(
      relErr(discountedExpectedPurchases(PUBLISHED, ...customer, 1, 0.1), oneWeek * 0.99908711),
    ).toBeLessThan(1e-8);
    expect(WEEKS_PER_YEAR).toBeCloseTo(52.1786, 4);
  });

  it('a partial last week is a shorter step, and discounting lowers the value between bounds', () => {
    const e = conditionalExpectedPurchases(PUBLISHED, 104.5, ...customer);
    const discounted = discountedExpectedPurchases(PUBLISHED, ...customer, 104.5, 0.1);
    // Every purchase is discounted by at most two years' worth and at least nothing.
    expect(discounted).toBeLessThan(e);
    expect(discounted).toBeGreaterThan(e / 1.1 ** (104.5 / WEEKS_PER_YEAR));
    expect(relErr(discountedExpectedPurchases(PUBLISHED, ...customer, 104.5, 0), e)).toBeLessThan(1e-12);
  });

  it('stays finite for a ten-year horizon at the extremes', () => {
    const v = discountedExpectedPurchases(
      { ...PUBLISHED, a: 1 },
      2000,
      3650 / 7 - 1 / 7,
      3650 / 7,
      520,
      0.08,
    );
    expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(Number.isFinite(discountedExpectedPurchases(PUBLISHED, 0, 0, 0, 520, 0.08))).toBe(true);
  });
});
