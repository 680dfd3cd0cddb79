import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import type {
  AttributeValue,
  BatchWriteItemCommand,
  BatchWriteItemCommandOutput,
  WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  batchWriteWithRetry,
  type DatasetSink,
  DIRTY_KINDS,
  generateDataset,
  type Manifest,
  Rng,
  resolveOptions,
  UNKNOWN_CUSTOMER_BASE,
} from '../lib/generate/index.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'c360-gen-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

type Row = (string | null)[];
type Item = Record<string, string | number | boolean>;

function readTsv(path: string): Row[] {
  const lines = readFileSync(path, 'utf8').split('\n').slice(1, -1);
  return lines.map((line) => line.split('\t').map((v) => (v === '\\N' ? null : v)));
}
function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);
}
function readCsv(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .slice(1, -1)
    .map((l) => l.split(','));
}
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}
function hashTree(dir: string): Record<string, string> {
  return Object.fromEntries(
    filesUnder(dir).map((f) => [
      f,
      createHash('sha256')
        .update(readFileSync(join(dir, f)))
        .digest('hex'),
    ]),
  );
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isIsoTime = (v: unknown) => typeof v === 'string' && ISO.test(v) && new Date(v).toISOString() === v;
// Month 13 parses to an invalid Date, whose toISOString throws: check getTime first.
const isDay = (v: string) => {
  const d = new Date(`${v}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(d.getTime()) && d.toISOString().startsWith(v);
};

interface Dataset {
  dir: string;
  manifest: Manifest;
  customers: Row[];
  products: Row[];
  orders: Row[];
  items: Row[];
  events: Item[];
  history: Map<string, string[][]>;
  anomalies: { source: string; kind: string; key: string }[];
}

async function generateFiles(options: Parameters<typeof generateDataset>[0]): Promise<Dataset> {
  const dir = tempDir();
  const { manifest } = await generateDataset(options, { files: { dir } });
  const history = new Map<string, string[][]>();
  for (const f of readdirSync(join(dir, 'history')).sort()) history.set(f, readCsv(join(dir, 'history', f)));
  return {
    dir,
    manifest,
    customers: readTsv(join(dir, 'mysql', 'customers.tsv')),
    products: readTsv(join(dir, 'mysql', 'products.tsv')),
    orders: readTsv(join(dir, 'mysql', 'orders.tsv')),
    items: readTsv(join(dir, 'mysql', 'order_items.tsv')),
    events: readJsonl<Item>(join(dir, 'dynamodb', 'interactions.jsonl')),
    history,
    anomalies: readJsonl(join(dir, 'anomalies.jsonl')),
  };
}

const SIZE = 2000;
// Twice the default dirty share: the default (retail) profile's ~1,200 history rows would otherwise
// leave a history kind unplanted, and every kind is checked below.
const DIRTY_SHARE = 0.01;
let data: Dataset;

beforeAll(async () => {
  data = await generateFiles({ customers: SIZE, seed: 'files-test', dirtyShare: DIRTY_SHARE });
});

describe('determinism', () => {
  it('gives byte-identical files for the same seed and different files for another seed', async () => {
    const a = await generateFiles({ customers: 300, seed: 99 });
    const b = await generateFiles({ customers: 300, seed: 99 });
    const c = await generateFiles({ customers: 300, seed: 100 });
    const ha = hashTree(a.dir);
    expect(Object.keys(ha)).toEqual(
      expect.arrayContaining([
        'manifest.json',
        'anomalies.jsonl',
        'mysql/orders.tsv',
        'dynamodb/interactions.jsonl',
      ]),
    );
    expect(hashTree(b.dir)).toEqual(ha);
    const hc = hashTree(c.dir);
    for (const file of [
      'mysql/customers.tsv',
      'mysql/orders.tsv',
      'dynamodb/interactions.jsonl',
      'manifest.json',
    ]) {
      expect(hc[file], file).not.toBe(ha[file]);
    }
  });

  it('keeps clean rows unchanged when only the dirty share changes', async () => {
    const clean = await generateFiles({ customers: 300, seed: 5, dirtyShare: 0 });
    const dirty = await generateFiles({ customers: 300, seed: 5, dirtyShare: 0.05 });
    expect(clean.manifest.anomalies.dirtyTotal).toBe(0);
    expect(dirty.manifest.anomalies.dirtyTotal).toBeGreaterThan(50);
    const dirtyOrders = new Set(dirty.anomalies.filter((a) => a.source === 'mysql.orders').map((a) => a.key));
    const cleanById = new Map(clean.orders.map((r) => [r[0], r.join('\t')]));
    expect(dirty.orders.length).toBe(clean.orders.length);
    for (const row of dirty.orders) {
      if (!dirtyOrders.has(String(row[0]))) expect(row.join('\t')).toBe(cleanById.get(row[0]));
    }
  });

  it('derives the DynamoDB jitter and every sampler from the seed, not Math.random', () => {
    const a = new Rng(7, 'x', 1);
    const b = new Rng(7, 'x', 1);
    const draws = (r: Rng) => [
      r.next(),
      r.gamma(0.7, 2),
      r.beta(1, 9),
      r.poisson(40),
      r.geometric(0.3),
      r.uuid(),
    ];
    expect(draws(a)).toEqual(draws(b));
    expect(new Rng(7, 'x', 2).next()).not.toBe(new Rng(7, 'x', 1).next());
  });
});

describe('manifest counts equal the files', () => {
  it('counts every row of every source', () => {
    const m = data.manifest;
    expect(m.people.total).toBe(SIZE);
    expect(data.customers.length).toBe(m.counts.mysql.customers);
    expect(data.products.length).toBe(m.counts.mysql.products);
    expect(data.orders.length).toBe(m.counts.mysql.orders);
    expect(data.items.length).toBe(m.counts.mysql.order_items);
    expect(data.events.length).toBe(m.counts.dynamodb.items);
    expect(Object.fromEntries([...data.history].map(([f, rows]) => [f, rows.length]))).toEqual(
      m.counts.history.files,
    );
    expect(m.people.mysqlCustomers + m.people.legacyOnly).toBe(SIZE);
    const byType: Record<string, number> = {};
    for (const e of data.events) byType[String(e.event_type)] = (byType[String(e.event_type)] ?? 0) + 1;
    expect(byType).toEqual(m.interactions.byEventType);
    const byStatus: Record<string, number> = {};
    for (const o of data.orders) byStatus[String(o[3])] = (byStatus[String(o[3])] ?? 0) + 1;
    expect(byStatus).toEqual(Object.fromEntries(Object.entries(m.orders.byStatus).filter(([, n]) => n > 0)));
  });

  it('has the expected scale: about 2 MySQL orders and 12-26 events per person (retail profile)', () => {
    // About 2.9 purchases a year while alive on average over 3 MySQL years, but half of buyers never
    // buy again and 12% never buy: about 2 orders a person (grocery gives about 9).
    const m = data.manifest;
    expect(m.counts.mysql.orders / SIZE).toBeGreaterThan(1.5);
    expect(m.counts.mysql.orders / SIZE).toBeLessThan(3);
    expect(m.counts.dynamodb.items / SIZE).toBeGreaterThan(12);
    expect(m.counts.dynamodb.items / SIZE).toBeLessThan(26);
  });

  it('keeps the frequent-purchase scale in the grocery profile: about 9 MySQL orders per person', async () => {
    const grocery = await generateFiles({ customers: 300, seed: 'files-test', purchaseProfile: 'grocery' });
    expect(grocery.manifest.options.purchaseProfile).toBe('grocery');
    expect(grocery.orders.length / 300).toBeGreaterThan(6);
    expect(grocery.orders.length / 300).toBeLessThan(14);
  });
});

describe('planted anomalies are in the files as the manifest says', () => {
  const count = (source: string, kind: string) =>
    data.anomalies.filter((a) => a.source === source && a.kind === kind).length;

  it('lists every planted record in anomalies.jsonl with the manifest counts', () => {
    const m = data.manifest;
    expect(data.anomalies.length).toBe(m.anomalies.dirtyTotal);
    for (const [source, kinds] of Object.entries(DIRTY_KINDS)) {
      for (const kind of kinds) {
        expect(count(source, kind), `${source} ${kind}`).toBe(m.anomalies.dirty[source]?.[kind]);
        expect(m.anomalies.dirty[source]?.[kind], `${source} ${kind} planted`).toBeGreaterThan(0);
      }
    }
    const rows = m.counts.mysql.orders + m.counts.dynamodb.items + m.counts.history.rows;
    // About DIRTY_SHARE of rows; planted duplicates add rows of their own, so a little more.
    expect(m.anomalies.dirtyTotal / rows).toBeGreaterThan(DIRTY_SHARE * 0.7);
    expect(m.anomalies.dirtyTotal / rows).toBeLessThan(DIRTY_SHARE * 1.5);
  });

  it('plants the MySQL anomalies', () => {
    const customerIds = new Set(data.customers.map((r) => r[0]));
    const productIds = new Set(data.products.map((r) => r[0]));
    const orderIds = (pred: (r: Row) => boolean) => data.orders.filter(pred).map((r) => String(r[0]));
    const keys = (kind: string) =>
      data.anomalies.filter((a) => a.source === 'mysql.orders' && a.kind === kind).map((a) => a.key);
    expect(orderIds((r) => r[1] === null)).toEqual(keys('null_customer_id'));
    expect(orderIds((r) => r[1] !== null && !customerIds.has(r[1]))).toEqual(keys('unknown_customer'));
    expect(orderIds((r) => r[1] !== null && !customerIds.has(r[1])).every((id) => id.length > 0)).toBe(true);
    expect(orderIds((r) => String(r[7]).startsWith('-'))).toEqual(keys('negative_amount'));
    expect(orderIds((r) => String(r[7]).startsWith('-')).length).toBeGreaterThan(0);
    expect(data.orders.filter((r) => String(r[7]).startsWith('-')).every((r) => r[3] !== 'refunded')).toBe(
      true,
    );
    expect(orderIds((r) => r[2] === '0000-00-00 00:00:00')).toEqual(keys('zero_order_date'));
    expect(orderIds((r) => r[2] !== '0000-00-00 00:00:00' && !isDay(String(r[2]).slice(0, 10)))).toEqual(
      keys('invalid_order_date'),
    );
    const itemKeys = (pred: (r: Row) => boolean) => data.items.filter(pred).map((r) => `${r[0]}:${r[1]}`);
    const itemAnomalies = (kind: string) =>
      data.anomalies.filter((a) => a.source === 'mysql.order_items' && a.kind === kind).map((a) => a.key);
    expect(itemKeys((r) => r[2] === null)).toEqual(itemAnomalies('null_product_id'));
    expect(itemKeys((r) => r[2] !== null && !productIds.has(r[2]))).toEqual(itemAnomalies('unknown_product'));
    expect(data.customers.filter((r) => r[10] === '0000-00-00 00:00:00').length).toBe(
      data.manifest.anomalies.dirty['mysql.customers']?.zero_signup_date,
    );
    expect(data.customers.filter((r) => r[6] !== null && !isDay(String(r[6]))).length).toBe(
      data.manifest.anomalies.dirty['mysql.customers']?.invalid_birth_date,
    );
  });

  it('plants the DynamoDB anomalies', () => {
    const d = data.manifest.anomalies.dirty['dynamodb.interactions'] as Record<string, number>;
    expect(data.events.filter((e) => !isIsoTime(e.event_at)).length).toBe(d.unparseable_event_at);
    expect(data.events.filter((e) => e.event_id === undefined).length).toBe(d.missing_event_id);
    expect(data.events.filter((e) => e.customer_key === 'customer#undefined').length).toBe(
      d.null_customer_key,
    );
    expect(data.events.filter((e) => Number(e.customer_id) >= UNKNOWN_CUSTOMER_BASE).length).toBe(
      d.unknown_customer,
    );
    const ids = data.events.flatMap((e) => (e.event_id === undefined ? [] : [String(e.event_id)]));
    expect(ids.length - new Set(ids).size).toBe(d.duplicate_event_id);
    const keys = data.events.map((e) => `${e.customer_key}|${e.event_key}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const e of data.events) {
      expect(String(e.event_key).startsWith(`${e.event_at}#`)).toBe(true);
      expect(isIsoTime(e.updated_at)).toBe(true);
    }
  });

  it('plants the history anomalies at the lines anomalies.jsonl names', () => {
    const h = data.manifest.anomalies.dirty.history as Record<string, number>;
    const all = [...data.history.values()].flat();
    expect(all.filter((r) => r[0] === '').length).toBe(h.missing_customer);
    expect(all.filter((r) => String(r[3]).startsWith('-')).length).toBe(h.negative_amount);
    expect(all.filter((r) => !isDay(String(r[1]))).length).toBe(h.unparseable_date);
    let duplicates = 0;
    for (const rows of data.history.values()) {
      const seen = new Set<string>();
      for (const r of rows) {
        const line = r.join(',');
        if (seen.has(line)) duplicates++;
        seen.add(line);
      }
    }
    expect(duplicates).toBe(h.duplicate_row);
    for (const a of data.anomalies.filter((x) => x.source === 'history')) {
      const [file, line] = a.key.split(':');
      const row = data.history.get(String(file))?.[Number(line) - 1];
      expect(row, a.key).toBeDefined();
      if (a.kind === 'missing_customer') expect(row?.[0]).toBe('');
      if (a.kind === 'negative_amount') expect(row?.[3]?.startsWith('-')).toBe(true);
      if (a.kind === 'unparseable_date') expect(isDay(String(row?.[1]))).toBe(false);
    }
  });
});

