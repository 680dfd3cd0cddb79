import { kmeans } from 'ml-kmeans';

/**
 * K-Means customer segments on standardized features, with readable cluster names.
 *
 * The caller passes features already log-transformed (log1p); the model standardizes them to z-scores
 * with the fitted rows' mean and population standard deviation, so money in the thousands and counts
 * in the units weigh alike. Each run is a greedy k-means++ initialization (below) followed by
 * ml-kmeans's Lloyd iterations from those centres, `restarts` runs per k with seeds derived from
 * `seed`; the run with the lowest inertia is kept. k is fixed or chosen by the mean silhouette on a
 * seeded sample.
 *
 * Why our own k-means++: ml-kmeans's (v7) is deterministic given its `seed` option (it draws from
 * ml-random's XSadd seeded with it; only without a seed does it use Math.random), but it goes through
 * ml-matrix row copies and took about 0.55 s per run at 50,000 x 4 and k = 8, against about 7 ms per
 * Lloyd iteration: 30 runs (k = 3..8, 5 restarts) spent two thirds of their time initializing. The
 * same algorithm over flat arrays takes milliseconds. Given the centres, ml-kmeans draws no random
 * numbers at all, so a run depends on `seed` only.
 */
export interface KMeansModel {
  readonly featureNames: readonly string[];
  /** Standardization of the input features: z = (x - mean) / scale. */
  readonly means: readonly number[];
  readonly scales: readonly number[];
  /** In standardized units, ordered by cluster size, largest first. */
  readonly centroids: readonly (readonly number[])[];
  /** One readable, distinct name per cluster (see nameClusters). */
  readonly names: readonly string[];
  readonly k: number;
  /** Sum of squared standardized distances of the fitted rows to their centroid. */
  readonly inertia: number;
  /** Mean silhouette of the chosen k on the sample; undefined when it cannot be computed (k = 1). */
  readonly silhouette: number | undefined;
  /** Every k tried, with its best run's mean silhouette. */
  readonly silhouetteByK: readonly { k: number; silhouette: number }[];
  readonly restarts: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly seed: number;
}

export interface KMeansOptions {
  /** One name per column, e.g. ['log_recency_days', 'log_frequency', 'log_monetary', 'log_engagement']. */
  readonly featureNames: readonly string[];
  /** A fixed k; give this or kRange. */
  readonly k?: number;
  /** Choose k by mean silhouette within the range, both ends included; ties go to the smaller k. */
  readonly kRange?: readonly [number, number];
  /** @default 5 */
  readonly restarts?: number;
  readonly seed: number;
  /** Lloyd iterations per run. @default 100 */
  readonly maxIterations?: number;
  /** Silhouette is O(n^2): it is computed on a seeded sample of this many rows. @default 2000 */
  readonly silhouetteSample?: number;
}

/** mulberry32: a small seeded uniform source for the silhouette sample (no cryptographic need). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A well-mixed 32-bit seed for (seed, k, restart), so runs do not share initial draws. */
export function deriveSeed(seed: number, k: number, restart: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const part of [k, restart]) {
    h = Math.imul(h ^ part, 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

function squaredDistance(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const d = (a[j] as number) - (b[j] as number);
    s += d * d;
  }
  return s;
}

/** Index of the nearest centroid by squared Euclidean distance; ties go to the lowest index. */
function nearest(centroids: readonly (readonly number[])[], z: readonly number[]): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  centroids.forEach((c, index) => {
    const distance = squaredDistance(c, z);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = index;
    }
  });
  return best;
}

/**
 * Mean silhouette (Rousseeuw 1987) with Euclidean distance: s_i = (b_i - a_i) / max(a_i, b_i), a_i the
 * mean distance to the other members of i's cluster, b_i the smallest mean distance to another
 * cluster; a point alone in its cluster scores 0 (as scikit-learn does). Undefined with fewer than two
 * non-empty clusters.
 */
