import { fitDiagnostics, type MinimizeOptions, minimize, parametersAtEdge } from './optimize.js';
import { hyp2f1, lbeta, lgamma } from './special.js';

/**
 * BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way: An Alternative to the
 * Pareto/NBD Model", Marketing Science 24(2)): while alive a customer buys at Poisson rate lambda ~
 * Gamma(r, alpha); after each repeat purchase they drop out with probability p ~ Beta(a, b). Time is in
 * weeks; x repeat purchases, t_x the time of the last one and T the age, both from the first purchase.
 *
 * Numerics (see docs in each function): everything in log space; P(alive) from the log odds of being
 * dead; the conditional expectation as one series with positive terms (no 2F1 that grows while its
 * prefactor underflows, no division by a - 1).
 */

export interface BgnbdParams {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;
}

/** One group of customers sharing (x, t_x, T) in weeks; n customers (weight). */
export interface FrequencyRecencyAge {
  readonly x: number;
  readonly tx: number;
  readonly T: number;
  readonly n: number;
}

export interface FitDiagnostics {
  readonly logLikelihood: number;
  readonly converged: boolean;
  readonly iterations: number;
  /** Parameters or combinations at the edge of their domain, each with why (e.g. "a/(a+b) = 2e-9: dropout
   *  probability vanishes, BG/NBD degenerates to NBD and P(alive) means nothing"). Empty when fine. */
  readonly boundary: readonly string[];
  readonly status: 'ok' | 'degenerate' | 'not_converged' | 'insufficient_data';
  readonly warnings: readonly string[];
}

export interface BgnbdFitOptions {
  /** Nelder-Mead iteration cap (per run; the fit restarts once from the optimum).
   * @default 8000 */
  readonly maxIterations?: number;
  /** Starting point. @default { r: 1, alpha: 1, a: 1, b: 1 } */
  readonly initial?: BgnbdParams;
}

/** Below this many repeat buyers (weighted) a fit says `insufficient_data`: four parameters, and only
 * repeat buyers inform the dropout process. */
export const MIN_REPEAT_BUYERS = 10;
/** a/(a+b), the mean dropout probability per repeat purchase, below this is a vanished dropout process. */
export const MIN_DROPOUT_PROBABILITY = 1e-4;

function checkParams(p: BgnbdParams, fn: string): void {
  for (const key of ['r', 'alpha', 'a', 'b'] as const) {
    if (!(p[key] > 0 && Number.isFinite(p[key]))) {
      throw new RangeError(`${fn}: BG/NBD parameter ${key} = ${p[key]}; expected a finite number > 0`);
    }
  }
}

/**
 * ln of the odds that the customer is dead rather than alive at T (the second term of the likelihood
 * over the first): ln(a / (b + x - 1)) + (r + x) ln((alpha + T) / (alpha + t_x)); -Infinity for x = 0,
 * who cannot have dropped out (dropout happens only after a repeat purchase).
 */
function logOddsDead(p: BgnbdParams, x: number, tx: number, T: number): number {
  if (x === 0) return Number.NEGATIVE_INFINITY;
  return Math.log(p.a) - Math.log(p.b + x - 1) + (p.r + x) * Math.log1p((T - tx) / (p.alpha + tx));
}

/** Up to this x, log Beta ratios are exact sums (cost x log1p calls); beyond, differences of lbetas. */
const MAX_BETA_RATIO_SUM = 20_000;

/**
 * ln B(a, b + x) - ln B(a, b) as the exact sum of ln(1 - a / (a + b + j)), j < x. With b large the two
 * log Betas are nearly equal and their difference keeps few digits (10 at b = 1e6, x = 3 with Cephes'
 * lbeta; 12 at x = 2,000); the sum keeps all. Past MAX_BETA_RATIO_SUM, the difference of lbetas.
 */