describe('planted fraud', () => {
  const window = () => {
    const o = resolveOptions({ customers: SIZE, seed: 'files-test' });
    return { from: o.fraudWindowStartMs, to: o.endMs };
  };
  const loginSignals = () => {
    const { from, to } = window();
    const seen = new Set<string>();
    const byCustomer = new Map<number, { attempts: number; failed: number; ips: Set<string> }>();
    for (const e of data.events) {
      if (e.event_type !== 'login' || e.event_id === undefined || !isIsoTime(e.event_at)) continue;
      if (seen.has(String(e.event_id))) continue;
      seen.add(String(e.event_id));
      const at = Date.parse(String(e.event_at));
      if (at < from || at >= to || typeof e.customer_id !== 'number') continue;
      const s = byCustomer.get(e.customer_id) ?? { attempts: 0, failed: 0, ips: new Set<string>() };
      s.attempts++;
      if (e.success === false) s.failed++;
      s.ips.add(String(e.ip_address));
      byCustomer.set(e.customer_id, s);
    }
    return byCustomer;
  };

  it('plants about the configured share of fraud customers, each meeting the documented signals', () => {
    const f = data.manifest.anomalies.fraud;
    expect(f.customers).toBe(f.customerIds.length);
    expect(f.customers).toBeGreaterThanOrEqual(5);
    expect(f.customers).toBeLessThan(SIZE * 0.025);
    const signals = loginSignals();
    const { from } = window();
    for (const id of f.customerIds) {
      const s = signals.get(id);
      expect(s?.attempts, `customer ${id}`).toBeGreaterThanOrEqual(25);
      expect(s?.failed).toBeGreaterThanOrEqual(12);
      expect(s?.ips.size).toBeGreaterThanOrEqual(8);
      const orders = data.orders.filter(
        (r) => r[1] === String(id) && Date.parse(`${r[2]?.replace(' ', 'T')}Z`) >= from,
      );
      const large = orders.filter((r) => Number(r[7]) > 1000).length;
      expect(large >= 2 || orders.length >= 12, `customer ${id} orders`).toBe(true);
    }
  });

  it('keeps every other customer below the login signals', () => {
    const fraud = new Set(data.manifest.anomalies.fraud.customerIds);
    let others = 0;
    for (const [id, s] of loginSignals()) {
      if (fraud.has(id)) continue;
      others++;
      expect(s.ips.size, `customer ${id}`).toBeLessThanOrEqual(3);
      expect(s.failed, `customer ${id}`).toBeLessThanOrEqual(2);
    }
    expect(others).toBeGreaterThan(50);
  });
});

