import { kmeans } from 'ml-kmeans';
import { describe, expect, it } from 'vitest';
import { Rng } from '../lib/generate/rng.js';
import {
  assignCluster,
  fitKMeans,
  type KMeansModel,
  kmeansPlusPlus,
  meanSilhouette,
  nameClusters,
} from '../lib/models/kmeans.js';

/*
 * K-Means segments. Expected values come from how the data is generated (the true blobs), from
 * hand-worked silhouettes and distances, or from the naming rules (thresholds at +-0.5 standardized
 * units, documented in lib/models/kmeans.ts).
 */

const RFM = ['log_recency_days', 'log_frequency', 'log_monetary', 'log_engagement'];

/** `perBlob` points around each centre, isotropic normal noise of the given sd; returns the blob of each. */
function blobs(
  centres: readonly number[][],
  perBlob: number,
  sd: number,
  seed: number,
): { rows: number[][]; truth: number[] } {
  const rng = new Rng(seed, 'kmeans-test');
  const rows: number[][] = [];
  const truth: number[] = [];
  centres.forEach((centre, b) => {
    for (let i = 0; i < perBlob; i++) {
      rows.push(centre.map((c) => rng.normal(c, sd)));
      truth.push(b);
    }
  });
  return { rows, truth };
}

/** True when the clusters are the blobs up to relabelling: one cluster per blob, no two blobs share one. */
function samePartition(clusters: readonly number[], truth: readonly number[]): boolean {
  const blobToCluster = new Map<number, number>();
  const clusterToBlob = new Map<number, number>();
  for (let i = 0; i < truth.length; i++) {
    const b = truth[i] as number;
    const c = clusters[i] as number;
    if ((blobToCluster.get(b) ?? c) !== c || (clusterToBlob.get(c) ?? b) !== b) return false;
    blobToCluster.set(b, c);
    clusterToBlob.set(c, b);
  }
  return true;
}

describe('fitKMeans on seeded blobs', () => {
  // Four blobs in four dimensions, centres 6 apart on some axis, noise sd 0.5: well separated.
  const centres = [
    [0, 0, 0, 0],
    [6, 0, 0, 6],
    [0, 6, 6, 0],
    [6, 6, 0, 0],
  ];
  const { rows, truth } = blobs(centres, 300, 0.5, 1);

  it('chooses the true k by silhouette within kRange and recovers every blob', () => {
    const model = fitKMeans(rows, { featureNames: RFM, kRange: [2, 7], seed: 42 });
    expect(model.k).toBe(4);
    expect(model.silhouetteByK.map((s) => s.k)).toEqual([2, 3, 4, 5, 6, 7]);
    const best = Math.max(...model.silhouetteByK.map((s) => s.silhouette));
    expect(model.silhouette).toBe(best);
    // Blobs this far apart have a mean silhouette near 1 at the true k.
    expect(model.silhouette).toBeGreaterThan(0.8);
    expect(
      samePartition(
        rows.map((r) => assignCluster(model, r)),
        truth,
      ),
    ).toBe(true);
    expect(model.converged).toBe(true);
    expect(model.restarts).toBe(5);
    expect(new Set(model.names).size).toBe(4);
  });

  it('is deterministic for a seed', () => {
    const a = fitKMeans(rows, { featureNames: RFM, kRange: [2, 5], seed: 7, silhouetteSample: 300 });
    const b = fitKMeans(rows, { featureNames: RFM, kRange: [2, 5], seed: 7, silhouetteSample: 300 });
    expect(b).toEqual(a);
  });

  it('depends on the seed where the data leave a choice (so the determinism above is not vacuous)', () => {
    // Structureless uniform noise, one restart: different seeds start k-means++ from different rows.
    const rng = new Rng(3, 'uniform');
    const noise = Array.from({ length: 400 }, () => [rng.next(), rng.next()]);
    const fits = [1, 2, 3, 4, 5].map((seed) =>
      fitKMeans(noise, { featureNames: ['a', 'b'], k: 5, restarts: 1, seed }),
    );
    const distinct = new Set(fits.map((f) => JSON.stringify(f.centroids)));
    expect(distinct.size).toBeGreaterThan(1);
    expect(fitKMeans(noise, { featureNames: ['a', 'b'], k: 5, restarts: 1, seed: 3 })).toEqual(fits[2]);
  });

  it('keeps the lowest-inertia restart', () => {
    const rng = new Rng(4, 'uniform');
    const noise = Array.from({ length: 400 }, () => [rng.next(), rng.next()]);
    const one = [11, 12, 13].map(
      (seed) => fitKMeans(noise, { featureNames: ['a', 'b'], k: 6, restarts: 1, seed }).inertia,
    );
    const many = fitKMeans(noise, { featureNames: ['a', 'b'], k: 6, restarts: 20, seed: 11 });
    expect(many.inertia).toBeLessThanOrEqual(Math.min(...one) + 1e-9);
  });
});

