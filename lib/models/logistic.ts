import { CholeskyDecomposition, LuDecomposition, Matrix } from 'ml-matrix';

/**
 * L2-regularized logistic regression fitted by IRLS (Newton-Raphson on the penalized log-likelihood).
 *
 * The objective maximized is
 *   sum_i w_i [y_i log p_i + (1 - y_i) log(1 - p_i)] - (l2 / 2) sum_j beta_j^2,
 *   p_i = 1 / (1 + exp(-(beta_0 + sum_j beta_j z_ij))),  z_ij = (x_ij - mean_j) / scale_j,
 * so `l2` weighs the penalty against the summed (not averaged) log-likelihood: l2 = 1 is
 * scikit-learn's LogisticRegression(C=1) on standardized features. The intercept beta_0 is not
 * penalized, so the fitted mean probability equals the observed rate (the intercept's score equation).
 *
 * Features are standardized inside with the training rows' (weighted) mean and population standard
 * deviation, so the penalty treats every feature alike whatever its unit. A constant feature gets
 * scale 1, coefficient 0 and a warning; it is left out of the solve so it cannot make it singular.
 *
 * The model is kept in the form the SQL scores: intercept + sum coefficient_j * (x_j - mean_j) / scale_j,
 * then 1 / (1 + exp(-score)).
 */
export interface LogisticModel {
  readonly featureNames: readonly string[];
  /** Standardization: z = (x - mean) / scale. */
  readonly means: readonly number[];
  readonly scales: readonly number[];
  readonly intercept: number;
  /** On the standardized features. */
  readonly coefficients: readonly number[];
  readonly l2: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** For example a constant feature, or perfect separation suspected. */
  readonly warnings: readonly string[];
}

export interface LogisticOptions {
  /** One name per column of the rows, in order. */
  readonly featureNames: readonly string[];
  /**
   * Penalty weight on the standardized coefficients (see the objective above); 0 is plain maximum
   * likelihood, which diverges under separation.
   * @default 1
   */
  readonly l2?: number;
  /** @default 100 */
  readonly maxIterations?: number;
  /**
   * Converged when the largest Newton step on any parameter (standardized units) is below this.
   * @default 1e-8
   */
  readonly tolerance?: number;
  /** Non-negative row weights (a row of weight w counts as w identical rows). @default all 1 */
  readonly weights?: readonly number[];
}

/** Above this, a standardized coefficient is taken as a sign of (quasi-)separation. */
const LARGE_COEFFICIENT = 5;

/** log(1 + exp(x)) without overflow for large x or loss of precision for very negative x. */
function log1pExp(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function validate(
  rows: readonly (readonly number[])[],
  labels: readonly (0 | 1)[],
  options: LogisticOptions,
): number[] {
  const d = options.featureNames.length;
  if (rows.length !== labels.length) {
    throw new Error(
      `fitLogistic: got ${rows.length} rows and ${labels.length} labels; expected one label per row`,
    );
  }
  if (rows.length === 0) throw new Error('fitLogistic: no training rows');
  const weights = options.weights ?? new Array<number>(rows.length).fill(1);
  if (weights.length !== rows.length) {
    throw new Error(
      `fitLogistic: options.weights has ${weights.length} entries; expected ${rows.length} (one per row)`,
    );
  }
  let positive = 0;
  let negative = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as readonly number[];
    if (row.length !== d) {
      throw new Error(
        `fitLogistic: rows[${i}] has ${row.length} values; expected ${d} (options.featureNames: ${options.featureNames.join(', ')})`,
      );
    }
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(row[j])) {
        throw new Error(
          `fitLogistic: rows[${i}] feature ${options.featureNames[j]} is ${row[j]}; expected a finite number`,
        );
      }
    }
    const w = weights[i] as number;
    if (!(Number.isFinite(w) && w >= 0)) {
      throw new Error(`fitLogistic: options.weights[${i}] is ${w}; expected a finite number >= 0`);
    }
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new Error(`fitLogistic: labels[${i}] is ${String(y)}; expected 0 or 1`);
    if (w > 0) {
      if (y === 1) positive += w;
      else negative += w;
    }
  }
  if (positive === 0 || negative === 0) {
    throw new Error(
      `fitLogistic: every weighted label is ${positive === 0 ? 0 : 1}; a classifier needs rows of both classes`,
    );
  }
  const l2 = options.l2 ?? 1;
  if (!(Number.isFinite(l2) && l2 >= 0))
    throw new Error(`fitLogistic: options.l2 is ${l2}; expected a number >= 0`);
  return weights.slice();
}

