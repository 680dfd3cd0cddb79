import { z } from 'zod';
import type { Customer360Config } from '../config/schema.js';
import {
  CHURN_BGNBD_FEATURES,
  CHURN_SQL_FEATURES,
  KMEANS_FEATURES,
  modelBgnbdInputs,
  modelClvByTriple,
  modelParameters,
  modelRuns,
  modelSamples,
} from '../schema/marts/models.js';
import type { TableSchema } from '../schema/types.js';
import {
  type BgnbdParams,
  conditionalExpectedPurchases,
  discountedExpectedPurchases,
  type FitDiagnostics,
  fitBgnbd,
  pAlive,
} from './bgnbd.js';
import { fitGammaGamma, populationMeanSpend } from './gamma-gamma.js';
import { assignCluster, fitKMeans } from './kmeans.js';
import { fitLogistic, type LogisticModel, predictProbability } from './logistic.js';
import { calibrationByDecile, precisionRecallAt, rocAuc } from './metrics.js';
import { type ObjectStore, type Row, readRows, writeRows } from './parquet.js';
import { ensureSpecialFunctions } from './special.js';

/** What the state machine passes to `Fit models`: the run whose model inputs to read and outputs to write. */
export const fitModelsInputSchema = z.strictObject({
  runDate: z.iso.date({ message: 'expected runDate as YYYY-MM-DD' }),
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected a run id of 1-80 letters, digits, - or _'),
});
export type FitModelsInput = z.infer<typeof fitModelsInputSchema>;

export interface FitModelsDeps {
  readonly config: Customer360Config;
  /** The analytics bucket (a folder of the lake locally). */
  readonly analyticsBucket: string;
  readonly store: ObjectStore;
}

export type ModelName = 'bgnbd' | 'gamma_gamma' | 'churn' | 'kmeans';
export type ModelStatus =
  | 'ok'
  | 'degenerate'
  | 'not_converged'
  | 'insufficient_data'
  | 'underperforms_baseline';
type CutoffRole = 'score' | 'evaluate' | 'train';

/** One model_runs row, as the state's result summarizes it. */
export interface ModelRunSummary {
  readonly model: ModelName;
  readonly cutoffRole: CutoffRole;
  readonly status: ModelStatus;
  readonly isTrustworthy: boolean;
  readonly warnings: readonly string[];
  readonly seconds: number;
}

/** Small on purpose: it travels in the state payload (256 KB cap); the details are in model_runs. */
export interface FitModelsResult {
  readonly models: readonly ModelRunSummary[];
  readonly triples: number;
  readonly seconds: number;
}

/** A sample row whose features read data from after its cutoff: the model would learn the future. */
export class FeatureLeakError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeatureLeak';
  }
}

const MIN_CHURN_ROWS = 50;
/** The sample columns the fits read: decoding only these is most of the Lambda's reading time saved. */
const SAMPLE_COLUMNS = [
  ...new Set([
    'purpose',
    'cutoff_date',
    'customer_id',
    'sample_hash',
    'repeat_purchases',
    'recency_units',
    'age_units',
    'mean_repeat_spend',
    'days_since_last_purchase',
    'last_feature_event_at',
    'is_churned',
    ...CHURN_SQL_FEATURES,
    ...KMEANS_FEATURES,
  ]),
];
const MIN_KMEANS_ROWS = 20;

/**
 * Fits the run's models from the inputs SQL wrote into the run's own location (model_bgnbd_inputs,
 * model_samples) and writes model_runs, model_parameters and model_clv_by_triple there, for the
 * scoring SQL to join back in. Idempotent: each output location is emptied and written whole, so a
 * retried task replaces its own attempt.
 */
