import { describe, expect, it } from 'vitest';
import { Rng } from '../lib/generate/rng.js';
import { fitLogistic, type LogisticModel, linearScore, predictProbability } from '../lib/models/logistic.js';

/*
 * Logistic regression by IRLS. Expected values come from the simulation's own true coefficients, from
 * the penalized score equations written out here (independently of the fitting code), or by hand.
 */

const TRUE = { intercept: -1, x1: 1, x2: -0.5, x3: 0.8 };

/** Seeded rows from a known model: x1 ~ N(0, 1), x2 ~ N(5, 2), x3 ~ Bernoulli(0.3). */
function simulate(n: number, seed: number): { rows: number[][]; labels: (0 | 1)[] } {
  const rng = new Rng(seed, 'logistic-test');
  const rows: number[][] = [];
  const labels: (0 | 1)[] = [];
  for (let i = 0; i < n; i++) {
    const x = [rng.normal(0, 1), rng.normal(5, 2), rng.chance(0.3) ? 1 : 0];
    const eta =
      TRUE.intercept + TRUE.x1 * (x[0] as number) + TRUE.x2 * (x[1] as number) + TRUE.x3 * (x[2] as number);
    rows.push(x);
    labels.push(rng.next() < 1 / (1 + Math.exp(-eta)) ? 1 : 0);
  }
  return { rows, labels };
}

/** Back to the raw units: beta_raw_j = c_j / s_j, intercept_raw = intercept - sum c_j m_j / s_j. */
function rawCoefficients(model: LogisticModel): { intercept: number; slopes: number[] } {
  const slopes = model.coefficients.map((c, j) => c / (model.scales[j] as number));
  const intercept = model.intercept - slopes.reduce((sum, b, j) => sum + b * (model.means[j] as number), 0);
  return { intercept, slopes };
}

/** The penalized score equations, computed here from their definition (not by the fitting code). */
function penalizedGradient(
  model: LogisticModel,
  rows: readonly number[][],
  labels: readonly (0 | 1)[],
  weights: readonly number[],
): number[] {
  const d = model.featureNames.length;
  const gradient = new Array<number>(d + 1).fill(0);
  rows.forEach((row, i) => {
    let eta = model.intercept;
    const z = row.map((x, j) => (x - (model.means[j] as number)) / (model.scales[j] as number));
    z.forEach((v, j) => {
      eta += (model.coefficients[j] as number) * v;
    });
    const residual = (weights[i] as number) * ((labels[i] as number) - 1 / (1 + Math.exp(-eta)));
    gradient[0] = (gradient[0] as number) + residual;
    z.forEach((v, j) => {
      gradient[j + 1] = (gradient[j + 1] as number) + residual * v;
    });
  });
  // d/d beta_j of -(l2/2) beta_j^2; the intercept is not penalized.
  model.coefficients.forEach((c, j) => {
    gradient[j + 1] = (gradient[j + 1] as number) - model.l2 * c;
  });
  return gradient;
}

const names = ['x1', 'x2', 'x3'];