describe('realistic shape', () => {
  const revenueByMonth = () => {
    const fraud = new Set(data.manifest.anomalies.fraud.customerIds.map(String));
    const byMonth = new Array<number>(12).fill(0);
    for (const r of data.orders) {
      const month = Number(String(r[2]).slice(5, 7));
      if (r[3] === 'cancelled' || fraud.has(String(r[1])) || !(month >= 1 && month <= 12)) continue;
      byMonth[month - 1] = (byMonth[month - 1] ?? 0) + Math.max(0, Number(r[7]));
    }
    const total = byMonth.reduce((a, b) => a + b, 0);
    return byMonth.map((v) => v / total);
  };

  it('peaks in November and December', () => {
    const share = revenueByMonth();
    const ordinary = share.slice(1, 9).reduce((a, b) => a + b, 0) / 8; // February to September
    expect(share[10]).toBeGreaterThan(ordinary * 1.25);
    expect(share[11]).toBeGreaterThan(ordinary * 1.5);
  });

  it('cancels and refunds a plausible share of orders', () => {
    const n = data.orders.length;
    const cancelled = data.orders.filter((r) => r[3] === 'cancelled').length / n;
    const refunded = data.orders.filter((r) => r[3] === 'refunded').length / n;
    expect(cancelled).toBeGreaterThan(0.02);
    expect(cancelled).toBeLessThan(0.07);
    expect(refunded).toBeGreaterThan(0.015);
    expect(refunded).toBeLessThan(0.06);
    expect(data.orders.filter((r) => r[3] === 'placed' || r[3] === 'shipped').length).toBeGreaterThan(0);
  });

  it('mixes channels and pays cash only in store', () => {
    const by = (ch: string) => data.orders.filter((r) => r[4] === ch).length / data.orders.length;
    expect(by('web')).toBeGreaterThan(by('mobile'));
    expect(by('mobile')).toBeGreaterThan(by('store'));
    expect(by('store')).toBeGreaterThan(0.1);
    expect(data.orders.filter((r) => r[5] === 'cash').every((r) => r[4] === 'store')).toBe(true);
    const discounted = data.orders.filter((r) => r[8] !== '0.00').length / data.orders.length;
    expect(discounted).toBeGreaterThan(0.15);
    expect(discounted).toBeLessThan(0.45);
  });

  it('buys at heterogeneous rates, with one-time and repeat buyers', () => {
    const perCustomer = new Map<string, number>();
    for (const c of data.customers) perCustomer.set(String(c[0]), 0);
    for (const r of data.orders)
      if (perCustomer.has(String(r[1])))
        perCustomer.set(String(r[1]), (perCustomer.get(String(r[1])) ?? 0) + 1);
    const counts = [...perCustomer.values()];
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    const sd = Math.sqrt(counts.reduce((a, b) => a + (b - mean) ** 2, 0) / counts.length);
    expect(sd / mean).toBeGreaterThan(0.9);
    expect(counts.filter((c) => c === 1).length / counts.length).toBeGreaterThan(0.05);
    // A long tail of frequent buyers (gamma shape 0.243): a few percent with 10 or more MySQL orders.
    expect(counts.filter((c) => c >= 10).length / counts.length).toBeGreaterThan(0.02);
  });

  it('sells a few products a lot (Zipf-like popularity)', () => {
    const units = new Map<string, number>();
    for (const r of data.items) units.set(String(r[2]), (units.get(String(r[2])) ?? 0) + Number(r[3]));
    const sorted = [...units.values()].sort((a, b) => b - a);
    const total = sorted.reduce((a, b) => a + b, 0);
    const top = sorted.slice(0, Math.ceil(data.products.length / 10)).reduce((a, b) => a + b, 0);
    expect(top / total).toBeGreaterThan(0.4);
    expect(units.size).toBeGreaterThan(data.products.length / 3);
  });

  it('opens more marketing email from customers who buy more', () => {
    const emailToId = new Map(data.customers.map((c) => [String(c[1]).trim().toLowerCase(), String(c[0])]));
    const idOf = (e: Item) =>
      typeof e.customer_id === 'number'
        ? String(e.customer_id)
        : typeof e.email === 'string'
          ? emailToId.get(e.email.trim().toLowerCase())
          : undefined;
    const sent = new Map<string, number>();
    const opened = new Map<string, number>();
    for (const e of data.events) {
      const id = idOf(e);
      if (id === undefined) continue;
      if (e.event_type === 'email_sent') sent.set(id, (sent.get(id) ?? 0) + 1);
      if (e.event_type === 'email_open') opened.set(id, (opened.get(id) ?? 0) + 1);
    }
    const o = resolveOptions({ customers: SIZE, seed: 'files-test' });
    const orders = new Map<string, number>();
    for (const r of data.orders) orders.set(String(r[1]), (orders.get(String(r[1])) ?? 0) + 1);
    const xs: number[] = [];
    const ys: number[] = [];
    for (const c of data.customers) {
      const id = String(c[0]);
      const s = sent.get(id) ?? 0;
      const signup = Date.parse(`${String(c[10]).replace(' ', 'T')}Z`);
      if (s < 4 || Number.isNaN(signup)) continue;
      const years = (o.endMs - Math.max(signup, o.startMs)) / (365.25 * 86_400_000);
      xs.push((opened.get(id) ?? 0) / s);
      ys.push(Math.log1p((orders.get(id) ?? 0) / years));
    }
    expect(xs.length).toBeGreaterThan(200);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    xs.forEach((x, i) => {
      const y = ys[i] as number;
      sxy += (x - mx) * (y - my);
      sxx += (x - mx) ** 2;
      syy += (y - my) ** 2;
    });
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.25);
  });

  it('keys some events by visitor or email only and maps visitors with identify events', () => {
    const m = data.manifest.interactions;
    expect(m.byKeyKind.visitor).toBeGreaterThan(data.events.length * 0.05);
    expect(m.byKeyKind.email).toBeGreaterThan(data.events.length * 0.05);
    const identify = data.events.filter((e) => e.event_type === 'identify');
    expect(new Set(identify.map((e) => e.visitor_id)).size).toBe(m.identifiedVisitors);
    expect(
      identify.every(
        (e) => String(e.customer_key).startsWith('visitor#') && typeof e.customer_id === 'number',
      ),
    ).toBe(true);
    const emails = new Set(data.customers.map((c) => String(c[1]).toLowerCase()));
    const emailKeyed = data.events.filter((e) => String(e.customer_key).startsWith('email#'));
    expect(emailKeyed.every((e) => emails.has(String(e.email).toLowerCase()))).toBe(true);
    expect(emailKeyed.filter((e) => e.email !== String(e.email).toLowerCase()).length).toBe(
      m.emailKeyedNotNormalized,
    );
  });

  it('links legacy ids to MySQL customer ids by number, except for legacy-only customers', () => {
    const customerIds = new Set(data.customers.map((c) => String(c[0])));
    let migrated = 0;
    let legacyOnly = 0;
    for (const rows of data.history.values()) {
      for (const r of rows) {
        if (r[0] === '') continue;
        expect(r[0]).toMatch(/^L\d{7}$/);
        if (customerIds.has(String(Number(String(r[0]).slice(1))))) migrated++;
        else legacyOnly++;
      }
    }
    const dirtyMissing = data.manifest.anomalies.dirty.history?.missing_customer ?? 0;
    expect(migrated + legacyOnly + dirtyMissing).toBe(data.manifest.counts.history.rows);
    expect(legacyOnly).toBeGreaterThan(0);
    expect(migrated).toBeGreaterThan(0);
    const h = data.manifest.history;
    expect(Math.abs(legacyOnly - h.rowsOfLegacyOnlyCustomers)).toBeLessThanOrEqual(dirtyMissing);
  });

  it('keys history by email when asked', async () => {
    const byEmail = await generateFiles({ customers: 300, seed: 8, historyCustomerKey: 'email' });
    const emails = new Set(byEmail.customers.map((c) => String(c[1]).toLowerCase()));
    const refs = [...byEmail.history.values()]
      .flat()
      .map((r) => String(r[0]))
      .filter((r) => r !== '');
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.every((r) => r.includes('@'))).toBe(true);
    const known = refs.filter((r) => emails.has(r.toLowerCase())).length;
    const h = byEmail.manifest.history;
    const missing = byEmail.manifest.anomalies.dirty.history?.missing_customer ?? 0;
    expect(known).toBeLessThanOrEqual(h.rowsOfMigratedCustomers);
    expect(known).toBeGreaterThanOrEqual(h.rowsOfMigratedCustomers - missing);
    expect(refs.length - known).toBeGreaterThanOrEqual(h.rowsOfLegacyOnlyCustomers - missing);
    expect(refs.length - known).toBeGreaterThan(0);
    expect(refs.some((r) => r !== r.toLowerCase())).toBe(true);
  });
});

