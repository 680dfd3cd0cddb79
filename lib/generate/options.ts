/** Options of the data generator, their defaults and their validation. */

/** `retail` (occasional purchases, the published CDNOW fit) or `grocery` (frequent purchases). */
export type PurchaseProfileName = 'retail' | 'grocery';

export type HistoryCustomerKey = 'legacy_id' | 'email';

export interface GenerateOptions {
  /** Number of people simulated (MySQL customers plus legacy-only customers). */
  readonly customers: number;
  /** Any integer or string; the same seed and options give byte-identical output. */
  readonly seed: number | string;
  /**
   * First day of the MySQL era (YYYY-MM-DD, UTC). Orders and interactions before it exist only as
   * legacy history files.
   * @default '2023-01-01'
   */
  readonly start?: string;
  /**
   * Last day of the range (YYYY-MM-DD, UTC, inclusive): the "now" of the data set. Nothing happens or
   * is written after the end of this day.
   * @default '2025-12-31'
   */
  readonly end?: string;
  /**
   * Years of legacy order history before `start`.
   * @default 3
   */
  readonly historyYears?: number;
  /**
   * Products in the catalog.
   * @default 1000
   */
  readonly products?: number;
  /**
   * Share of people who signed up in the legacy era (before `start`).
   * @default 0.3
   */
  readonly legacyShare?: number;
  /**
   * Probability that a row is planted as a dirty record (per row, in every source).
   * @default 0.005
   */
  readonly dirtyShare?: number;
  /**
   * Probability that an eligible customer (signed up at least 60 days before the end) is a planted
   * account-takeover fraud case in the last `fraudWindowDays`.
   * @default 0.01
   */
  readonly fraudShare?: number;
  /**
   * Length of the fraud window ending at the end of the range.
   * @default 30
   */
  readonly fraudWindowDays?: number;
  /**
   * What the history files' `customer_id` column holds: a legacy id `L` + 7 digits, or the email.
   * @default 'legacy_id'
   */
  readonly historyCustomerKey?: HistoryCustomerKey;
  /**
   * How often people buy and when they stop (`PURCHASE_PROFILES` in model.ts): `retail` is the
   * published BG/NBD fit to CDNOW (about half of buyers buy once), `grocery` frequent purchases
   * (about 11.5 a year while alive).
   * @default 'retail'
   */
  readonly purchaseProfile?: PurchaseProfileName;
}

export interface ResolvedOptions {
  readonly customers: number;
  readonly seed: string;
  readonly start: string;
  readonly end: string;
  readonly historyYears: number;
  readonly products: number;
  readonly legacyShare: number;
  readonly dirtyShare: number;
  readonly fraudShare: number;
  readonly fraudWindowDays: number;
  readonly historyCustomerKey: HistoryCustomerKey;
  readonly purchaseProfile: PurchaseProfileName;
  /** Start of the MySQL era, epoch ms. */
  readonly startMs: number;
  /** End of the range, exclusive (start of the day after `end`), epoch ms. */
  readonly endMs: number;
  /** Start of the legacy history, epoch ms. */
  readonly historyStartMs: number;
  /** Start of the fraud window, epoch ms. */
  readonly fraudWindowStartMs: number;
}

export const DEFAULTS = {
  start: '2023-01-01',
  end: '2025-12-31',
  historyYears: 3,
  products: 1000,
  legacyShare: 0.3,
  dirtyShare: 0.005,
  fraudShare: 0.01,
  fraudWindowDays: 30,
  historyCustomerKey: 'legacy_id',
  purchaseProfile: 'retail',
} as const;

export const DAY_MS = 86_400_000;

function parseDay(value: string, name: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN;
  if (!match || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new Error(`${name}: got "${value}"; expected a date YYYY-MM-DD`);
  }
  return ms;
}

function share(value: number, name: string): number {
  if (!(value >= 0 && value <= 1)) throw new Error(`${name}: got ${value}; expected a number from 0 to 1`);
  return value;
}

export function resolveOptions(options: GenerateOptions): ResolvedOptions {
  const customers = options.customers;
  if (!Number.isInteger(customers) || customers < 1 || customers > 100_000_000) {
    throw new Error(`customers: got ${customers}; expected an integer from 1 to 100000000`);
  }
  const start = options.start ?? DEFAULTS.start;
  const end = options.end ?? DEFAULTS.end;
  const startMs = parseDay(start, 'start');
  const endMs = parseDay(end, 'end') + DAY_MS;
  const fraudWindowDays = options.fraudWindowDays ?? DEFAULTS.fraudWindowDays;
  if (!Number.isInteger(fraudWindowDays) || fraudWindowDays < 1) {
    throw new Error(`fraudWindowDays: got ${fraudWindowDays}; expected a positive integer`);
  }
  if (endMs - startMs < (fraudWindowDays + 90) * DAY_MS) {
    throw new Error(`end: got ${end}; expected at least ${fraudWindowDays + 90} days after start ${start}`);
  }
  const historyYears = options.historyYears ?? DEFAULTS.historyYears;
  if (!Number.isInteger(historyYears) || historyYears < 1 || historyYears > 30) {
    throw new Error(`historyYears: got ${historyYears}; expected an integer from 1 to 30`);
  }
  const startDate = new Date(startMs);
  const historyStartMs = Date.UTC(
    startDate.getUTCFullYear() - historyYears,
    startDate.getUTCMonth(),
    startDate.getUTCDate(),
  );
  const products = options.products ?? DEFAULTS.products;
  if (!Number.isInteger(products) || products < 20 || products > 1_000_000) {
    throw new Error(`products: got ${products}; expected an integer from 20 to 1000000`);
  }
  const historyCustomerKey = options.historyCustomerKey ?? DEFAULTS.historyCustomerKey;
  if (historyCustomerKey !== 'legacy_id' && historyCustomerKey !== 'email') {
    throw new Error(`historyCustomerKey: got "${historyCustomerKey}"; expected legacy_id or email`);
  }
  const purchaseProfile = options.purchaseProfile ?? DEFAULTS.purchaseProfile;
  if (purchaseProfile !== 'retail' && purchaseProfile !== 'grocery') {
    throw new Error(`purchaseProfile: got "${purchaseProfile}"; expected retail or grocery`);
  }
  return {
    customers,
    seed: String(options.seed),
    start,
    end,
    historyYears,
    products,
    legacyShare: share(options.legacyShare ?? DEFAULTS.legacyShare, 'legacyShare'),
    dirtyShare: share(options.dirtyShare ?? DEFAULTS.dirtyShare, 'dirtyShare'),
    fraudShare: share(options.fraudShare ?? DEFAULTS.fraudShare, 'fraudShare'),
    fraudWindowDays,
    historyCustomerKey,
    purchaseProfile,
    startMs,
    endMs,
    historyStartMs,
    fraudWindowStartMs: endMs - fraudWindowDays * DAY_MS,
  };
}
