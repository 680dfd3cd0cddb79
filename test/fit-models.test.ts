import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { type FitModelsDeps, fitModels } from '../lib/models/fit-models.js';
import { type ObjectStore, type Row, readRows, writeRows } from '../lib/models/parquet.js';
import { modelBgnbdInputs, modelClvByTriple, modelRuns, modelSamples } from '../lib/schema/marts/models.js';
import { simulate } from './helpers/bgnbd-simulation.js';

/*
 * The Fit models core against an object store in memory: what it records when the data cannot support a
 * model. Customers who never drop out (simulated from the pure NBD story, no dropout) drive BG/NBD to the
 * edge of its domain; no churn or K-Means sample means too little data for those.
 */
const RUN = { runDate: '2024-06-30', runId: 'run-1' };
const at = (location: string) => `${location}run_date=${RUN.runDate}/run_id=${RUN.runId}/`;

function memoryStore(): ObjectStore & { objects: Map<string, Uint8Array> } {
  const objects = new Map<string, Uint8Array>();
  return {
    objects,
    async list(bucket, prefix) {
      return [...objects.keys()]
        .filter((k) => k.startsWith(`${bucket}/${prefix}`))
        .map((k) => k.slice(bucket.length + 1));
    },
    async get(bucket, key) {
      const body = objects.get(`${bucket}/${key}`);
      if (!body) throw new Error(`no object ${key}`);
      return body;
    },
    async put(bucket, key, body) {
      objects.set(`${bucket}/${key}`, body);
    },
    async deletePrefix(bucket, prefix) {
      const keys = [...objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`));
      for (const key of keys) objects.delete(key);
      return keys.length;
    },
  };
}

/** model_bgnbd_inputs rows, in days (the default resolution), from simulated weekly triples. */
function inputs(): Row[] {
  const groups = simulate(5_000, { r: 0.5, alpha: 5, a: 1, b: 1 }, 'nbd', { dropout: false });
  return ['train', 'evaluate', 'score'].flatMap((role) =>
    groups.map((g) => ({
      cutoff_role: role,
      cutoff_date: RUN.runDate,
      repeat_purchases: g.x,
      recency_units: Math.round(g.tx * 7),
      age_units: Math.round(g.T * 7),
      customers: g.n,
      fit_customers: g.n,
      next_purchase_days: null,
    })),
  );
}

describe('Fit models core', () => {
  const deps = (store: ObjectStore): FitModelsDeps => ({
    config: parseConfig({}),
    analyticsBucket: 'analytics',
    store,
  });

  it('records a degenerate BG/NBD fit as untrustworthy, and too little data for the other models', async () => {
    const store = memoryStore();
    await store.put(
      'analytics',
      `${at(modelBgnbdInputs.location)}part-0.parquet`,
      writeRows(modelBgnbdInputs, inputs()),
    );
    await store.put('analytics', `${at(modelSamples.location)}part-0.parquet`, writeRows(modelSamples, []));

    const result = await fitModels(RUN, deps(store));

    const runs = await readRows(store, 'analytics', at(modelRuns.location));
    const byModel = Object.fromEntries(runs.map((r) => [`${r.model}/${r.cutoff_role}`, r]));
    expect(byModel['bgnbd/score']).toMatchObject({ status: 'degenerate', is_trustworthy: false });
    expect(String(byModel['bgnbd/score']?.warnings)).toMatch(/dropout probability vanishes/);
    expect(byModel['churn/evaluate']).toMatchObject({ status: 'insufficient_data', is_trustworthy: false });
    expect(String(byModel['churn/evaluate']?.warnings)).toMatch(
      /history shorter than 2 x models.churn.horizonDays/,
    );
    expect(byModel['kmeans/score']).toMatchObject({ status: 'insufficient_data', is_trustworthy: false });
    expect(byModel['gamma_gamma/score']).toMatchObject({
      status: 'insufficient_data',
      is_trustworthy: false,
    });
    // The summary the state returns says the same, small enough for the state payload.
    expect(result.models.find((m) => m.model === 'bgnbd' && m.cutoffRole === 'score')).toMatchObject({
      status: 'degenerate',
      isTrustworthy: false,
    });
    expect(JSON.stringify(result).length).toBeLessThan(20_000);
    // Scores per triple are still written, finite; the clv mart withholds them (sql-model-scoring test).
    const triples = await readRows(store, 'analytics', at(modelClvByTriple.location));
    expect(triples.length).toBe(result.triples);
    for (const t of triples) expect(Number.isFinite(t.expected_purchases_long)).toBe(true);
  });

  it('replaces its own outputs on a retry, with identical rows', async () => {
    const store = memoryStore();
    await store.put(
      'analytics',
      `${at(modelBgnbdInputs.location)}part-0.parquet`,
      writeRows(modelBgnbdInputs, inputs()),
    );
    await store.put('analytics', `${at(modelSamples.location)}part-0.parquet`, writeRows(modelSamples, []));
    await fitModels(RUN, deps(store));
    const first = await readRows(store, 'analytics', at(modelRuns.location));
    // a stray file from an attempt that died half-way is removed, not read beside the new one
    await store.put('analytics', `${at(modelRuns.location)}part-9.parquet`, writeRows(modelRuns, []));
    await fitModels(RUN, deps(store));
    expect(await store.list('analytics', at(modelRuns.location))).toEqual([
      `${at(modelRuns.location)}part-0.parquet`,
    ]);
    expect(await readRows(store, 'analytics', at(modelRuns.location))).toEqual(first);
  });
});