export function meanSilhouette(
  points: readonly (readonly number[])[],
  labels: readonly number[],
  k: number,
): number | undefined {
  const n = points.length;
  const sizes = new Array<number>(k).fill(0);
  for (const label of labels) sizes[label] = (sizes[label] as number) + 1;
  if (sizes.filter((s) => s > 0).length < 2) return undefined;
  let total = 0;
  const sums = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    const pi = points[i] as readonly number[];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const label = labels[j] as number;
      sums[label] = (sums[label] as number) + Math.sqrt(squaredDistance(pi, points[j] as readonly number[]));
    }
    const own = labels[i] as number;
    const ownSize = sizes[own] as number;
    if (ownSize <= 1) continue;
    const a = (sums[own] as number) / (ownSize - 1);
    let b = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      if (c === own || (sizes[c] as number) === 0) continue;
      b = Math.min(b, (sums[c] as number) / (sizes[c] as number));
    }
    const denominator = Math.max(a, b);
    total += denominator > 0 ? (b - a) / denominator : 0;
  }
  return total / n;
}

interface Run {
  readonly centroids: number[][];
  readonly labels: number[];
  readonly inertia: number;
  readonly iterations: number;
  readonly converged: boolean;
}

/**
 * Greedy k-means++ (Arthur and Vassilvitskii 2007, with scikit-learn's 2 + ln k local trials): each
 * next centre is the best of a few rows drawn with probability proportional to the squared distance
 * to the nearest centre so far, best meaning the lowest total squared distance afterwards.
 */
export function kmeansPlusPlus(data: readonly (readonly number[])[], k: number, seed: number): number[][] {
  const n = data.length;
  const random = mulberry32(seed);
  const first = Math.floor(random() * n);
  const centers: number[][] = [(data[first] as number[]).slice()];
  let closest = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    closest[i] = squaredDistance(data[i] as number[], centers[0] as number[]);
    total += closest[i] as number;
  }
  const trials = 2 + Math.floor(Math.log(k));
  let candidateDistances = new Float64Array(n);
  let bestDistances = new Float64Array(n);
  for (let c = 1; c < k; c++) {
    let bestIndex = -1;
    let bestTotal = Number.POSITIVE_INFINITY;
    for (let t = 0; t < trials; t++) {
      let index = n - 1;
      if (total > 0) {
        // Inverse-CDF draw over the squared distances.
        let target = random() * total;
        for (let i = 0; i < n; i++) {
          target -= closest[i] as number;
          if (target < 0) {
            index = i;
            break;
          }
        }
      } else {
        // Every row already sits on a centre (fewer distinct rows than k): any row will do.
        index = Math.floor(random() * n);
      }
      const candidate = data[index] as number[];
      let candidateTotal = 0;
      for (let i = 0; i < n; i++) {
        const distance = Math.min(closest[i] as number, squaredDistance(data[i] as number[], candidate));
        candidateDistances[i] = distance;
        candidateTotal += distance;
      }
      if (candidateTotal < bestTotal) {
        bestTotal = candidateTotal;
        bestIndex = index;
        [bestDistances, candidateDistances] = [candidateDistances, bestDistances];
      }
    }
    centers.push((data[bestIndex] as number[]).slice());
    [closest, bestDistances] = [bestDistances, closest];
    total = bestTotal;
  }
  return centers;
}

function bestRun(data: number[][], k: number, restarts: number, seed: number, maxIterations: number): Run {
  let best: Run | undefined;
  for (let r = 0; r < restarts; r++) {
    const result = kmeans(data, k, {
      initialization: kmeansPlusPlus(data, k, deriveSeed(seed, k, r)),
      maxIterations,
    });
    const centroids = result.centroids.map((c) => c.slice());
    if (centroids.some((c) => c.some((v) => !Number.isFinite(v)))) {
      throw new Error(
        `fitKMeans: k = ${k} gave a non-finite centroid; the rows may have fewer than ${k} distinct points`,
      );
    }
    // Assign to the final centroids (ml-kmeans's labels are from the step before its last update).
    const labels = data.map((z) => nearest(centroids, z));
    let inertia = 0;
    data.forEach((z, i) => {
      inertia += squaredDistance(z, centroids[labels[i] as number] as number[]);
    });
    if (best === undefined || inertia < best.inertia) {
      best = { centroids, labels, inertia, iterations: result.iterations, converged: result.converged };
    }
  }
  return best as Run;
}