export async function fitModels(input: FitModelsInput, deps: FitModelsDeps): Promise<FitModelsResult> {
  const started = performance.now();
  await ensureSpecialFunctions();
  const { config, store, analyticsBucket } = deps;
  const at = (table: TableSchema) => `${table.location}run_date=${input.runDate}/run_id=${input.runId}/`;
  // Sorted: SQL writes rows in no particular order, and floating-point sums (and so the optimizer's
  // path) depend on it; a rerun of the same data must fit the same numbers.
  const triples = sortBy(await readRows(store, analyticsBucket, at(modelBgnbdInputs)), [
    'cutoff_role',
    'repeat_purchases',
    'recency_units',
    'age_units',
  ]);
  const samples = sortBy(await readRows(store, analyticsBucket, at(modelSamples), SAMPLE_COLUMNS), [
    'purpose',
    'sample_hash',
    'customer_id',
  ]);
  checkNoLeak(samples);

  const unitWeeks = (config.models.clv.timeResolution === 'week' ? 7 : 1) / 7;
  const runs: ModelRunRow[] = [];
  const parameters: Row[] = [];

  // ---------------------------------------------------------------- BG/NBD at each cutoff
  const bgnbd = new Map<CutoffRole, BgnbdParams | undefined>();
  for (const role of ['train', 'evaluate', 'score'] as const) {
    const rows = triples.filter((t) => t.cutoff_role === role && num(t.fit_customers) > 0);
    // A literal of one shape: the likelihood reads these fields millions of times, and objects built by
    // spreading took the fit from about 1 s to 5 s at a million customers.
    const data = rows.map((t) => {
      const { x, tx, T } = xtT(t, unitWeeks);
      return { x, tx, T, n: num(t.fit_customers) };
    });
    const cutoffDate = String(rows[0]?.cutoff_date ?? cutoffOf(input.runDate, role, config));
    const fitStarted = performance.now();
    const customers = sum(data.map((d) => d.n));
    const fitted = data.some((d) => d.x > 0) ? fitBgnbd(data) : undefined;
    const diagnostics: FitDiagnostics = fitted?.diagnostics ?? {
      logLikelihood: Number.NaN,
      converged: false,
      iterations: 0,
      boundary: [],
      status: 'insufficient_data',
      warnings: ['no repeat purchase before the cutoff: BG/NBD cannot be fitted'],
    };
    const usable = fitted && diagnostics.status !== 'insufficient_data' ? fitted.params : undefined;
    bgnbd.set(role, usable);
    runs.push({
      model: 'bgnbd',
      cutoff_role: role,
      cutoff_date: cutoffDate,
      status: diagnostics.status,
      is_trustworthy: diagnostics.status === 'ok',
      fitted_rows: data.length,
      customers,
      parameters: usable ? JSON.stringify(usable) : null,
      diagnostics: JSON.stringify(finiteJson(diagnostics)),
      metrics: role === 'score' ? null : JSON.stringify(holdoutCheck(rows, usable, config, unitWeeks)),
      warnings: [...diagnostics.warnings, ...diagnostics.boundary],
      fit_seconds: seconds(fitStarted),
    });
  }

  // ---------------------------------------------------------------- Gamma-Gamma on the spend sample
  const spendRows = samples.filter((s) => s.purpose === 'spend');
  {
    const fitStarted = performance.now();
    const data = spendRows.map((s) => ({ x: num(s.repeat_purchases), mbar: num(s.mean_repeat_spend) }));
    const fitted = data.length > 0 ? fitGammaGamma(data) : undefined;
    const status: ModelStatus = fitted?.diagnostics.status ?? 'insufficient_data';
    const modelMean = fitted && status === 'ok' ? populationMeanSpend(fitted.params) : undefined;
    const empiricalMean = data.length > 0 ? sum(data.map((d) => d.mbar)) / data.length : 0;
    const warnings = [...(fitted?.diagnostics.warnings ?? ['no repeat buyer to fit Gamma-Gamma on'])];
    if (modelMean === undefined)
      warnings.push('population mean spend is the sample mean of repeat spend, not the model mean');
    if (fitted && status === 'ok') {
      for (const name of ['p', 'q', 'v'] as const)
        parameters.push(parameter('gamma_gamma', name, fitted.params[name]));
    }
    parameters.push(parameter('gamma_gamma', 'population_mean_spend', modelMean ?? empiricalMean));
    runs.push({
      model: 'gamma_gamma',
      cutoff_role: 'score',
      cutoff_date: input.runDate,
      status,
      is_trustworthy: status === 'ok',
      fitted_rows: data.length,
      customers: data.length,
      parameters: fitted ? JSON.stringify(fitted.params) : null,
      diagnostics: fitted ? JSON.stringify(finiteJson(fitted.diagnostics)) : null,
      metrics: null,
      warnings: [...warnings, ...(fitted?.diagnostics.boundary ?? [])],
      fit_seconds: seconds(fitStarted),
    });
  }

  // ---------------------------------------------------------------- churn: train, evaluate, refit
  runs.push(fitChurn(samples, bgnbd, config, unitWeeks, input.runDate, parameters));

  // ---------------------------------------------------------------- K-Means
  runs.push(fitSegments(samples, config, input.runDate, parameters));

  // ---------------------------------------------------------------- scores per distinct triple
  const scoreParams = bgnbd.get('score');
  const scoreTriples: Row[] = [];
  if (scoreParams) {
    const { shortHorizonDays, longHorizonDays, lifetimeHorizonDays, annualDiscountRate } = config.models.clv;
    const horizonWeeks = config.models.churn.horizonDays / 7;
    for (const t of triples.filter((row) => row.cutoff_role === 'score')) {
      const { x, tx, T } = xtT(t, unitWeeks);
      scoreTriples.push({
        repeat_purchases: x,
        recency_units: num(t.recency_units),
        age_units: num(t.age_units),
        p_alive: pAlive(scoreParams, x, tx, T),
        expected_purchases_short: conditionalExpectedPurchases(scoreParams, shortHorizonDays / 7, x, tx, T),
        expected_purchases_long: conditionalExpectedPurchases(scoreParams, longHorizonDays / 7, x, tx, T),
        expected_purchases_churn_horizon: conditionalExpectedPurchases(scoreParams, horizonWeeks, x, tx, T),
        discounted_expected_purchases: discountedExpectedPurchases(
          scoreParams,
          x,
          tx,
          T,
          lifetimeHorizonDays / 7,
          annualDiscountRate,
        ),
      });
    }
  }

  await replace(store, analyticsBucket, at(modelRuns), modelRuns, runs.map(runRow));
  await replace(store, analyticsBucket, at(modelParameters), modelParameters, parameters);
  await replace(store, analyticsBucket, at(modelClvByTriple), modelClvByTriple, scoreTriples);
  return {
    models: runs.map((r) => ({
      model: r.model,
      cutoffRole: r.cutoff_role,
      status: r.status,
      isTrustworthy: r.is_trustworthy,
      warnings: r.warnings,
      seconds: r.fit_seconds,
    })),
    triples: scoreTriples.length,
    seconds: seconds(started),
  };
}