describe('bounded memory', () => {
  it('does not grow the heap with the number of people', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const nullSink: DatasetSink = {
      products: () => undefined,
      write: () => undefined,
      finish: async () => undefined,
      abort: async () => undefined,
    };
    const peakHeap = async (customers: number) => {
      let peak = 0;
      const sample = () => {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      };
      sample();
      await generateDataset(
        { customers, seed: 3 },
        { sinks: [nullSink], progressEvery: 200, onProgress: sample },
      );
      sample();
      return peak;
    };
    await peakHeap(200); // warm up code and caches
    const small = await peakHeap(400);
    const large = await peakHeap(3000);
    // Holding the rows of 2600 more people would take well over 40 MB.
    expect(large - small).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('BatchWriteItem retry', () => {
  const requests = (n: number): WriteRequest[] =>
    Array.from({ length: n }, (_, i) => ({
      PutRequest: { Item: { customer_key: { S: `c#${i}` }, event_key: { S: 'e' } } },
    }));

  it('resends unprocessed items with growing, jittered delays until all are written', async () => {
    const sent: number[] = [];
    const delays: number[] = [];
    let calls = 0;
    const client = {
      async send(command: BatchWriteItemCommand): Promise<BatchWriteItemCommandOutput> {
        calls++;
        const batch = command.input.RequestItems?.t ?? [];
        sent.push(batch.length);
        const unprocessed = calls === 1 ? batch.slice(0, 10) : calls === 2 ? batch.slice(0, 3) : [];
        return { UnprocessedItems: unprocessed.length ? { t: unprocessed } : {}, $metadata: {} };
      },
    };
    const attempts = await batchWriteWithRetry(client, 't', requests(25), {
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0.999,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    expect(attempts).toBe(3);
    expect(sent).toEqual([25, 10, 3]);
    expect(delays).toEqual([199, 399]);
  });

  it('gives up after maxAttempts with the number still unprocessed', async () => {
    let calls = 0;
    const client = {
      async send(command: BatchWriteItemCommand): Promise<BatchWriteItemCommandOutput> {
        calls++;
        return { UnprocessedItems: { t: command.input.RequestItems?.t ?? [] }, $metadata: {} };
      },
    };
    await expect(
      batchWriteWithRetry(client, 't', requests(5), { maxAttempts: 4, sleep: async () => undefined }),
    ).rejects.toThrow(/5 items still unprocessed after 4 requests/);
    expect(calls).toBe(4);
  });

  it('refuses more than 25 requests', async () => {
    const client = { send: async () => ({ $metadata: {} }) };
    await expect(batchWriteWithRetry(client, 't', requests(26))).rejects.toThrow(/at most 25/);
  });
});

describe('options', () => {
  it('validates with messages naming the option', () => {
    expect(() => resolveOptions({ customers: 0, seed: 1 })).toThrow(/customers: got 0/);
    expect(() => resolveOptions({ customers: 10, seed: 1, start: '2023-02-30' })).toThrow(
      /start: got "2023-02-30"/,
    );
    expect(() => resolveOptions({ customers: 10, seed: 1, dirtyShare: 2 })).toThrow(/dirtyShare: got 2/);
    expect(() =>
      resolveOptions({ customers: 10, seed: 1, purchaseProfile: 'bakery' as unknown as 'retail' }),
    ).toThrow(/purchaseProfile: got "bakery"; expected retail or grocery/);
    expect(() => resolveOptions({ customers: 10, seed: 1, start: '2025-01-01', end: '2025-02-01' })).toThrow(
      /end:/,
    );
  });

  it('defaults to 2023-2025 with 3 years of history, 0.5% dirty, 1% fraud and the retail profile', () => {
    const o = resolveOptions({ customers: 10, seed: 1 });
    expect([o.start, o.end, o.historyYears, o.dirtyShare, o.fraudShare, o.purchaseProfile]).toEqual([
      '2023-01-01',
      '2025-12-31',
      3,
      0.005,
      0.01,
      'retail',
    ]);
    expect(new Date(o.historyStartMs).toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect(new Date(o.fraudWindowStartMs).toISOString()).toBe('2025-12-02T00:00:00.000Z');
  });
});

describe('DynamoDB table export output', () => {
  // The layout DynamoDB writes for a full export in DYNAMODB_JSON format (S3DataExport.Output.html):
  // manifest-summary.json, manifest-files.json (one JSON line per data file) and gzip data files of
  // `{"Item": {...}}` lines.
  const exportTime = '2026-01-01T00:00:00.000Z';
  let dir: string;
  let exportDir: string;
  let manifest: Manifest;
  beforeAll(async () => {
    dir = tempDir();
    exportDir = join(dir, 'export');
    ({ manifest } = await generateDataset(
      { customers: 120, seed: 9 },
      {
        files: { dir, mysql: false, history: false },
        dynamodbExport: { dir: exportDir, tableName: 'interactions-test', exportTime, itemsPerFile: 1000 },
      },
    ));
  });

  it('holds every item once, in DynamoDB JSON, in the order the JSON lines file has them', () => {
    const expected = readJsonl<Item>(join(dir, 'dynamodb', 'interactions.jsonl'));
    const entries = readJsonl<{ dataFileS3Key: string }>(join(exportDir, 'manifest-files.json'));
    const items = entries.flatMap((e) =>
      gunzipSync(readFileSync(join(exportDir, e.dataFileS3Key)))
        .toString('utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => {
          const record = JSON.parse(l) as { Item: Record<string, AttributeValue> };
          expect(Object.keys(record)).toEqual(['Item']);
          return unmarshall(record.Item);
        }),
    );
    expect(items).toHaveLength(manifest.counts.dynamodb.items);
    expect(items).toEqual(expected);
  });

  it('lists each data file with its item count and the MD5 of its bytes (base64 and hex)', () => {
    const entries = readJsonl<{
      itemCount: number;
      md5Checksum: string;
      etag: string;
      dataFileS3Key: string;
    }>(join(exportDir, 'manifest-files.json'));
    // 1000 items per file: ceil(items / 1000) files, all full but the last.
    const items = manifest.counts.dynamodb.items;
    expect(entries).toHaveLength(Math.ceil(items / 1000));
    expect(entries.map((e) => e.itemCount)).toEqual(
      entries.map((_, i) => (i < entries.length - 1 ? 1000 : items - 1000 * (entries.length - 1))),
    );
    expect(filesUnder(join(exportDir, 'data')).map((f) => `data/${f}`)).toEqual(
      entries.map((e) => e.dataFileS3Key),
    );
    for (const e of entries) {
      const md5 = createHash('md5').update(readFileSync(join(exportDir, e.dataFileS3Key)));
      const digest = md5.digest();
      expect(e.md5Checksum).toBe(digest.toString('base64'));
      expect(e.etag).toBe(digest.toString('hex'));
      expect(e.dataFileS3Key).toMatch(/^data\/\d{5}-[0-9a-f]{20}\.json\.gz$/);
    }
  });

  it('summarizes the export as DynamoDB does', () => {
    const summary = JSON.parse(readFileSync(join(exportDir, 'manifest-summary.json'), 'utf8'));
    expect(summary).toMatchObject({
      version: '2020-06-30',
      tableArn: 'arn:aws:dynamodb:local:000000000000:table/interactions-test',
      exportTime,
      manifestFilesS3Key: 'manifest-files.json',
      itemCount: manifest.counts.dynamodb.items,
      outputFormat: 'DYNAMODB_JSON',
      exportType: 'FULL_EXPORT',
    });
    // Date.parse('2026-01-01T00:00:00Z') = 1767225600000, padded to 14 digits.
    expect(summary.exportArn).toMatch(
      /^arn:aws:dynamodb:local:000000000000:table\/interactions-test\/export\/01767225600000-[0-9a-f]{8}$/,
    );
    expect(readdirSync(exportDir).sort()).toEqual(['data', 'manifest-files.json', 'manifest-summary.json']);
  });

  it('is byte-identical for the same seed and stands, by default, at the latest updated_at', async () => {
    const again = join(tempDir(), 'export');
    const plain = join(tempDir(), 'export');
    const run = (exportDir: string, time?: string) =>
      generateDataset(
        { customers: 120, seed: 9 },
        {
          files: { dir: tempDir(), mysql: false, dynamodb: false, history: false },
          dynamodbExport: {
            dir: exportDir,
            tableName: 'interactions-test',
            exportTime: time,
            itemsPerFile: 1000,
          },
        },
      );
    await run(again, exportTime);
    await run(plain);

    expect(hashTree(again)).toEqual(hashTree(exportDir));
    const latest = readJsonl<Item>(join(dir, 'dynamodb', 'interactions.jsonl'))
      .map((i) => String(i.updated_at))
      .sort()
      .at(-1);
    const summary = JSON.parse(readFileSync(join(plain, 'manifest-summary.json'), 'utf8'));
    expect(summary.exportTime).toBe(latest);
    expect(summary.startTime).toBe(latest);
  });
});