/** Fits the model; throws on malformed input (naming the row, feature or option), never returns NaN. */
export function fitLogistic(
  rows: readonly (readonly number[])[],
  labels: readonly (0 | 1)[],
  options: LogisticOptions,
): LogisticModel {
  const weights = validate(rows, labels, options);
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-8;
  const names = options.featureNames;
  const d = names.length;
  const n = rows.length;
  const warnings: string[] = [];

  let totalWeight = 0;
  for (const w of weights) totalWeight += w;
  const means = new Array<number>(d).fill(0);
  const scales = new Array<number>(d).fill(1);
  // Only varying features enter the solve; the rest keep coefficient 0.
  const active: number[] = [];
  for (let j = 0; j < d; j++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += (weights[i] as number) * ((rows[i] as readonly number[])[j] as number);
    const mean = sum / totalWeight;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const dev = ((rows[i] as readonly number[])[j] as number) - mean;
      squares += (weights[i] as number) * dev * dev;
    }
    const sd = Math.sqrt(squares / totalWeight);
    means[j] = mean;
    // Relative test: a feature differing only by rounding noise is constant for the model.
    if (sd > 1e-12 * Math.max(1, Math.abs(mean))) {
      scales[j] = sd;
      active.push(j);
    } else {
      warnings.push(
        `feature ${names[j]} is constant (${mean}) in the training rows: scale set to 1, coefficient 0`,
      );
    }
  }

  // Design matrix in standardized units, intercept column first; p = 1 + active features.
  const p = 1 + active.length;
  const z = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    const row = rows[i] as readonly number[];
    z[i * p] = 1;
    for (let a = 0; a < active.length; a++) {
      const j = active[a] as number;
      z[i * p + 1 + a] = ((row[j] as number) - (means[j] as number)) / (scales[j] as number);
    }
  }
  const beta = new Float64Array(p);
  // Start from the intercept that matches the observed rate: one Newton step fewer, and exact when
  // no feature carries signal.
  let positive = 0;
  for (let i = 0; i < n; i++) positive += (weights[i] as number) * (labels[i] as number);
  beta[0] = Math.log(positive / (totalWeight - positive));

  const eta = new Float64Array(n);
  const linear = (b: Float64Array): void => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let a = 0; a < p; a++) s += (z[i * p + a] as number) * (b[a] as number);
      eta[i] = s;
    }
  };
  /** The penalized log-likelihood at the current eta and coefficients b. */
  const objective = (b: Float64Array): number => {
    let ll = 0;
    for (let i = 0; i < n; i++) {
      const e = eta[i] as number;
      // y log p + (1 - y) log(1 - p) = y e - log(1 + exp(e))
      ll += (weights[i] as number) * ((labels[i] as number) * e - log1pExp(e));
    }
    let penalty = 0;
    for (let a = 1; a < p; a++) penalty += (b[a] as number) ** 2;
    return ll - (l2 / 2) * penalty;
  };

  linear(beta);
  let current = objective(beta);
  let iterations = 0;
  let converged = false;
  let singular = false;
  while (iterations < maxIterations) {
    iterations++;
    // Gradient g = Z'W(y - p) - l2 beta (intercept unpenalized); Hessian H = Z' diag(w p (1-p)) Z + l2 I.
    const gradient = new Float64Array(p);
    const hessian = new Float64Array(p * p);
    for (let i = 0; i < n; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      const prob = sigmoid(eta[i] as number);
      const residual = w * ((labels[i] as number) - prob);
      const curvature = w * prob * (1 - prob);
      const base = i * p;
      for (let a = 0; a < p; a++) {
        const za = z[base + a] as number;
        gradient[a] = (gradient[a] as number) + residual * za;
        const cza = curvature * za;
        for (let b = 0; b <= a; b++)
          hessian[a * p + b] = (hessian[a * p + b] as number) + cza * (z[base + b] as number);
      }
    }
    for (let a = 1; a < p; a++) {
      gradient[a] = (gradient[a] as number) - l2 * (beta[a] as number);
      hessian[a * p + a] = (hessian[a * p + a] as number) + l2;
    }
    const h = new Matrix(p, p);
    for (let a = 0; a < p; a++) {
      for (let b = 0; b <= a; b++) {
        h.set(a, b, hessian[a * p + b] as number);
        h.set(b, a, hessian[a * p + b] as number);
      }
    }
    const g = Matrix.columnVector(Array.from(gradient));
    const step = solveNewton(h, g);
    if (step === undefined) {
      singular = true;
      break;
    }
    // Step halving keeps each iteration an ascent step: under (near-)separation a full Newton step
    // from a flat region can overshoot.
    let scale = 1;
    const next = new Float64Array(p);
    let value = Number.NEGATIVE_INFINITY;
    for (let halving = 0; halving < 40; halving++) {
      for (let a = 0; a < p; a++) next[a] = (beta[a] as number) + scale * (step[a] as number);
      linear(next);
      value = objective(next);
      if (value >= current - 1e-12 * Math.abs(current)) break;
      scale /= 2;
    }
    let largest = 0;
    for (let a = 0; a < p; a++) largest = Math.max(largest, Math.abs(scale * (step[a] as number)));
    beta.set(next);
    current = value;
    if (largest < tolerance) {
      converged = true;
      break;
    }
  }
  linear(beta);

  if (singular) {
    warnings.push(
      `the Newton system became singular at iteration ${iterations} (l2 = ${l2}: separation or collinear features); stopped there`,
    );
  }
  if (!converged) {
    warnings.push(
      `not converged after ${iterations} iterations (tolerance ${tolerance}); the coefficients are the last iterate`,
    );
  }
  // Complete separation: every weighted row on the right side of the boundary. The likelihood then
  // has no finite maximum; only l2 keeps the coefficients finite, and their size is the penalty's
  // choice, not the data's.
  let separated = active.length > 0;
  for (let i = 0; i < n && separated; i++) {
    if ((weights[i] as number) === 0) continue;
    const e = eta[i] as number;
    if ((labels[i] === 1 && e <= 0) || (labels[i] === 0 && e >= 0)) separated = false;
  }
  if (separated) {
    warnings.push(
      l2 > 0
        ? `perfect separation suspected: the fitted score puts every training row on the side of its label; the coefficients are finite only because of l2 = ${l2} and grow as it shrinks`
        : 'perfect separation suspected: the fitted score puts every training row on the side of its label; with l2 = 0 the maximum-likelihood coefficients are infinite and these are where the iteration stopped',
    );
  }

  // Quasi-complete separation (a subset of rows separated, e.g. by a binary feature that is 1 only for
  // churners) escapes the test above but shows as a huge standardized coefficient: 5 means one
  // standard deviation multiplies the odds by e^5, about 150, which an honest churn feature does not
  // do (a leaked label does). Under separation the coefficient grows like log(1 / l2), so small l2
  // crosses this quickly.
  if (!separated) {
    active.forEach((j, a) => {
      const c = beta[a + 1] as number;
      if (Math.abs(c) > LARGE_COEFFICIENT) {
        warnings.push(
          `feature ${names[j]} has a standardized coefficient of ${c.toPrecision(3)}: separation (or quasi-separation) suspected; its size is set by l2 = ${l2}, not by the data`,
        );
      }
    });
  }

  const coefficients = new Array<number>(d).fill(0);
  active.forEach((j, a) => {
    coefficients[j] = beta[a + 1] as number;
  });
  return {
    featureNames: names.slice(),
    means,
    scales,
    intercept: beta[0] as number,
    coefficients,
    l2,
    iterations,
    converged,
    warnings,
  };
}

