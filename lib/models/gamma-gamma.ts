import type { FitDiagnostics } from './bgnbd.js';
import { fitDiagnostics, type MinimizeOptions, minimize, parametersAtEdge } from './optimize.js';
import { lgamma } from './special.js';

/**
 * Gamma-Gamma spend model (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"; Fader,
 * Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis"): a customer's
 * transaction values are Gamma(p, nu), nu ~ Gamma(q, v) across customers. Its domain is repeat
 * customers (x >= 1) with a positive mean repeat spend mbar.
 */

export interface GammaGammaParams {
  readonly p: number;
  readonly q: number;
  readonly v: number;
}

/** A repeat customer: x repeat purchases (x >= 1), mbar = mean value of the repeat purchases (> 0); n = weight. */
export interface RepeatSpend {
  readonly x: number;
  readonly mbar: number;
  /** Customers sharing (x, mbar). @default 1 */
  readonly n?: number;
}

export interface GammaGammaFitOptions {
  /** Nelder-Mead iteration cap (per run; the fit restarts once from the optimum). @default 6000 */
  readonly maxIterations?: number;
  /** Starting point. @default { p: 1, q: 1, v: 1 } */
  readonly initial?: GammaGammaParams;
}

/** Below this many repeat customers (weighted) a fit says `insufficient_data`. */
export const MIN_REPEAT_CUSTOMERS = 10;

/**
 * ln f(mbar | x; p, q, v), the density of the mean of x values (Fader & Hardie 2013, eq. 4):
 *   ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln v + (px-1) ln mbar + px ln x - (px+q) ln(v + x mbar).
 */
export function gammaGammaLogLikelihood(g: GammaGammaParams, x: number, mbar: number): number {
  const px = g.p * x;
  return (
    lgamma(px + g.q) -
    lgamma(px) -
    lgamma(g.q) +
    g.q * Math.log(g.v) +
    (px - 1) * Math.log(mbar) +
    px * Math.log(x) -
    (px + g.q) * Math.log(g.v + x * mbar)
  );
}

/**
 * E[M | x, mbar] = p (v + x mbar) / (p x + q - 1) (eq. 5): a weighted mean of the population mean
 * p v / (q - 1) and the customer's own mean. Outside the domain (x = 0, or mbar <= 0) it is the
 * population mean (x = 0 in the formula gives exactly that). Throws when p x + q - 1 <= 0 (possible only
 * for q <= 1, a fit flagged degenerate), where the expectation does not exist.
 */
export function expectedAverageSpend(g: GammaGammaParams, x: number, mbar: number): number {
  const inDomain = x >= 1 && mbar > 0;
  const xs = inDomain ? x : 0;
  const denominator = g.p * xs + g.q - 1;
  if (!(denominator > 0)) {
    throw new RangeError(
      `expectedAverageSpend: p x + q - 1 = ${denominator} at x = ${x}, q = ${g.q}; the expected spend does not exist for q <= 1`,
    );
  }
  return (g.p * (g.v + xs * (inDomain ? mbar : 0))) / denominator;
}

/** p v / (q - 1): what customers outside the model's domain (no repeat purchase, zero spend) get; undefined if q <= 1. */
export function populationMeanSpend(g: GammaGammaParams): number | undefined {
  return g.q > 1 ? (g.p * g.v) / (g.q - 1) : undefined;
}

/** Weighted maximum likelihood on the logs of p, q, v (Nelder-Mead, restarted once from the optimum). */
export function fitGammaGamma(
  data: readonly RepeatSpend[],
  options: GammaGammaFitOptions = {},
): { params: GammaGammaParams; diagnostics: FitDiagnostics } {
  for (const [i, d] of data.entries()) {
    if (!(Number.isInteger(d.x) && d.x >= 1 && d.mbar > 0 && Number.isFinite(d.mbar) && (d.n ?? 1) >= 0)) {
      throw new RangeError(
        `fitGammaGamma: data[${i}] = ${JSON.stringify(d)}; expected integer x >= 1, finite mbar > 0, n >= 0 (customers outside the domain get populationMeanSpend)`,
      );
    }
  }
  const rows = data.filter((d) => (d.n ?? 1) > 0);
  const customers = rows.reduce((s, d) => s + (d.n ?? 1), 0);
  if (rows.length === 0) {
    return {
      params: { p: Number.NaN, q: Number.NaN, v: Number.NaN },
      diagnostics: {
        logLikelihood: Number.NaN,
        converged: false,
        iterations: 0,
        boundary: [],
        status: 'insufficient_data',
        warnings: ['no repeat customers: nothing to fit (parameters are NaN)'],
      },
    };
  }
  // Terms that do not depend on the parameters, hoisted out of the objective.
  const lnMbar = Float64Array.from(rows, (d) => Math.log(d.mbar));
  const lnX = Float64Array.from(rows, (d) => Math.log(d.x));
  const negLogLikelihood = (theta: readonly number[]): number => {
    const [p, q, v] = theta.map(Math.exp) as [number, number, number];
    if (![p, q, v].every((u) => u > 0 && Number.isFinite(u))) return Number.POSITIVE_INFINITY;
    const lgq = lgamma(q);
    const qLnV = q * Math.log(v);
    let ll = 0;
    for (let i = 0; i < rows.length; i++) {
      const d = rows[i] as RepeatSpend;
      const px = p * d.x;
      ll +=
        (d.n ?? 1) *
        (lgamma(px + q) -
          lgamma(px) -
          lgq +
          qLnV +
          (px - 1) * (lnMbar[i] as number) +
          px * (lnX[i] as number) -
          (px + q) * Math.log(v + d.x * d.mbar));
    }
    return -ll;
  };
  const initial = options.initial ?? { p: 1, q: 1, v: 1 };
  const maxIterations = options.maxIterations ?? 6000;
  const minimizeOptions: MinimizeOptions = { maxIterations };
  const result = minimize(negLogLikelihood, [initial.p, initial.q, initial.v].map(Math.log), minimizeOptions);
  const [p, q, v] = result.x.map(Math.exp) as [number, number, number];
  const params = { p, q, v };

  const boundary: string[] = [];
  if (q <= 1) {
    boundary.push(
      `q = ${q.toPrecision(3)} <= 1: the population mean spend p v / (q - 1) does not exist, so customers without a repeat purchase get no expected spend`,
    );
  }
  boundary.push(...parametersAtEdge(params));
  return {
    params,
    diagnostics: fitDiagnostics(
      result,
      maxIterations,
      boundary,
      customers < MIN_REPEAT_CUSTOMERS
        ? `${customers} repeat customers; at least ${MIN_REPEAT_CUSTOMERS} are needed`
        : undefined,
    ),
  };
}