function logBetaRatio(a: number, b: number, x: number): number {
  if (x > MAX_BETA_RATIO_SUM) return lbeta(a, b + x) - lbeta(a, b);
  let s = 0;
  for (let j = 0; j < x; j++) s += Math.log1p(-a / (a + b + j));
  return s;
}

/** ln(1 + e^d), exact for large d and for d = -Infinity. */
function softplus(d: number): number {
  return d > 0 ? d + Math.log1p(Math.exp(-d)) : Math.log1p(Math.exp(d));
}

/**
 * The paper's eq. 6 for one customer, in logs:
 *   ln Gamma(r+x) - ln Gamma(r) + r ln alpha + ln B(a, b+x) - ln B(a, b) - (r+x) ln(alpha+T)
 *   + ln(1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).
 */
export function bgnbdLogLikelihood(p: BgnbdParams, x: number, tx: number, T: number): number {
  checkParams(p, 'bgnbdLogLikelihood');
  return (
    lgamma(p.r + x) -
    lgamma(p.r) +
    p.r * Math.log(p.alpha) +
    logBetaRatio(p.a, p.b, x) -
    (p.r + x) * Math.log(p.alpha + T) +
    softplus(logOddsDead(p, x, tx, T))
  );
}

/** P(alive at T | x, t_x, T) (eq. 11) = 1 / (1 + e^d) with d the log odds of being dead; 1 for x = 0. */
export function pAlive(p: BgnbdParams, x: number, tx: number, T: number): number {
  checkParams(p, 'pAlive');
  const d = logOddsDead(p, x, tx, T);
  return d > 0 ? Math.exp(-d) / (1 + Math.exp(-d)) : 1 / (1 + Math.exp(d));
}

/** Terms beyond this make the series give way to Cephes (z within about 2e-4 of 1). */
const MAX_SERIES_TERMS = 200_000;

/**
 * E[Y(t) | x, t_x, T]: expected repeat purchases in the next t weeks (the paper's eq. 10),
 *   P(alive) * (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)],
 * z = t/(alpha+T+t). Evaluated without the 2F1 that grows while its prefactor underflows and without
 * the division by a - 1:
 *
 * 1. Pfaff: (1-z)^(r+x) 2F1(r+x, b+x; c; z) = 2F1(r+x, a-1; c; w), c = a+b+x-1, w = z/(z-1) = -t/(alpha+T).
 *    Bounded, but w < -1 for every horizon longer than alpha + T (Cephes throws there) and the
 *    alternating series in w does not converge.
 * 2. Pfaff on the other parameter maps w back into [0, 1): 2F1(r+x, a-1; c; w) = (1-z)^(a-1) F with
 *    F = 2F1(a-1, beta; c; z), beta = c - r - x = a+b-r-1.
 * 3. With e = a - 1, (e)_k = e (a)_(k-1) and (1-z)^(-e) = sum_k (e)_k z^k / k!, so
 *      (1 - (1-z)^e F) / e = (1-z)^e sum_(k>=1) (a)_(k-1) z^k / k! * (1 - (beta)_k / (c)_k).
 *    No division by e (a = 1 is an ordinary point), and when beta >= 0, 1 - (beta)_k/(c)_k is
 *    accumulated from positive increments (c - beta = r + x > 0), so nothing cancels, also when b is
 *    huge and r small (the difference form loses log10(c / (r+x)) digits there). Terms fall like z^k.
 *    When beta < 0 (r > a + b - 1) the same rearrangement of the original form takes over
 *    (seriesOriginal below), again with positive terms.
 *
 * Then E = P(alive) * c * that. When z is so close to 1 that a series needs more than 200,000 terms
 * (t more than about 5,000 times alpha + T), Cephes' hyp2f1 evaluates F by its 1 - z transformation and
 * (1 - (1-z)^e F)/e is formed directly; within 1e-5 of a = 1 that is interpolated between a = 1 +- 1e-5
 * (the function is smooth in a). That route is good to about 1e-9 near a = 1, 1e-13 elsewhere
 * (test/models-bgnbd.test.ts); Cephes may throw "partial loss of precision" there for beta < 0.
 */