interface ModelRunRow {
  readonly model: ModelName;
  readonly cutoff_role: CutoffRole;
  readonly cutoff_date: string;
  readonly status: ModelStatus;
  readonly is_trustworthy: boolean;
  readonly fitted_rows: number;
  readonly customers: number;
  readonly parameters: string | null;
  readonly diagnostics: string | null;
  readonly metrics: string | null;
  readonly warnings: readonly string[];
  readonly fit_seconds: number;
}

function runRow(run: ModelRunRow): Row {
  // Timing stays out of the table: a rerun of the same data must write identical rows.
  const { fit_seconds: _seconds, ...row } = run;
  return { ...row, warnings: run.warnings.length > 0 ? run.warnings.join('; ') : null };
}

/** Every feature must come from on or before its row's cutoff; the label alone looks later. */
export function checkNoLeak(samples: readonly Row[]): void {
  for (const row of samples) {
    const cutoffEnd = Date.parse(`${String(row.cutoff_date)}T00:00:00Z`) + 86_400_000;
    const last = Date.parse(String(row.last_feature_event_at));
    if (!(last < cutoffEnd)) {
      throw new FeatureLeakError(
        `model_samples row for customer ${row.customer_id} (${row.purpose}, cutoff ${row.cutoff_date}) has a feature built from ${row.last_feature_event_at}, after its cutoff: the model would be trained on the future. Fix sql/marts/model_features.sql.`,
      );
    }
  }
}

/** The churn model's feature vector of a sample row, with BG/NBD figures from the fit at its cutoff. */
function churnFeatures(row: Row, params: BgnbdParams | undefined, horizonWeeks: number, unitWeeks: number) {
  const values = CHURN_SQL_FEATURES.map((f) => num(row[f]));
  if (!params) return values;
  const { x, tx, T } = xtT(row, unitWeeks);
  return [...values, Math.log1p(conditionalExpectedPurchases(params, horizonWeeks, x, tx, T))];
}