function sampleIndices(n: number, size: number, seed: number): number[] {
  const indices = Array.from({ length: n }, (_, i) => i);
  if (size >= n) return indices;
  // Partial Fisher-Yates: the first `size` slots are a uniform sample without replacement.
  const random = mulberry32(deriveSeed(seed, 0, 0x51));
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = indices[i] as number;
    indices[i] = indices[j] as number;
    indices[j] = t;
  }
  return indices.slice(0, size).sort((a, b) => a - b);
}

function validate(rows: readonly (readonly number[])[], options: KMeansOptions): number[] {
  const d = options.featureNames.length;
  if (d === 0) throw new Error('fitKMeans: options.featureNames is empty; expected at least one feature');
  rows.forEach((row, i) => {
    if (row.length !== d) {
      throw new Error(
        `fitKMeans: rows[${i}] has ${row.length} values; expected ${d} (options.featureNames: ${options.featureNames.join(', ')})`,
      );
    }
    row.forEach((v, j) => {
      if (!Number.isFinite(v)) {
        throw new Error(
          `fitKMeans: rows[${i}] feature ${options.featureNames[j]} is ${v}; expected a finite number`,
        );
      }
    });
  });
  const isCount = (v: number) => Number.isInteger(v) && v >= 1;
  let ks: number[];
  if (options.k !== undefined && options.kRange !== undefined) {
    throw new Error('fitKMeans: got both options.k and options.kRange; expected one of them');
  } else if (options.k !== undefined) {
    if (!isCount(options.k))
      throw new Error(`fitKMeans: options.k is ${options.k}; expected an integer >= 1`);
    ks = [options.k];
  } else if (options.kRange !== undefined) {
    const [low, high] = options.kRange;
    if (!(isCount(low) && isCount(high) && low >= 2 && low <= high)) {
      throw new Error(
        `fitKMeans: options.kRange is [${low}, ${high}]; expected integers 2 <= low <= high (silhouette needs k >= 2)`,
      );
    }
    ks = Array.from({ length: high - low + 1 }, (_, i) => low + i);
  } else {
    throw new Error('fitKMeans: expected options.k or options.kRange');
  }
  const largest = Math.max(...ks);
  if (rows.length < largest) {
    throw new Error(`fitKMeans: got ${rows.length} rows; expected at least k = ${largest}`);
  }
  const restarts = options.restarts ?? 5;
  if (!isCount(restarts))
    throw new Error(`fitKMeans: options.restarts is ${restarts}; expected an integer >= 1`);
  if (!Number.isInteger(options.seed))
    throw new Error(`fitKMeans: options.seed is ${options.seed}; expected an integer`);
  return ks;
}