export function conditionalExpectedPurchases(
  p: BgnbdParams,
  t: number,
  x: number,
  tx: number,
  T: number,
): number {
  checkParams(p, 'conditionalExpectedPurchases');
  if (t === 0) return 0;
  const c = p.a + p.b + x - 1;
  return pAlive(p, x, tx, T) * c * aliveExpectationOverC(p, t, x, T);
}

/** (1 - G) / (a - 1) of eq. 10 by the series above (maxTerms caps it; then Cephes). Exported for tests. */
export function aliveExpectationOverC(
  p: BgnbdParams,
  t: number,
  x: number,
  T: number,
  maxTerms: number = MAX_SERIES_TERMS,
): number {
  const { r, alpha, a, b } = p;
  const n = r + x;
  const c = a + b + x - 1;
  const beta = c - n;
  const e = a - 1;
  const u = t / (alpha + T);
  const z = u / (1 + u);
  const lnOneMinusZ = -Math.log1p(u);
  const series =
    beta >= 0 ? seriesPfaff(a, n, c, beta, z, maxTerms) : seriesOriginal(n, b + x, c, z, maxTerms);
  if (series !== undefined) return Math.exp((beta >= 0 ? e : n) * lnOneMinusZ + series.logScale) * series.sum;

  const viaCephes = (eps: number): number => {
    const f = hyp2f1(eps, beta + eps - e, c + eps - e, z);
    return -Math.expm1(eps * lnOneMinusZ + Math.log(f)) / eps;
  };
  const delta = 1e-5;
  if (Math.abs(e) >= delta) return viaCephes(e);
  const below = viaCephes(-delta);
  const above = viaCephes(delta);
  return below + ((e + delta) / (2 * delta)) * (above - below);
}

interface ScaledSum {
  readonly sum: number;
  /** The value is e^logScale * sum (terms are rescaled to stay in range). */
  readonly logScale: number;
}

/**
 * Step 3's series, for beta = a + b - r - 1 >= 0: sum_(k>=1) (a)_(k-1) z^k / k! (1 - (beta)_k / (c)_k).
 * With beta >= 0 every increment of 1 - (beta)_k/(c)_k, (beta)_(k-1)/(c)_(k-1) * (r+x)/(c+k-1), is
 * positive. Undefined when maxTerms are not enough.
 */
function seriesPfaff(
  a: number,
  n: number,
  c: number,
  beta: number,
  z: number,
  maxTerms: number,
): ScaledSum | undefined {
  let pk = z; // (a)_(k-1) z^k / k!
  let ratio = 1; // (beta)_(k-1) / (c)_(k-1)
  let dk = 0; // 1 - (beta)_k / (c)_k
  let sum = 0;
  for (let k = 1; k <= maxTerms; k++) {
    dk += (ratio * n) / (c + k - 1);
    ratio *= (beta + k - 1) / (c + k - 1);
    const term = pk * dk;
    sum += term;
    // Past the terms' peak (pk decreasing) and negligible.
    if (Math.abs(term) <= 1e-17 * Math.abs(sum) && (a + k - 1) * z < k + 1) return { sum, logScale: 0 };
    pk *= ((a + k - 1) * z) / (k + 1);
  }
  return undefined;
}

/**
 * For beta < 0 (r > a + b - 1; then (beta)_k alternates and grows, and step 3's series cancels
 * catastrophically: -4,059 instead of 1,178 at r = 100, a = 1e-6) the original form serves instead,
 * rearranged the same way. With m = b + x and c = m + (a - 1), 2F1(r+x, m; m; z) = (1-z)^-(r+x), so
 *   (1 - (1-z)^(r+x) 2F1(r+x, m; c; z)) / (a-1) = (1-z)^(r+x) sum_(k>=1) (r+x)_k z^k / k! * d_k,
 *   d_k = (1 - (m)_k / (c)_k) / (a-1) = d_(k-1) + (m)_(k-1) / (c)_(k-1) / (c+k-1),
 * again without division by a - 1 and with positive terms (for c > 0). The terms grow to about
 * (1-z)^-(r+x) before they fall, so they are rescaled by e^-500 whenever they pass e^500 and the
 * prefactor is applied in logs. Undefined when maxTerms are not enough.
 */
