import { describe, expect, it } from 'vitest';
import { calibrationByDecile, precisionRecallAt, rocAuc } from '../lib/models/metrics.js';

/*
 * Every expected value below is worked by hand from the definitions, not computed by the code under
 * test or by another library.
 *
 * The shared example, 4 positives and 3 negatives (12 positive/negative pairs):
 *   score  0.10 0.40 0.35 0.80 0.40 0.70 0.90
 *   label     0    0    1    1    1    0    1
 * Pairs (positive vs each negative 0.10 / 0.40 / 0.70), a win is 1, a tie 1/2, a loss 0:
 *   positive 0.35: win, loss, loss  = 1
 *   positive 0.80: win, win,  win   = 3
 *   positive 0.40: win, tie,  loss  = 1.5
 *   positive 0.90: win, win,  win   = 3
 * AUC = 8.5 / 12 = 0.708333...
 */
const scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.7, 0.9];
const labels: (0 | 1)[] = [0, 0, 1, 1, 1, 0, 1];

describe('rocAuc', () => {
  it('counts concordant pairs with ties as one half', () => {
    expect(rocAuc(scores, labels)).toBeCloseTo(8.5 / 12, 12);
  });

  it('does not depend on the order of the rows', () => {
    const order = [6, 2, 0, 5, 1, 4, 3];
    expect(
      rocAuc(
        order.map((i) => scores[i] as number),
        order.map((i) => labels[i] as 0 | 1),
      ),
    ).toBeCloseTo(8.5 / 12, 12);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, 1/2 when every score is tied', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1, 1])).toBe(0.5);
  });

  it('is undefined when a class is empty', () => {
    expect(rocAuc([0.1, 0.9], [1, 1])).toBeUndefined();
    expect(rocAuc([0.1, 0.9], [0, 0])).toBeUndefined();
    expect(rocAuc([], [])).toBeUndefined();
  });

  it('rejects mismatched lengths and non-finite scores, naming the argument', () => {
    expect(() => rocAuc([0.1], [0, 1])).toThrow(/1 scores and 2 labels/);
    expect(() => rocAuc([0.1, Number.NaN], [0, 1])).toThrow(/scores\[1\] is NaN/);
  });
});

describe('precisionRecallAt', () => {
  it('predicts positive at or above the threshold', () => {
    // Threshold 0.4: predicted positive are 0.40(0), 0.80(1), 0.40(1), 0.70(0), 0.90(1) = 5 rows,
    // of which 3 are positives; there are 4 positives. Precision 3/5, recall 3/4.
    expect(precisionRecallAt(scores, labels, 0.4)).toEqual({
      precision: 0.6,
      recall: 0.75,
      predictedPositive: 5,
      positives: 4,
    });
    // Threshold 0.75: 0.80 and 0.90, both positive. Precision 2/2, recall 2/4.
    expect(precisionRecallAt(scores, labels, 0.75)).toEqual({
      precision: 1,
      recall: 0.5,
      predictedPositive: 2,
      positives: 4,
    });
  });

  it('leaves precision undefined when nothing is predicted positive, recall when no positives', () => {
    expect(precisionRecallAt(scores, labels, 0.95)).toEqual({
      precision: undefined,
      recall: 0,
      predictedPositive: 0,
      positives: 4,
    });
    expect(precisionRecallAt([0.2, 0.7], [0, 0], 0.5)).toEqual({
      precision: 0,
      recall: undefined,
      predictedPositive: 1,
      positives: 0,
    });
  });
});

describe('calibrationByDecile', () => {
  it('puts n/10 rows in each decile when scores are distinct', () => {
    // 20 rows, scores 0.00, 0.05, ..., 0.95, label 1 on every second row: decile d (1-based) holds
    // the rows at sorted positions 2(d-1) and 2(d-1)+1, mean predicted (4(d-1)+1) x 0.025, observed 1/2.
    const s = Array.from({ length: 20 }, (_, i) => i * 0.05);
    const l = s.map((_, i) => (i % 2) as 0 | 1);
    const table = calibrationByDecile(s, l);
    expect(table).toHaveLength(10);
    table.forEach((row, index) => {
      expect(row.decile).toBe(index + 1);
      expect(row.count).toBe(2);
      expect(row.meanPredicted).toBeCloseTo((4 * index + 1) * 0.025, 12);
      expect(row.observedRate).toBe(0.5);
    });
  });

  it('keeps tied scores in one group, the decile of the tie run first row, and omits empty deciles', () => {
    // Sorted: 0.1 0.1 0.1 | 0.3 0.3 | 0.5 | 0.6 | 0.7 | 0.9 0.9  (n = 10, position i -> decile i + 1)
    //   0.1 at positions 0-2 -> decile 1: count 3, labels 0 0 1 -> observed 1/3
    //   0.3 at positions 3-4 -> decile 4: count 2, labels 0 1   -> observed 1/2
    //   0.5 at position 5    -> decile 6: count 1, label 1
    //   0.6 at position 6    -> decile 7: count 1, label 0
    //   0.7 at position 7    -> decile 8: count 1, label 1
    //   0.9 at positions 8-9 -> decile 9: count 2, labels 1 1  -> observed 1
    // Given shuffled, to show the table does not depend on row order.
    const s = [0.9, 0.1, 0.3, 0.6, 0.1, 0.7, 0.5, 0.3, 0.9, 0.1];
    const l: (0 | 1)[] = [1, 0, 0, 0, 1, 1, 1, 1, 1, 0];
    const table = calibrationByDecile(s, l);
    expect(table.map((r) => [r.decile, r.count])).toEqual([
      [1, 3],
      [4, 2],
      [6, 1],
      [7, 1],
      [8, 1],
      [9, 2],
    ]);
    [0.1, 0.3, 0.5, 0.6, 0.7, 0.9].forEach((mean, i) => {
      expect(table[i]?.meanPredicted).toBeCloseTo(mean, 12);
    });
    [1 / 3, 0.5, 1, 0, 1, 1].forEach((rate, i) => {
      expect(table[i]?.observedRate).toBeCloseTo(rate, 12);
    });
  });
});