export function fitKMeans(rows: readonly (readonly number[])[], options: KMeansOptions): KMeansModel {
  const ks = validate(rows, options);
  const restarts = options.restarts ?? 5;
  const maxIterations = options.maxIterations ?? 100;
  const sampleSize = options.silhouetteSample ?? 2000;
  const d = options.featureNames.length;
  const n = rows.length;

  const means = new Array<number>(d).fill(0);
  const scales = new Array<number>(d).fill(1);
  for (let j = 0; j < d; j++) {
    let sum = 0;
    for (const row of rows) sum += row[j] as number;
    const mean = sum / n;
    let squares = 0;
    for (const row of rows) squares += ((row[j] as number) - mean) ** 2;
    const sd = Math.sqrt(squares / n);
    means[j] = mean;
    // A constant feature stays at z = 0 for every row (scale 1), so it adds nothing to any distance.
    if (sd > 1e-12 * Math.max(1, Math.abs(mean))) scales[j] = sd;
  }
  const data = rows.map((row) => row.map((v, j) => (v - (means[j] as number)) / (scales[j] as number)));

  // One sample for every k, so the silhouettes compare like with like.
  const sample = sampleIndices(n, sampleSize, options.seed);
  const samplePoints = sample.map((i) => data[i] as number[]);

  let chosen: { k: number; run: Run; silhouette: number | undefined } | undefined;
  const silhouetteByK: { k: number; silhouette: number }[] = [];
  for (const k of ks) {
    const run = bestRun(data, k, restarts, options.seed, maxIterations);
    const silhouette =
      k >= 2
        ? meanSilhouette(
            samplePoints,
            sample.map((i) => run.labels[i] as number),
            k,
          )
        : undefined;
    if (silhouette !== undefined) silhouetteByK.push({ k, silhouette });
    const better =
      chosen === undefined ||
      (silhouette !== undefined && (chosen.silhouette === undefined || silhouette > chosen.silhouette));
    if (better) chosen = { k, run, silhouette };
  }
  const { k, run, silhouette } = chosen as { k: number; run: Run; silhouette: number | undefined };

  // Largest cluster first, ties by centroid coordinates: an order that does not depend on which
  // restart found the solution.
  const sizes = new Array<number>(k).fill(0);
  for (const label of run.labels) sizes[label] = (sizes[label] as number) + 1;
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => {
    const bySize = (sizes[b] as number) - (sizes[a] as number);
    if (bySize !== 0) return bySize;
    const ca = run.centroids[a] as number[];
    const cb = run.centroids[b] as number[];
    for (let j = 0; j < d; j++) {
      const diff = (ca[j] as number) - (cb[j] as number);
      if (diff !== 0) return diff;
    }
    return 0;
  });
  const centroids = order.map((i) => run.centroids[i] as number[]);
  return {
    featureNames: options.featureNames.slice(),
    means,
    scales,
    centroids,
    names: nameClusters(centroids, options.featureNames),
    k,
    inertia: run.inertia,
    silhouette,
    silhouetteByK,
    restarts,
    iterations: run.iterations,
    converged: run.converged,
    seed: options.seed,
  };
}

/** Nearest centroid (squared Euclidean, standardized units); ties go to the lowest cluster index. */
export function assignCluster(model: KMeansModel, row: readonly number[]): number {
  if (row.length !== model.featureNames.length) {
    throw new Error(
      `assignCluster: got ${row.length} values; expected ${model.featureNames.length} (${model.featureNames.join(', ')})`,
    );
  }
  const z = row.map((v, j) => (v - (model.means[j] as number)) / (model.scales[j] as number));
  return nearest(model.centroids, z);
}

type Role = 'recency' | 'frequency' | 'monetary' | 'engagement';

/**
 * Which naming role a feature plays, from its name: recency, frequency, monetary (also "spend",
 * "revenue", "amount") or engagement. Other features are clustered on but not named.
 */
function roleOf(featureName: string): Role | undefined {
  const name = featureName.toLowerCase();
  if (name.includes('recency')) return 'recency';
  if (name.includes('frequency')) return 'frequency';
  if (/monetary|spend|revenue|amount/.test(name)) return 'monetary';
  if (name.includes('engagement')) return 'engagement';
  return undefined;
}

/**
 * Level thresholds in standardized units (z-scores of the log features): above +0.5 is "high", below
 * -0.5 is "low", between is the middle level. Half a standard deviation keeps the middle band about
 * the central 38% of a normal feature, so most clusters get a clear word and no cluster is called
 * high on a feature it is merely average on.
 */
export const NAME_THRESHOLD = 0.5;

type Level = 'low' | 'mid' | 'high';

function levelOf(z: number): Level {
  if (z > NAME_THRESHOLD) return 'high';
  if (z < -NAME_THRESHOLD) return 'low';
  return 'mid';
}

// Recency is days since the last order: a HIGH value is LESS recent.
const WORDS: Record<Role, Record<Level, string>> = {
  recency: { low: 'recently active', mid: 'lapsing', high: 'long inactive' },
  frequency: { low: 'one-time', mid: 'occasional', high: 'frequent' },
  monetary: { low: 'low spenders', mid: 'mid spenders', high: 'high spenders' },
  // The middle engagement level is left out of names.
  engagement: { low: 'unengaged', mid: '', high: 'highly engaged' },
};