function seriesOriginal(n: number, m: number, c: number, z: number, maxTerms: number): ScaledSum | undefined {
  const RESCALE = 500;
  const LIMIT = Math.exp(RESCALE);
  let pk = n * z; // (n)_k z^k / k!, scaled
  let ratio = 1; // (m)_(k-1) / (c)_(k-1)
  let dk = 0;
  let sum = 0;
  let logScale = 0;
  for (let k = 1; k <= maxTerms; k++) {
    dk += ratio / (c + k - 1);
    ratio *= (m + k - 1) / (c + k - 1);
    const term = pk * dk;
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum) && (n + k) * z < k + 1) return { sum, logScale };
    pk *= ((n + k) * z) / (k + 1);
    if (Math.abs(pk) > LIMIT || Math.abs(sum) > LIMIT) {
      pk /= LIMIT;
      sum /= LIMIT;
      logScale += RESCALE;
    }
  }
  return undefined;
}

/** E[X(t)] for a customer of age t (eq. 7): eq. 10 with x = t_x = T = 0, where P(alive) = 1. */
export function expectedPurchasesNewCustomer(p: BgnbdParams, t: number): number {
  return conditionalExpectedPurchases(p, t, 0, 0, 0);
}

/** Weeks in a year (365.25 / 7), for turning an annual discount rate into a weekly one. */
export const WEEKS_PER_YEAR = 365.25 / 7;

/**
 * Expected purchases in the next horizonWeeks, each discounted at the annual rate to its time:
 * sum over weekly steps (k-1, k] of [E(k) - E(k-1)] / (1 + rate)^((k - 1/2) / 52.18), the increments of
 * the conditional expectation discounted at mid-step (a last partial week is one shorter step, also
 * discounted at its middle). Undiscounted (rate 0) it equals E(horizonWeeks).
 */
export function discountedExpectedPurchases(
  p: BgnbdParams,
  x: number,
  tx: number,
  T: number,
  horizonWeeks: number,
  annualDiscountRate: number,
): number {
  checkParams(p, 'discountedExpectedPurchases');
  if (!(annualDiscountRate > -1)) {
    throw new RangeError(
      `discountedExpectedPurchases: annualDiscountRate = ${annualDiscountRate}; expected > -1`,
    );
  }
  const alive = pAlive(p, x, tx, T);
  const c = p.a + p.b + x - 1;
  const logDiscountPerWeek = Math.log1p(annualDiscountRate) / WEEKS_PER_YEAR;
  let previous = 0;
  let total = 0;
  for (let start = 0; start < horizonWeeks; start += 1) {
    const end = Math.min(start + 1, horizonWeeks);
    const current = aliveExpectationOverC(p, end, x, T);
    total += (current - previous) * Math.exp((-(start + end) / 2) * logDiscountPerWeek);
    previous = current;
  }
  return alive * c * total;
}

/**
 * Weighted maximum likelihood over distinct (x, t_x, T) triples, Nelder-Mead on the logs of the four
 * parameters. The log Gamma and log Beta terms depend on x only, so they are computed once per distinct
 * x per evaluation.
 */