/** Cholesky for the symmetric positive definite case (any l2 > 0); LU when l2 = 0 leaves it semi-definite. */
function solveNewton(h: Matrix, g: Matrix): number[] | undefined {
  const cholesky = new CholeskyDecomposition(h);
  let solution: Matrix | undefined;
  if (cholesky.isPositiveDefinite()) solution = cholesky.solve(g);
  else {
    const lu = new LuDecomposition(h);
    if (lu.isSingular()) return undefined;
    solution = lu.solve(g);
  }
  const values = solution.getColumn(0);
  return values.every(Number.isFinite) ? values : undefined;
}

/** The linear score the SQL will compute: intercept + sum coefficient_i * (x_i - mean_i) / scale_i. */
export function linearScore(model: LogisticModel, row: readonly number[]): number {
  if (row.length !== model.featureNames.length) {
    throw new Error(
      `linearScore: got ${row.length} values; expected ${model.featureNames.length} (${model.featureNames.join(', ')})`,
    );
  }
  let score = model.intercept;
  for (let j = 0; j < row.length; j++) {
    score +=
      ((model.coefficients[j] as number) * ((row[j] as number) - (model.means[j] as number))) /
      (model.scales[j] as number);
  }
  return score;
}

/** 1 / (1 + exp(-linearScore)), evaluated without overflow. */
export function predictProbability(model: LogisticModel, row: readonly number[]): number {
  return sigmoid(linearScore(model, row));
}
