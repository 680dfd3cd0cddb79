/**
 * Minimization for the model fits: Nelder-Mead over unconstrained parameters (the fits pass logs of
 * their positive parameters).
 *
 * Why not the `fmin` package: fmin 0.0.4's nelderMead throws `ReferenceError: i is not defined` on
 * every shrink step (its reduction loop assigns an undeclared `i` inside a 'use strict' bundle), its
 * x-tolerance reads the f-tolerance option, it reports neither iterations nor convergence, and its UMD
 * bundle under `"type": "module"` exports nothing to ESM (it sets `globalThis.fmin`). The method is
 * 60 lines, so it is written here, as in Lagarias et al. (1998), "Convergence properties of the
 * Nelder-Mead simplex method in low dimensions", SIAM J. Optim. 9(1), with the standard coefficients
 * (reflection 1, expansion 2, contraction 1/2, shrink 1/2), as scipy's `fmin` uses them.
 */

export interface MinimizeOptions {
  /** Iteration cap per run (an iteration is one reflect/expand/contract/shrink step).
   * @default 2000 * number of parameters */
  readonly maxIterations?: number;
  /** Stop when every vertex is within this distance (max norm) of the best one...
   * @default 1e-7 */
  readonly xTolerance?: number;
  /** ...and every vertex's value is within this of the best value, relative to max(1, |best|).
   * @default 1e-11 */
  readonly fTolerance?: number;
  /** Edge of the initial simplex along each coordinate (in the unconstrained space).
   * @default 0.1 */
  readonly initialStep?: number;
  /** Restart once from the optimum with a fresh simplex: Nelder-Mead can stall on a collapsed simplex
   * away from the optimum, and a restart that moves nowhere confirms it is one.
   * @default true */
  readonly restart?: boolean;
}

export interface MinimizeResult {
  readonly x: readonly number[];
  readonly fx: number;
  /** Iterations over all runs (with the restart). */
  readonly iterations: number;
  /** Function evaluations over all runs. */
  readonly evaluations: number;
  /** The tolerance criterion was met before the iteration cap, in the last run. */
  readonly converged: boolean;
}

interface Vertex {
  x: number[];
  fx: number;
}

/** Minimizes f from x0. Non-finite values of f count as +Infinity (outside the domain). */
export function minimize(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  options: MinimizeOptions = {},
): MinimizeResult {
  const n = x0.length;
  const maxIterations = options.maxIterations ?? 2000 * n;
  let evaluations = 0;
  const value = (x: number[]): number => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  const first = runSimplex(value, x0, maxIterations, options);
  if (!(options.restart ?? true) || !first.converged) {
    return { ...first.best, iterations: first.iterations, evaluations, converged: first.converged };
  }
  const second = runSimplex(value, first.best.x, maxIterations, options);
  return {
    ...second.best,
    iterations: first.iterations + second.iterations,
    evaluations,
    converged: second.converged,
  };
}

function runSimplex(
  value: (x: number[]) => number,
  x0: readonly number[],
  maxIterations: number,
  options: MinimizeOptions,
): { best: Vertex; iterations: number; converged: boolean } {
  const n = x0.length;
  const step = options.initialStep ?? 0.1;
  const xTol = options.xTolerance ?? 1e-7;
  const fTol = options.fTolerance ?? 1e-11;
  const simplex: Vertex[] = [{ x: [...x0], fx: value([...x0]) }];
  for (let i = 0; i < n; i++) {
    const x = [...x0];
    x[i] = (x[i] ?? 0) + step;
    simplex.push({ x, fx: value(x) });
  }
  const at = (i: number): Vertex => simplex[i] as Vertex;
  // Points along the line from the centroid c through the worst vertex w: c + t (c - w).
  const along = (c: number[], w: number[], t: number): number[] =>
    c.map((ci, i) => ci + t * (ci - (w[i] ?? 0)));

  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    simplex.sort((u, v) => u.fx - v.fx);
    const best = at(0);
    let xSpread = 0;
    let fSpread = 0;
    for (let i = 1; i <= n; i++) {
      fSpread = Math.max(fSpread, Math.abs(at(i).fx - best.fx));
      for (let j = 0; j < n; j++) xSpread = Math.max(xSpread, Math.abs((at(i).x[j] ?? 0) - (best.x[j] ?? 0)));
    }
    if (xSpread <= xTol && fSpread <= fTol * Math.max(1, Math.abs(best.fx))) {
      converged = true;
      break;
    }
    iterations++;
    const worst = at(n);
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) centroid[j] = (centroid[j] ?? 0) + (at(i).x[j] ?? 0) / n;

    const xr = along(centroid, worst.x, 1);
    const fr = value(xr);
    if (fr < best.fx) {
      const xe = along(centroid, worst.x, 2);
      const fe = value(xe);
      simplex[n] = fe < fr ? { x: xe, fx: fe } : { x: xr, fx: fr };
      continue;
    }
    if (fr < at(n - 1).fx) {
      simplex[n] = { x: xr, fx: fr };
      continue;
    }
    // Contract: outside when the reflected point beats the worst, inside otherwise.
    const outside = fr < worst.fx;
    const xc = along(centroid, worst.x, outside ? 0.5 : -0.5);
    const fc = value(xc);
    if (fc < (outside ? fr : worst.fx)) {
      simplex[n] = { x: xc, fx: fc };
      continue;
    }
    for (let i = 1; i <= n; i++) {
      const x = at(i).x.map((xi, j) => (best.x[j] ?? 0) + 0.5 * (xi - (best.x[j] ?? 0)));
      simplex[i] = { x, fx: value(x) };
    }
  }
  simplex.sort((u, v) => u.fx - v.fx);
  return { best: at(0), iterations, converged };
}

/**
 * A fit's diagnostics from its optimizer result: `insufficient_data` when the data could not support it
 * (`shortOfData` says why), else `not_converged`, else `degenerate` when a parameter sits on the edge of
 * its domain, else `ok`. A fit that did not converge has no optimum to call degenerate; its boundary
 * entries still say where it was heading.
 */
export function fitDiagnostics(
  result: MinimizeResult,
  maxIterations: number,
  boundary: readonly string[],
  shortOfData: string | undefined,
): {
  readonly logLikelihood: number;
  readonly converged: boolean;
  readonly iterations: number;
  readonly boundary: readonly string[];
  readonly status: 'ok' | 'degenerate' | 'not_converged' | 'insufficient_data';
  readonly warnings: readonly string[];
} {
  const warnings: string[] = [];
  if (shortOfData !== undefined) warnings.push(shortOfData);
  if (!result.converged)
    warnings.push(`Nelder-Mead stopped at its cap of ${maxIterations} iterations before converging`);
  const status =
    shortOfData !== undefined
      ? 'insufficient_data'
      : !result.converged
        ? 'not_converged'
        : boundary.length > 0
          ? 'degenerate'
          : 'ok';
  return {
    logLikelihood: -result.fx,
    converged: result.converged,
    iterations: result.iterations,
    boundary,
    status,
    warnings,
  };
}

/** A log-parameter beyond +-ln(1e6) has run off to 0 or infinity. */
const EDGE = 1e6;

/** Each parameter that has run off to 0 or infinity, said as a boundary finding. */
export function parametersAtEdge(params: Readonly<Record<string, number>>): string[] {
  return Object.entries(params)
    .filter(([, value]) => value < 1 / EDGE || value > EDGE)
    .map(
      ([key, value]) =>
        `${key} = ${value.toPrecision(3)}: at the edge of its domain (0, infinity); the optimum is not interior`,
    );
}