export function fitBgnbd(
  data: readonly FrequencyRecencyAge[],
  options: BgnbdFitOptions = {},
): { params: BgnbdParams; diagnostics: FitDiagnostics } {
  const rows = data.filter((d) => d.n > 0);
  for (const [i, d] of rows.entries()) {
    if (!(Number.isInteger(d.x) && d.x >= 0 && d.tx >= 0 && d.T >= d.tx && (d.x > 0 || d.tx === 0))) {
      throw new RangeError(
        `fitBgnbd: data[${i}] = ${JSON.stringify(d)}; expected integer x >= 0, 0 <= tx <= T, tx = 0 when x = 0`,
      );
    }
  }
  const repeatBuyers = rows.reduce((s, d) => s + (d.x > 0 ? d.n : 0), 0);
  const initial = options.initial ?? { r: 1, alpha: 1, a: 1, b: 1 };
  if (repeatBuyers === 0) {
    const nan = { r: Number.NaN, alpha: Number.NaN, a: Number.NaN, b: Number.NaN };
    return {
      params: nan,
      diagnostics: {
        logLikelihood: Number.NaN,
        converged: false,
        iterations: 0,
        boundary: [],
        status: 'insufficient_data',
        warnings: [`no repeat buyers among ${rows.length} triples: nothing to fit (parameters are NaN)`],
      },
    };
  }

  const xsAscending = [...new Set(rows.map((d) => d.x))].sort((u, v) => u - v);
  const xIndex = new Map(xsAscending.map((x, i) => [x, i]));
  const rowX = Int32Array.from(rows, (d) => xIndex.get(d.x) ?? 0);
  const perX = new Float64Array(xsAscending.length);
  const negLogLikelihood = (theta: readonly number[]): number => {
    const [r, alpha, a, b] = theta.map(Math.exp) as [number, number, number, number];
    if (![r, alpha, a, b].every((v) => v > 0 && Number.isFinite(v))) return Number.POSITIVE_INFINITY;
    const lgr = lgamma(r);
    // ln B(a, b+x) - ln B(a, b) for every x at once: one running sum up to the largest x.
    let betaRatio = 0;
    let j = 0;
    for (const [i, x] of xsAscending.entries()) {
      if (x > MAX_BETA_RATIO_SUM) betaRatio = lbeta(a, b + x) - lbeta(a, b);
      else for (; j < x; j++) betaRatio += Math.log1p(-a / (a + b + j));
      perX[i] = lgamma(r + x) - lgr + betaRatio;
    }
    const rLnAlpha = r * Math.log(alpha);
    const lnA = Math.log(a);
    let ll = 0;
    for (let i = 0; i < rows.length; i++) {
      const d = rows[i] as FrequencyRecencyAge;
      const x = d.x;
      const dead =
        x === 0
          ? Number.NEGATIVE_INFINITY
          : lnA - Math.log(b + x - 1) + (r + x) * Math.log1p((d.T - d.tx) / (alpha + d.tx));
      ll +=
        d.n *
        ((perX[rowX[i] as number] as number) + rLnAlpha - (r + x) * Math.log(alpha + d.T) + softplus(dead));
    }
    return -ll;
  };

  const maxIterations = options.maxIterations ?? 8000;
  const minimizeOptions: MinimizeOptions = { maxIterations };
  const result = minimize(
    negLogLikelihood,
    [initial.r, initial.alpha, initial.a, initial.b].map(Math.log),
    minimizeOptions,
  );
  const [r, alpha, a, b] = result.x.map(Math.exp) as [number, number, number, number];
  const params = { r, alpha, a, b };

  const boundary: string[] = [];
  const dropout = a / (a + b);
  if (dropout < MIN_DROPOUT_PROBABILITY) {
    boundary.push(
      `a/(a+b) = ${dropout.toPrecision(3)}: dropout probability vanishes, BG/NBD degenerates to NBD and P(alive) means nothing`,
    );
  }
  boundary.push(...parametersAtEdge(params));
  return {
    params,
    diagnostics: fitDiagnostics(
      result,
      maxIterations,
      boundary,
      repeatBuyers < MIN_REPEAT_BUYERS
        ? `${repeatBuyers} repeat buyers; at least ${MIN_REPEAT_BUYERS} are needed to fit the dropout process`
        : undefined,
    ),
  };
}
