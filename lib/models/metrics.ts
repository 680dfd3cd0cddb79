/**
 * Evaluation metrics for a binary classifier's scores: ROC AUC, precision and recall at a threshold,
 * and a calibration table by decile. Pure functions over plain arrays; the caller decides which rows
 * (the holdout customers of the later period) are evaluated.
 */

function checkInputs(scores: readonly number[], labels: readonly (0 | 1)[], what: string): void {
  if (scores.length !== labels.length) {
    throw new Error(
      `${what}: got ${scores.length} scores and ${labels.length} labels; expected one label per score`,
    );
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new Error(`${what}: scores[${i}] is ${scores[i]}; expected a finite number`);
    }
    if (labels[i] !== 0 && labels[i] !== 1) {
      throw new Error(`${what}: labels[${i}] is ${String(labels[i])}; expected 0 or 1`);
    }
  }
}

/**
 * Area under the ROC curve by the Mann-Whitney rank statistic, ties counted as one half; undefined
 * when a class is empty.
 *
 * AUC = (R1 - n1 (n1 + 1) / 2) / (n1 n0), with R1 the sum of the positives' ranks among all scores
 * and tied scores sharing their mid-rank, which is exactly P(score of a random positive > score of a
 * random negative) + P(equal) / 2. O(n log n), so a holdout of millions needs no sampling.
 */
export function rocAuc(scores: readonly number[], labels: readonly (0 | 1)[]): number | undefined {
  checkInputs(scores, labels, 'rocAuc');
  const n = scores.length;
  let positives = 0;
  for (const label of labels) positives += label;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return undefined;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  let rankSumPositives = 0;
  let start = 0;
  while (start < n) {
    let end = start;
    const value = scores[order[start] as number];
    while (end + 1 < n && scores[order[end + 1] as number] === value) end++;
    // Ranks are 1-based: the tie run occupies ranks start+1 .. end+1.
    const midRank = (start + end + 2) / 2;
    for (let j = start; j <= end; j++) {
      if (labels[order[j] as number] === 1) rankSumPositives += midRank;
    }
    start = end + 1;
  }
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface PrecisionRecall {
  /** True positives / predicted positives; undefined when nothing is predicted positive. */
  readonly precision: number | undefined;
  /** True positives / actual positives; undefined when there are no positives. */
  readonly recall: number | undefined;
  /** Rows with score >= threshold. */
  readonly predictedPositive: number;
  /** Rows labelled 1. */
  readonly positives: number;
}

/** Precision and recall when every row scoring at or above `threshold` is predicted positive. */
export function precisionRecallAt(
  scores: readonly number[],
  labels: readonly (0 | 1)[],
  threshold: number,
): PrecisionRecall {
  checkInputs(scores, labels, 'precisionRecallAt');
  if (Number.isNaN(threshold)) throw new Error('precisionRecallAt: threshold is NaN; expected a number');
  let predictedPositive = 0;
  let positives = 0;
  let truePositives = 0;
  for (let i = 0; i < scores.length; i++) {
    const predicted = (scores[i] as number) >= threshold;
    const actual = labels[i] === 1;
    if (predicted) predictedPositive++;
    if (actual) positives++;
    if (predicted && actual) truePositives++;
  }
  return {
    precision: predictedPositive === 0 ? undefined : truePositives / predictedPositive,
    recall: positives === 0 ? undefined : truePositives / positives,
    predictedPositive,
    positives,
  };
}

export interface CalibrationRow {
  /** 1 = the lowest predicted scores, 10 = the highest. */
  readonly decile: number;
  readonly count: number;
  readonly meanPredicted: number;
  readonly observedRate: number;
}

/**
 * Ten groups by predicted score: count, mean predicted, observed rate.
 *
 * Rows are sorted by score ascending; the row at sorted position i (0-based) of n belongs to decile
 * floor(10 i / n) + 1, except that tied scores are kept in one group: every row of a run of equal
 * scores takes the decile of the run's first row (a group never splits a tie, so the table does not
 * depend on the input order). Deciles left empty by that, or by n < 10, are omitted, so the result
 * has at most ten rows, in decile order. Scores are expected to be probabilities, but any finite
 * numbers work.
 */
export function calibrationByDecile(
  scores: readonly number[],
  labels: readonly (0 | 1)[],
): readonly CalibrationRow[] {
  checkInputs(scores, labels, 'calibrationByDecile');
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  const count = new Array<number>(10).fill(0);
  const sumPredicted = new Array<number>(10).fill(0);
  const sumObserved = new Array<number>(10).fill(0);
  let runDecile = 0;
  for (let i = 0; i < n; i++) {
    const row = order[i] as number;
    const score = scores[row] as number;
    const startsRun = i === 0 || score !== scores[order[i - 1] as number];
    if (startsRun) runDecile = Math.floor((10 * i) / n);
    count[runDecile] = (count[runDecile] as number) + 1;
    sumPredicted[runDecile] = (sumPredicted[runDecile] as number) + score;
    sumObserved[runDecile] = (sumObserved[runDecile] as number) + (labels[row] as number);
  }
  const rows: CalibrationRow[] = [];
  for (let d = 0; d < 10; d++) {
    const c = count[d] as number;
    if (c === 0) continue;
    rows.push({
      decile: d + 1,
      count: c,
      meanPredicted: (sumPredicted[d] as number) / c,
      observedRate: (sumObserved[d] as number) / c,
    });
  }
  return rows;
}