describe('standardization', () => {
  /*
   * Two groups that differ only in their order count (2 vs 20), and money in the thousands,
   * N(5000, 1500), that has nothing to do with the groups. Unscaled, money's variance (2.25e6)
   * dwarfs the count's (81), so 2-means splits on money and cuts through both groups. Standardized,
   * both features have variance 1; splitting the two point masses removes all of the count's
   * variance (gain 1), splitting a normal at its mean only 2/pi = 0.64 of it, so 2-means splits on
   * the count: the groups come back, with count centroids at z = -1 and +1 and money near z = 0.
   */
  const rng = new Rng(5, 'scales');
  const rows: number[][] = [];
  const group: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const g = i % 2;
    rows.push([rng.normal(5000, 1500), (g === 0 ? 2 : 20) + rng.normal(0, 0.1)]);
    group.push(g);
  }

  it('unscaled k-means would split on money alone', () => {
    const raw = kmeans(rows, 2, { initialization: kmeansPlusPlus(rows, 2, 1) });
    expect(samePartition(raw.clusters, group)).toBe(false);
    // The split is along money: the centroids differ by thousands in money, barely in count.
    const [c0, c1] = raw.centroids as [number[], number[]];
    expect(Math.abs((c0[0] as number) - (c1[0] as number))).toBeGreaterThan(1500);
    expect(Math.abs((c0[1] as number) - (c1[1] as number))).toBeLessThan(3);
  });

  it('standardized k-means splits on the count, with centroids at z = -1 and +1', () => {
    const model = fitKMeans(rows, { featureNames: ['log_monetary', 'log_frequency'], k: 2, seed: 9 });
    expect(
      samePartition(
        rows.map((r) => assignCluster(model, r)),
        group,
      ),
    ).toBe(true);
    const countZ = model.centroids.map((c) => c[1] as number).sort((a, b) => a - b);
    expect(countZ[0]).toBeCloseTo(-1, 2);
    expect(countZ[1]).toBeCloseTo(1, 2);
    for (const c of model.centroids) expect(Math.abs(c[0] as number)).toBeLessThan(0.15);
    // The standardization is the sample's own mean and population sd, computed here from the rows.
    const mean = rows.reduce((sum, r) => sum + (r[0] as number), 0) / rows.length;
    const sd = Math.sqrt(rows.reduce((sum, r) => sum + ((r[0] as number) - mean) ** 2, 0) / rows.length);
    expect(model.means[0]).toBeCloseTo(mean, 6);
    expect(model.scales[0]).toBeCloseTo(sd, 6);
    // Count 2 vs 20 in equal groups (+- noise of sd 0.1): mean 11, population sd 9.
    expect(model.means[1]).toBeCloseTo(11, 1);
    expect(model.scales[1]).toBeCloseTo(9, 1);
  });
});

describe('meanSilhouette', () => {
  it('matches a hand-worked example', () => {
    // Points 0, 1 | 10, 11. Each point's a = 1 (its one neighbour). b: for 0, mean(10, 11) = 10.5;
    // for 1, mean(9, 10) = 9.5; for 10, mean(10, 9) = 9.5; for 11, mean(11, 10) = 10.5.
    // s = (b - a) / b: 9.5/10.5, 8.5/9.5, 8.5/9.5, 9.5/10.5; mean = (9.5/10.5 + 8.5/9.5) / 2.
    const s = meanSilhouette([[0], [1], [10], [11]], [0, 0, 1, 1], 2);
    expect(s).toBeCloseTo((9.5 / 10.5 + 8.5 / 9.5) / 2, 12);
  });

  it('scores a point alone in its cluster 0 and is undefined with one cluster', () => {
    // Points 0, 1 | 10: the singleton scores 0; 0 and 1 as above with b = 10 and 9:
    // (9/10 + 8/9 + 0) / 3.
    expect(meanSilhouette([[0], [1], [10]], [0, 0, 1], 2)).toBeCloseTo((9 / 10 + 8 / 9) / 3, 12);
    expect(meanSilhouette([[0], [1]], [0, 0], 2)).toBeUndefined();
  });
});

describe('assignCluster', () => {
  const model: KMeansModel = {
    featureNames: ['a', 'b'],
    means: [100, 2],
    scales: [50, 1],
    centroids: [
      [1, 0],
      [-1, 0],
      [0, 2],
    ],
    names: ['x', 'y', 'z'],
    k: 3,
    inertia: 0,
    silhouette: undefined,
    silhouetteByK: [],
    restarts: 1,
    iterations: 1,
    converged: true,
    seed: 0,
  };

  it('standardizes the row and takes the nearest centroid, ties to the lowest index', () => {
    // (150, 2) -> z = (1, 0): on centroid 0.
    expect(assignCluster(model, [150, 2])).toBe(0);
    // (60, 2.1) -> z = (-0.8, 0.1): squared distances 3.25, 0.05, 4.25 -> 1.
    expect(assignCluster(model, [60, 2.1])).toBe(1);
    // (100, 4) -> z = (0, 2): on centroid 2.
    expect(assignCluster(model, [100, 4])).toBe(2);
    // (100, 2) -> z = (0, 0): distance 1 to centroids 0 and 1, 4 to 2; the tie goes to 0.
    expect(assignCluster(model, [100, 2])).toBe(0);
    expect(() => assignCluster(model, [1])).toThrow(/expected 2 \(a, b\)/);
  });
});