function fitChurn(
  samples: readonly Row[],
  bgnbd: ReadonlyMap<CutoffRole, BgnbdParams | undefined>,
  config: Customer360Config,
  unitWeeks: number,
  runDate: string,
  parameters: Row[],
): ModelRunRow {
  const started = performance.now();
  const { horizonDays, l2, threshold } = config.models.churn;
  const horizonWeeks = horizonDays / 7;
  const train = samples.filter((s) => s.purpose === 'churn_train');
  const evaluate = samples.filter((s) => s.purpose === 'churn_evaluate');
  const refit = samples.filter((s) => s.purpose === 'churn_refit');
  const trainParams = bgnbd.get('train');
  const evaluateParams = bgnbd.get('evaluate');
  // BG/NBD features only when both cutoffs have a fit: a feature must mean the same at training and use.
  const withBgnbd = trainParams !== undefined && evaluateParams !== undefined;
  const featureNames = [...CHURN_SQL_FEATURES, ...(withBgnbd ? CHURN_BGNBD_FEATURES : [])];
  const labels = (rows: readonly Row[]) => rows.map((r) => (r.is_churned === true ? 1 : 0) as 0 | 1);
  const base = {
    model: 'churn' as const,
    cutoff_role: 'evaluate' as const,
    cutoff_date: String(refit[0]?.cutoff_date ?? cutoffOf(runDate, 'evaluate', config)),
    fitted_rows: train.length + refit.length,
    customers: refit.length,
  };
  const classes = (rows: readonly Row[]) => new Set(labels(rows)).size;
  if (
    train.length < MIN_CHURN_ROWS ||
    evaluate.length < MIN_CHURN_ROWS ||
    classes(train) < 2 ||
    classes(evaluate) < 2 ||
    classes(refit) < 2
  ) {
    return {
      ...base,
      status: 'insufficient_data',
      is_trustworthy: false,
      parameters: null,
      diagnostics: null,
      metrics: JSON.stringify({ trainRows: train.length, evaluateRows: evaluate.length }),
      warnings: [
        `the churn model needs at least ${MIN_CHURN_ROWS} customers with both outcomes as of D - 2H and D - H (train ${train.length}, evaluate ${evaluate.length}): history shorter than 2 x models.churn.horizonDays (${horizonDays} days) is too short`,
      ],
      fit_seconds: seconds(started),
    };
  }
  const trainRows = train.map((r) => churnFeatures(r, trainParams, horizonWeeks, unitWeeks));
  const evaluateRows = evaluate.map((r) => churnFeatures(r, evaluateParams, horizonWeeks, unitWeeks));
  const trained = fitLogistic(trainRows, labels(train), { featureNames, l2 });
  const scores = evaluateRows.map((row) => predictProbability(trained, row));
  const actual = labels(evaluate);
  const auc = rocAuc(scores, actual);
  // Baselines on the same held-out customers and period: higher score = more likely to churn.
  const recencyAuc = rocAuc(
    evaluate.map((r) => num(r.days_since_last_purchase)),
    actual,
  );
  const evaluateTriples = evaluate.map((r) => xtT(r, unitWeeks));
  const pAliveAuc = evaluateParams
    ? rocAuc(
        evaluateTriples.map(({ x, tx, T }) => 1 - pAlive(evaluateParams, x, tx, T)),
        actual,
      )
    : undefined;
  const expectedAuc = evaluateParams
    ? rocAuc(
        evaluateTriples.map(
          ({ x, tx, T }) => -conditionalExpectedPurchases(evaluateParams, horizonWeeks, x, tx, T),
        ),
        actual,
      )
    : undefined;
  const refitted = fitLogistic(
    refit.map((r) => churnFeatures(r, evaluateParams, horizonWeeks, unitWeeks)),
    labels(refit),
    { featureNames, l2 },
  );
  writeLogistic(refitted, parameters);
  const beatsRecency = auc !== undefined && recencyAuc !== undefined && auc >= recencyAuc;
  const warnings = [...trained.warnings, ...refitted.warnings];
  if (!beatsRecency)
    warnings.push(
      `held-out AUC ${fmt(auc)} is below recency alone (${fmt(recencyAuc)}): rank customers by days since their last purchase instead`,
    );
  if (!trained.converged || !refitted.converged) warnings.push('the logistic regression did not converge');
  const status: ModelStatus =
    !trained.converged || !refitted.converged
      ? 'not_converged'
      : beatsRecency
        ? 'ok'
        : 'underperforms_baseline';
  return {
    ...base,
    status,
    is_trustworthy: status === 'ok',
    parameters: JSON.stringify({
      features: refitted.featureNames,
      intercept: refitted.intercept,
      coefficients: refitted.coefficients,
      means: refitted.means,
      scales: refitted.scales,
      l2,
      horizonDays,
      threshold,
    }),
    diagnostics: JSON.stringify({
      trainIterations: trained.iterations,
      refitIterations: refitted.iterations,
      converged: trained.converged && refitted.converged,
      withBgnbdFeatures: withBgnbd,
    }),
    metrics: JSON.stringify(
      finiteJson({
        protocol:
          'trained on even-hash customers as of D-2H (labels D-2H..D-H), evaluated on odd-hash customers as of D-H (labels D-H..D), refitted on both halves as of D-H',
        trainRows: train.length,
        evaluateRows: evaluate.length,
        refitRows: refit.length,
        trainChurnRate: mean(labels(train)),
        evaluateChurnRate: mean(actual),
        auc,
        ...precisionRecallAt(scores, actual, threshold),
        threshold,
        baselines: { recencyAuc, oneMinusPAliveAuc: pAliveAuc, minusExpectedPurchasesAuc: expectedAuc },
        calibration: calibrationByDecile(scores, actual),
      }),
    ),
    warnings,
    fit_seconds: seconds(started),
  };
}