describe('fitLogistic on simulated data', () => {
  const { rows, labels } = simulate(20_000, 13);

  it('recovers the true coefficients with a small l2', () => {
    const model = fitLogistic(rows, labels, { featureNames: names, l2: 1e-3 });
    expect(model.converged).toBe(true);
    expect(model.warnings).toEqual([]);
    const raw = rawCoefficients(model);
    // Tolerance: 4 standard errors at n = 20,000. The standard errors (square roots of the inverse
    // Fisher information's diagonal, evaluated once for this seed) are 0.069 (intercept), 0.032 (x1),
    // 0.016 (x2), 0.058 (x3). For this seed the errors are 0.135, 0.065, 0.027, 0.069 (2 SE or less).
    expect(Math.abs(raw.intercept - TRUE.intercept)).toBeLessThan(4 * 0.069);
    expect(Math.abs((raw.slopes[0] as number) - TRUE.x1)).toBeLessThan(4 * 0.032);
    expect(Math.abs((raw.slopes[1] as number) - TRUE.x2)).toBeLessThan(4 * 0.016);
    expect(Math.abs((raw.slopes[2] as number) - TRUE.x3)).toBeLessThan(4 * 0.058);
    // Standardization: means and scales are the sample's (x2 ~ N(5, 2)).
    expect(model.means[1]).toBeCloseTo(5, 1);
    expect(model.scales[1]).toBeCloseTo(2, 1);
  });

  it('solves the penalized score equations at the optimum (weighted, l2 = 10)', () => {
    const weights = rows.map((_, i) => 1 + (i % 3));
    const model = fitLogistic(rows, labels, { featureNames: names, l2: 10, weights });
    expect(model.converged).toBe(true);
    const gradient = penalizedGradient(model, rows, labels, weights);
    // The summed weights are ~40,000; a gradient of 1e-6 is nothing against terms of that size.
    for (const g of gradient) expect(Math.abs(g)).toBeLessThan(1e-6);
    // And the penalty is active: x1's coefficient is far from 0, so l2 x beta is a sizable term that
    // the data part of the equation must balance.
    expect(Math.abs(10 * (model.coefficients[0] as number))).toBeGreaterThan(5);
  });

  it('shrinks the coefficients toward 0 as l2 grows, the intercept toward the logit of the rate', () => {
    const norms = [1e-3, 1e2, 1e4, 1e6].map((l2) => {
      const m = fitLogistic(rows, labels, { featureNames: names, l2 });
      return { l2, norm: Math.hypot(...m.coefficients), intercept: m.intercept };
    });
    for (let i = 1; i < norms.length; i++) {
      expect(norms[i]?.norm).toBeLessThan(norms[i - 1]?.norm as number);
    }
    expect(norms[3]?.norm).toBeLessThan(0.01 * (norms[0]?.norm as number));
    const rate = labels.reduce<number>((s, y) => s + y, 0) / labels.length;
    expect(norms[3]?.intercept).toBeCloseTo(Math.log(rate / (1 - rate)), 2);
  });

  it('a weight of 2 is the same as the row twice', () => {
    const small = simulate(500, 7);
    const weights = small.rows.map((_, i) => (i < 100 ? 2 : 1));
    const weighted = fitLogistic(small.rows, small.labels, { featureNames: names, weights });
    const doubledRows = [...small.rows, ...small.rows.slice(0, 100)];
    const doubledLabels = [...small.labels, ...small.labels.slice(0, 100)];
    const doubled = fitLogistic(doubledRows, doubledLabels, { featureNames: names });
    expect(weighted.intercept).toBeCloseTo(doubled.intercept, 8);
    weighted.coefficients.forEach((c, j) => {
      expect(c).toBeCloseTo(doubled.coefficients[j] as number, 8);
    });
  });
});

describe('linearScore and predictProbability', () => {
  it('follow the formula the SQL uses', () => {
    const model: LogisticModel = {
      featureNames: ['a', 'b'],
      means: [10, 3],
      scales: [5, 2],
      intercept: 0.5,
      coefficients: [2, -1],
      l2: 1,
      iterations: 1,
      converged: true,
      warnings: [],
    };
    // 0.5 + 2 (20 - 10) / 5 - 1 (7 - 3) / 2 = 0.5 + 4 - 2 = 2.5; 1 / (1 + exp(-2.5)) = 0.92414181997875...
    expect(linearScore(model, [20, 7])).toBeCloseTo(2.5, 14);
    expect(predictProbability(model, [20, 7])).toBeCloseTo(0.9241418199787566, 14);
    // Far out in both tails: no overflow to NaN, probabilities stay in [0, 1].
    expect(predictProbability(model, [1e6, 0])).toBe(1);
    expect(predictProbability(model, [-1e6, 0])).toBe(0);
    expect(() => linearScore(model, [1])).toThrow(/expected 2 \(a, b\)/);
  });
});