describe('nameClusters', () => {
  it('names each profile by the documented thresholds (+-0.5 standardized units)', () => {
    // Recency is days since the last order: NEGATIVE z is MORE recent.
    const names = nameClusters(
      [
        [-1.2, 1.5, 1.3, 0.9], // recency low, frequency high, monetary high, engagement high
        [1.4, -0.9, -0.8, -1.0], // all the other way
        [0.1, 0.2, 0.0, 0.1], // everything in the middle band: engagement left out
        [-0.6, -0.7, 0.6, 0.4], // recent one-time buyers who spent a lot
      ],
      RFM,
    );
    expect(names).toEqual([
      'frequent high spenders, recently active, highly engaged',
      'one-time low spenders, long inactive, unengaged',
      'occasional mid spenders, lapsing',
      'one-time high spenders, recently active',
    ]);
  });

  it('adds the feature that tells two coinciding clusters apart', () => {
    // Both "occasional mid spenders, lapsing"; they differ most on monetary (0.0 vs -0.4).
    const names = nameClusters(
      [
        [0.1, 0.2, 0.0, 0.1],
        [0.0, 0.1, -0.4, 0.0],
        [-1.0, 1.0, 1.0, 0.0],
      ],
      RFM,
    );
    expect(names).toEqual([
      'occasional mid spenders, lapsing, higher spend',
      'occasional mid spenders, lapsing, lower spend',
      'frequent high spenders, recently active',
    ]);
  });

  it('ranks three coinciding clusters and numbers identical ones', () => {
    // Three "lapsing ..." clusters differing most on recency (0.4 > 0.3 > ... spreads):
    // recency 0.4, -0.4, 0.0 -> least recent, most recent, middle recency.
    const three = nameClusters(
      [
        [0.4, 0.0, 0.0, 0.0],
        [-0.4, 0.1, 0.0, 0.0],
        [0.0, 0.0, 0.1, 0.0],
      ],
      RFM,
    );
    expect(three).toEqual([
      'occasional mid spenders, lapsing, least recent',
      'occasional mid spenders, lapsing, most recent',
      'occasional mid spenders, lapsing, middle recency',
    ]);
    const identical = nameClusters(
      [
        [1, 1, 1, 1],
        [1, 1, 1, 1],
      ],
      RFM,
    );
    expect(identical).toEqual([
      'frequent high spenders, long inactive, highly engaged (1)',
      'frequent high spenders, long inactive, highly engaged (2)',
    ]);
  });

  it('names from whichever features are present and falls back to numbers', () => {
    expect(
      nameClusters(
        [
          [1, -1],
          [-1, 1],
        ],
        ['log_frequency', 'log_recency_days'],
      ),
    ).toEqual(['frequent customers, recently active', 'one-time customers, long inactive']);
    expect(nameClusters([[1], [-1]], ['total_spend'])).toEqual(['high spenders', 'low spenders']);
    expect(nameClusters([[1], [-1]], ['x'])).toEqual(['cluster 1', 'cluster 2']);
  });

  it('gives every fitted model distinct names', () => {
    const { rows } = blobs(
      [
        [0, 0, 0, 0],
        [0.3, 0.3, 0.3, 0.3],
        [5, 5, 5, 5],
      ],
      100,
      0.1,
      8,
    );
    const model = fitKMeans(rows, { featureNames: RFM, k: 3, seed: 1 });
    expect(new Set(model.names).size).toBe(3);
  });
});

describe('fitKMeans input errors', () => {
  it('names the option or row that is wrong', () => {
    const rows = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    expect(() => fitKMeans(rows, { featureNames: ['a', 'b'], seed: 1 })).toThrow(
      /expected options.k or options.kRange/,
    );
    expect(() => fitKMeans(rows, { featureNames: ['a', 'b'], kRange: [1, 3], seed: 1 })).toThrow(
      /options.kRange is \[1, 3\]/,
    );
    expect(() => fitKMeans(rows, { featureNames: ['a', 'b'], k: 4, seed: 1 })).toThrow(
      /got 3 rows; expected at least k = 4/,
    );
    expect(() => fitKMeans([[1, 2], [3]], { featureNames: ['a', 'b'], k: 1, seed: 1 })).toThrow(
      /rows\[1\] has 1 values; expected 2/,
    );
    expect(() => fitKMeans([[1, Number.NaN]], { featureNames: ['a', 'b'], k: 1, seed: 1 })).toThrow(
      /rows\[0\] feature b is NaN/,
    );
  });
});