function writeLogistic(model: LogisticModel, parameters: Row[]): void {
  parameters.push(parameter('churn', 'intercept', model.intercept));
  model.featureNames.forEach((feature, i) => {
    parameters.push(parameter('churn', 'coefficient', model.coefficients[i] ?? 0, { feature }));
    parameters.push(parameter('churn', 'mean', model.means[i] ?? 0, { feature }));
    parameters.push(parameter('churn', 'scale', model.scales[i] ?? 1, { feature }));
  });
}

function fitSegments(
  samples: readonly Row[],
  config: Customer360Config,
  runDate: string,
  parameters: Row[],
): ModelRunRow {
  const started = performance.now();
  const { k, kRange, restarts, seed } = config.models.kmeans;
  const rows = samples
    .filter((s) => s.purpose === 'kmeans')
    .map((s) => KMEANS_FEATURES.map((f) => num(s[f])));
  const base = {
    model: 'kmeans' as const,
    cutoff_role: 'score' as const,
    cutoff_date: runDate,
    fitted_rows: rows.length,
    customers: rows.length,
  };
  const smallestK = k ?? kRange[0];
  if (rows.length < Math.max(MIN_KMEANS_ROWS, smallestK * 5)) {
    return {
      ...base,
      status: 'insufficient_data',
      is_trustworthy: false,
      parameters: null,
      diagnostics: null,
      metrics: null,
      warnings: [
        `K-Means needs at least ${Math.max(MIN_KMEANS_ROWS, smallestK * 5)} buyers, found ${rows.length}`,
      ],
      fit_seconds: seconds(started),
    };
  }
  const model = fitKMeans(rows, {
    // Named as the cluster namer reads them (recency, frequency, monetary, engagement).
    featureNames: ['log_recency_days', 'log_frequency', 'log_monetary', 'log_engagement'],
    ...(k === undefined ? { kRange } : { k }),
    restarts,
    seed,
  });
  KMEANS_FEATURES.forEach((feature, i) => {
    parameters.push(parameter('kmeans', 'mean', model.means[i] ?? 0, { feature }));
    parameters.push(parameter('kmeans', 'scale', model.scales[i] ?? 1, { feature }));
  });
  model.centroids.forEach((centroid, cluster) => {
    KMEANS_FEATURES.forEach((feature, i) => {
      parameters.push(parameter('kmeans', 'centroid', centroid[i] ?? 0, { feature, cluster }));
    });
    parameters.push(
      parameter('kmeans', 'name', null, { cluster, label: model.names[cluster] ?? `cluster ${cluster}` }),
    );
  });
  const sizes = model.centroids.map(() => 0);
  for (const row of rows) sizes[assignCluster(model, row)] = (sizes[assignCluster(model, row)] ?? 0) + 1;
  const status: ModelStatus = model.converged ? 'ok' : 'not_converged';
  return {
    ...base,
    status,
    is_trustworthy: status === 'ok',
    parameters: JSON.stringify({
      features: KMEANS_FEATURES,
      k: model.k,
      centroids: model.centroids,
      names: model.names,
      means: model.means,
      scales: model.scales,
      seed: model.seed,
    }),
    diagnostics: JSON.stringify(
      finiteJson({ iterations: model.iterations, converged: model.converged, restarts: model.restarts }),
    ),
    metrics: JSON.stringify(
      finiteJson({
        inertia: model.inertia,
        silhouette: model.silhouette,
        silhouetteByK: model.silhouetteByK,
        sampleClusterSizes: sizes,
      }),
    ),
    warnings: model.converged ? [] : ['K-Means stopped at its iteration cap before converging'],
    fit_seconds: seconds(started),
  };
}