describe('fitLogistic edge cases', () => {
  // Perfectly separated at 0: no finite maximum-likelihood estimate exists.
  const separated = { rows: [[-3], [-2], [-1], [1], [2], [3]], labels: [0, 0, 0, 1, 1, 1] as (0 | 1)[] };

  it('keeps perfect separation finite through l2 and warns about it', () => {
    const model = fitLogistic(separated.rows, separated.labels, { featureNames: ['x'], l2: 1 });
    expect(model.converged).toBe(true);
    expect(Number.isFinite(model.coefficients[0])).toBe(true);
    expect(model.warnings.some((w) => w.startsWith('perfect separation suspected'))).toBe(true);
    // The size is the penalty's choice: a smaller l2 gives a larger coefficient.
    const weaker = fitLogistic(separated.rows, separated.labels, { featureNames: ['x'], l2: 0.01 });
    expect(weaker.coefficients[0]).toBeGreaterThan((model.coefficients[0] as number) * 1.5);
    expect(weaker.warnings.some((w) => w.startsWith('perfect separation suspected'))).toBe(true);
  });

  it('warns about quasi-complete separation through the size of the coefficient', () => {
    // x = -1 rows are all 0, x = 1 rows all 1, x = 0 rows mixed: the likelihood keeps rising as the
    // slope grows (the x = 0 rows do not depend on it), so only l2 bounds it.
    const rows = [[-1], [-1], [-1], [0], [0], [0], [0], [1], [1], [1]];
    const labels: (0 | 1)[] = [0, 0, 0, 0, 1, 0, 1, 1, 1, 1];
    const model = fitLogistic(rows, labels, { featureNames: ['x'], l2: 1e-4 });
    expect(Number.isFinite(model.coefficients[0])).toBe(true);
    expect(model.coefficients[0]).toBeGreaterThan(5);
    expect(model.warnings.some((w) => w.startsWith('feature x has a standardized coefficient of'))).toBe(
      true,
    );
    // With the default l2 = 1 the slope stays moderate and nothing is flagged.
    expect(fitLogistic(rows, labels, { featureNames: ['x'] }).warnings).toEqual([]);
  });

  it('without l2, separation stops with finite numbers and says why instead of returning NaN', () => {
    const model = fitLogistic(separated.rows, separated.labels, {
      featureNames: ['x'],
      l2: 0,
      maxIterations: 200,
    });
    expect(Number.isFinite(model.intercept)).toBe(true);
    expect(Number.isFinite(model.coefficients[0])).toBe(true);
    expect(model.converged).toBe(false);
    expect(
      model.warnings.some((w) => w.includes('with l2 = 0 the maximum-likelihood coefficients are infinite')),
    ).toBe(true);
    expect(model.warnings.some((w) => w.startsWith('not converged after'))).toBe(true);
  });

  it('gives a constant feature scale 1 and coefficient 0, warns, and fits the rest as if it were absent', () => {
    const { rows, labels } = simulate(2_000, 21);
    const withConstant = rows.map((r) => [r[0] as number, 7, r[1] as number]);
    const model = fitLogistic(withConstant, labels, { featureNames: ['x1', 'always7', 'x2'] });
    expect(model.scales[1]).toBe(1);
    expect(model.coefficients[1]).toBe(0);
    expect(model.warnings).toEqual([
      'feature always7 is constant (7) in the training rows: scale set to 1, coefficient 0',
    ]);
    const without = fitLogistic(
      rows.map((r) => [r[0] as number, r[1] as number]),
      labels,
      { featureNames: ['x1', 'x2'] },
    );
    expect(model.intercept).toBeCloseTo(without.intercept, 10);
    expect(model.coefficients[0]).toBeCloseTo(without.coefficients[0] as number, 10);
    expect(model.coefficients[2]).toBeCloseTo(without.coefficients[1] as number, 10);
    expect(Number.isFinite(predictProbability(model, [0, 7, 5]))).toBe(true);
  });

  it('rejects one-class labels and malformed rows, naming what is wrong', () => {
    expect(() => fitLogistic([[1], [2]], [1, 1], { featureNames: ['x'] })).toThrow(
      /needs rows of both classes/,
    );
    expect(() => fitLogistic([[1], [Number.NaN]], [0, 1], { featureNames: ['x'] })).toThrow(
      /rows\[1\] feature x is NaN/,
    );
    expect(() => fitLogistic([[1, 2], [3]], [0, 1], { featureNames: ['x', 'y'] })).toThrow(
      /rows\[1\] has 1 values; expected 2/,
    );
  });
});
