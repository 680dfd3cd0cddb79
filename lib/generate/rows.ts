/** Row layouts of the generated sources and their text encodings. */

export type SqlValue = string | number | null;
export type SqlRow = SqlValue[];

/** Columns of each MySQL table, in the order of lib/sources/mysql-schema.sql. */
export const MYSQL_COLUMNS = {
  customers: [
    'customer_id',
    'email',
    'first_name',
    'last_name',
    'phone',
    'gender',
    'birth_date',
    'city',
    'state',
    'country',
    'signup_at',
    'loyalty_tier',
    'marketing_opt_in',
    'updated_at',
  ],
  products: ['product_id', 'name', 'category', 'brand', 'price', 'updated_at'],
  orders: [
    'order_id',
    'customer_id',
    'order_at',
    'status',
    'channel',
    'payment_method',
    'currency',
    'total_amount',
    'discount_amount',
    'updated_at',
  ],
  order_items: [
    'order_id',
    'line_number',
    'product_id',
    'quantity',
    'unit_price',
    'discount_amount',
    'updated_at',
  ],
} as const;

export type MysqlTable = keyof typeof MYSQL_COLUMNS;
export const MYSQL_TABLES = Object.keys(MYSQL_COLUMNS) as MysqlTable[];

/** Column positions used when rows are built and corrupted. */
export const C = {
  customerId: 0,
  email: 1,
  birthDate: 6,
  signupAt: 10,
  loyaltyTier: 11,
  customerUpdatedAt: 13,
} as const;
export const O = {
  orderId: 0,
  customerId: 1,
  orderAt: 2,
  status: 3,
  channel: 4,
  payment: 5,
  total: 7,
  discount: 8,
  updatedAt: 9,
} as const;
export const I = {
  orderId: 0,
  line: 1,
  productId: 2,
  quantity: 3,
  unitPrice: 4,
  discount: 5,
  updatedAt: 6,
} as const;

/** Header of the history CSV files: the default `sources.history.columns` mapping. */
export const HISTORY_COLUMNS = ['customer_id', 'date', 'quantity', 'amount'] as const;

export interface HistoryRow {
  /** File name relative to the history folder, e.g. `orders-2021.csv`. */
  readonly file: string;
  /** customer_id, date, quantity, amount, as written. */
  readonly values: [string, string, string, string];
}

/** A DynamoDB interactions item as plain JSON (see lib/sources/interactions.ts). */
export type EventItem = Record<string, string | number | boolean>;

// Fast UTC formatting: `Date#toISOString` per value dominated the generator's profile.
const DAY = 86_400_000;
const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const dayCache = new Map<number, string>();

function dayText(day: number): string {
  let text = dayCache.get(day);
  if (text === undefined) {
    text = new Date(day * DAY).toISOString().slice(0, 10);
    if (dayCache.size < 200_000) dayCache.set(day, text);
  }
  return text;
}

/** 'HH:MM:SS' and the milliseconds of a time, with its day number. */
function clock(ms: number): [day: number, hms: string, milli: string] {
  const t = Math.floor(ms);
  const day = Math.floor(t / DAY);
  let rest = t - day * DAY;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  return [day, `${PAD2[h]}:${PAD2[m]}:${PAD2[s]}`, PAD3[rest - s * 1000] as string];
}

/** 'YYYY-MM-DD HH:MM:SS' (UTC), the MySQL DATETIME text. */
export function sqlDateTime(ms: number): string {
  const [day, hms] = clock(ms);
  return `${dayText(day)} ${hms}`;
}

/** 'YYYY-MM-DD HH:MM:SS.mmm' (UTC), the MySQL DATETIME(3) text. */
export function sqlDateTime3(ms: number): string {
  const [day, hms, milli] = clock(ms);
  return `${dayText(day)} ${hms}.${milli}`;
}

export function isoDay(ms: number): string {
  return dayText(Math.floor(ms / DAY));
}

/** ISO-8601 UTC with milliseconds, as `Date#toISOString` (years 0-9999). */
export function isoTime(ms: number): string {
  const [day, hms, milli] = clock(ms);
  return `${dayText(day)}T${hms}.${milli}Z`;
}

/** Cents to a decimal string with two places ('-12.05'). */
export function money(cents: number): string {
  const abs = Math.abs(Math.round(cents));
  const frac = abs % 100;
  return `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${frac < 10 ? '0' : ''}${frac}`;
}

function escapeTsv(value: string): string {
  return /[\t\n\r\\]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : value;
}

/**
 * One line of MySQL's default LOAD DATA text format: tab-separated, backslash escapes, `\N` for NULL.
 * The files written under `--out` use the same encoding (with a header line).
 */
export function tsvLine(row: readonly SqlValue[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (i > 0) line += '\t';
    line += v === null || v === undefined ? '\\N' : typeof v === 'number' ? String(v) : escapeTsv(v);
  }
  return `${line}\n`;
}

function escapeCsv(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One RFC 4180 CSV line. */
export function csvLine(values: readonly string[]): string {
  return `${values.map(escapeCsv).join(',')}\n`;
}
