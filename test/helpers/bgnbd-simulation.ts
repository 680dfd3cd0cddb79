import { Rng } from '../../lib/generate/rng.js';
import type { BgnbdParams, FrequencyRecencyAge } from '../../lib/models/bgnbd.js';

/** Customers simulated from the BG/NBD story, T uniform over a year in whole days, times rounded to days. */
export function simulate(
  count: number,
  p: BgnbdParams,
  seed: string,
  { dropout = true }: { dropout?: boolean } = {},
): FrequencyRecencyAge[] {
  const rng = new Rng(seed, 'bgnbd-simulation');
  const byKey = new Map<string, { x: number; tx: number; T: number; n: number }>();
  for (let i = 0; i < count; i++) {
    const T = rng.int(0, 364) / 7;
    const lambda = rng.gamma(p.r, 1 / p.alpha);
    const dropProbability = rng.beta(p.a, p.b);
    let t = 0;
    let x = 0;
    let tx = 0;
    for (;;) {
      t += rng.exponential(lambda);
      if (t > T) break;
      x++;
      tx = t;
      // Dropout only after a repeat purchase, as in the paper's likelihood.
      if (dropout && rng.next() < dropProbability) break;
    }
    tx = Math.floor(tx * 7) / 7;
    const key = `${x}|${tx}|${T}`;
    const found = byKey.get(key);
    if (found) found.n++;
    else byKey.set(key, { x, tx, T, n: 1 });
  }
  return [...byKey.values()];
}