// For clusters that still share a name: a comparison on the feature that separates them most, for
// two clusters [lower, higher], for more [lowest, any between, highest] (ordered by the z value).
const RELATIVE: Record<Role, { two: readonly [string, string]; many: readonly [string, string, string] }> = {
  recency: { two: ['more recent', 'less recent'], many: ['most recent', 'middle recency', 'least recent'] },
  frequency: {
    two: ['less frequent', 'more frequent'],
    many: ['least frequent', 'middle frequency', 'most frequent'],
  },
  monetary: { two: ['lower spend', 'higher spend'], many: ['lowest spend', 'middle spend', 'highest spend'] },
  engagement: {
    two: ['less engaged', 'more engaged'],
    many: ['least engaged', 'middle engagement', 'most engaged'],
  },
};

/**
 * One readable, distinct name per centroid (standardized units), from the features whose names say
 * what they are: "{frequency} {monetary}, {recency}[, {engagement}]", for example
 * "frequent high spenders, recently active". Engagement is named only when high or low.
 *
 * Names stay distinct within a model: clusters that share a name get a comparison on the feature whose
 * centroids differ most among them ("more recent" / "less recent"; for three or more "most recent",
 * "middle recency", "least recent"); clusters alike even then (identical centroids, several in the
 * middle) get a number.
 */
export function nameClusters(
  centroids: readonly (readonly number[])[],
  featureNames: readonly string[],
): string[] {
  const columns = new Map<Role, number>();
  featureNames.forEach((name, j) => {
    const role = roleOf(name);
    if (role !== undefined && !columns.has(role)) columns.set(role, j);
  });
  const level = (c: readonly number[], role: Role): Level | undefined => {
    const j = columns.get(role);
    return j === undefined ? undefined : levelOf(c[j] as number);
  };
  const names = centroids.map((c, index) => baseName(c, level, index));

  // Collisions: a comparison on the feature that separates the colliding clusters most.
  for (const group of collisions(names)) {
    let bestRole: Role | undefined;
    let bestSpread = 0;
    for (const [role, j] of columns) {
      const values = group.map((i) => (centroids[i] as number[])[j] as number);
      const spread = Math.max(...values) - Math.min(...values);
      if (spread > bestSpread) {
        bestSpread = spread;
        bestRole = role;
      }
    }
    if (bestRole === undefined) continue;
    const j = columns.get(bestRole) as number;
    const ranked = group
      .slice()
      .sort((a, b) => ((centroids[a] as number[])[j] as number) - ((centroids[b] as number[])[j] as number));
    const words = RELATIVE[bestRole];
    ranked.forEach((i, rank) => {
      const last = ranked.length - 1;
      const word =
        ranked.length === 2
          ? words.two[rank === 0 ? 0 : 1]
          : words.many[rank === 0 ? 0 : rank === last ? 2 : 1];
      names[i] = `${names[i]}, ${word}`;
    });
  }
  // Then identical centroids (or no nameable feature) get a number.
  for (const group of collisions(names)) {
    group.forEach((i, rank) => {
      names[i] = `${names[i]} (${rank + 1})`;
    });
  }
  return names;
}

function baseName(
  c: readonly number[],
  level: (c: readonly number[], role: Role) => Level | undefined,
  index: number,
): string {
  const frequency = level(c, 'frequency');
  const monetary = level(c, 'monetary');
  const recency = level(c, 'recency');
  const engagement = level(c, 'engagement');
  const head: string[] = [];
  if (frequency !== undefined) head.push(WORDS.frequency[frequency]);
  if (monetary !== undefined) head.push(WORDS.monetary[monetary]);
  else if (frequency !== undefined) head.push('customers');
  const parts: string[] = [];
  if (head.length > 0) parts.push(head.join(' '));
  if (recency !== undefined) parts.push(WORDS.recency[recency]);
  if (engagement !== undefined && engagement !== 'mid') parts.push(WORDS.engagement[engagement]);
  return parts.length > 0 ? parts.join(', ') : `cluster ${index + 1}`;
}

/** Groups (of two or more indices, in index order) of equal names. */
function collisions(names: readonly string[]): number[][] {
  const groups = new Map<string, number[]>();
  names.forEach((name, i) => {
    const group = groups.get(name);
    if (group === undefined) groups.set(name, [i]);
    else group.push(i);
  });
  return [...groups.values()].filter((g) => g.length > 1);
}