/** Predicted against actual purchases after the cutoff, over the fit sample. */
function holdoutCheck(
  rows: readonly Row[],
  params: BgnbdParams | undefined,
  config: Customer360Config,
  unitWeeks: number,
): Record<string, number | undefined> {
  const actual = sum(rows.map((r) => num(r.next_purchase_days ?? 0)));
  if (!params) return { actualPurchaseDays: actual };
  const horizonWeeks = config.models.churn.horizonDays / 7;
  const predicted = sum(
    rows.map((r) => {
      const { x, tx, T } = xtT(r, unitWeeks);
      return num(r.fit_customers) * conditionalExpectedPurchases(params, horizonWeeks, x, tx, T);
    }),
  );
  return {
    horizonDays: config.models.churn.horizonDays,
    predictedPurchaseDays: predicted,
    actualPurchaseDays: actual,
  };
}

async function replace(
  store: ObjectStore,
  bucket: string,
  prefix: string,
  table: TableSchema,
  rows: readonly Row[],
): Promise<void> {
  await store.deletePrefix(bucket, prefix);
  // An empty table is still written: readers of the run's location find an empty file, not a gap.
  await store.put(bucket, `${prefix}part-0.parquet`, writeRows(table, rows));
}

function parameter(
  model: ModelName,
  name: string,
  value: number | null,
  extra: { feature?: string; cluster?: number; label?: string } = {},
): Row {
  return {
    model,
    parameter: name,
    cluster: extra.cluster ?? null,
    feature: extra.feature ?? null,
    value,
    label: extra.label ?? null,
  };
}

function cutoffOf(runDate: string, role: CutoffRole, config: Customer360Config): string {
  const days = { score: 0, evaluate: 1, train: 2 }[role] * config.models.churn.horizonDays;
  return new Date(Date.parse(`${runDate}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

/** A row's (x, t_x, T) in weeks, from its integer units (days, or whole weeks). */
function xtT(row: Row, unitWeeks: number): { x: number; tx: number; T: number } {
  return {
    x: num(row.repeat_purchases),
    tx: num(row.recency_units) * unitWeeks,
    T: num(row.age_units) * unitWeeks,
  };
}

function num(value: Row[string] | undefined): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n))
    throw new Error(`Expected a number in the model inputs, got ${JSON.stringify(value)}`);
  return n;
}

function sortBy(rows: Row[], keys: readonly string[]): Row[] {
  const compare = (a: Row[string] | undefined, b: Row[string] | undefined): number => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b));
  };
  return rows.sort((a, b) => {
    for (const key of keys) {
      const order = compare(a[key], b[key]);
      if (order !== 0) return order;
    }
    return 0;
  });
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const mean = (values: readonly number[]) => (values.length === 0 ? undefined : sum(values) / values.length);
const seconds = (since: number) => Math.round(performance.now() - since) / 1000;
const fmt = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(3));

/** JSON has no NaN or Infinity: such values are written as null rather than silently as null by accident. */
function finiteJson<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)),
  );
}
