import { createHash } from 'node:crypto';
import type { TableSchema } from '../schema/types.js';

/**
 * The keys that identify an erased customer's rows, one list per kind. They are both what the erasure
 * matches rows by and what `stage.suppressed_keys` keeps for later runs. No kind holds a personal value
 * in clear: ids and legacy ids are numbers and codes that identify nobody once the rows that explain
 * them are gone, visitor keys are random, and emails are kept only as a SHA-256.
 */
export const KEY_TYPES = [
  /** The unified customer id (stage and analytics `customer_id`; negative for hashed new customers). */
  'customer_id',
  /** A MySQL `customers.customer_id` (raw, the snapshots, and `orders.customer_id`). */
  'mysql_customer_id',
  /** A MySQL `orders.order_id` of the customer (their order lines are found by it). */
  'mysql_order_id',
  /** A DynamoDB partition key of the customer other than an email one: `customer#<id>`, `visitor#<id>`. */
  'dynamodb_customer_key',
  /** A legacy history customer id as the history files write it. */
  'legacy_id',
  /** Lower-case hex SHA-256 of a trimmed, lower-cased email address of the customer. */
  'email_sha256',
] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export type ErasureKeys = Readonly<Record<KeyType, readonly string[]>>;

/** Emails are matched trimmed and lower-cased, as identity resolution matches them (docs/sql.md). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * SHA-256 of the normalized address, lower-case hex: the same as the staging models' `lower(to_hex(sha256(
 * to_utf8(lower(trim(x))))))` on Athena and DuckDB. Plain, not salted: staging must recognize the address
 * when a source sends it again, so whoever can run the pipeline's SQL can test an address against the list
 * either way; a salt kept beside the list would add nothing, and one kept elsewhere would put a secret into
 * every rendered query (and the execution history). What the hash does give: the list, the erasure log and
 * the state machine input never hold an address in clear.
 */
export function emailSha256(email: string): string {
  return createHash('sha256').update(normalizeEmail(email), 'utf8').digest('hex');
}

/** Sorted, without duplicates: the same request gives the same list and the same log entry. */
export function keySet(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

export function emptyKeys(): Record<KeyType, string[]> {
  return Object.fromEntries(KEY_TYPES.map((t) => [t, [] as string[]])) as Record<KeyType, string[]>;
}

// ---------------------------------------------------------------- predicates

const inKeys = (expression: string, type: KeyType) =>
  `(${expression}) IN (SELECT key_value FROM erase_keys WHERE key_type = '${type}')`;
const emailHash = (expression: string) => `lower(to_hex(sha256(to_utf8(lower(trim(${expression}))))))`;
/** The address after the `email#` of a DynamoDB key (or of an identity map key). */
const afterHash = (expression: string) => `substr(${expression}, strpos(${expression}, '#') + 1)`;

/** Tables holding raw source rows (the raw zone and the stage snapshots, which keep raw's columns). */
function holdsSourceRows(table: TableSchema): boolean {
  return table.zone === 'raw' || table.location.startsWith('snapshots/');
}

/**
 * What makes a row of `table` a row of the erased customer, as a DuckDB condition over the table's own
 * columns and the temporary table `erase_keys(key_type, key_value)`; undefined when the table cannot hold
 * one (products, aggregates: segment figures, sales trends, data quality, model parameters...).
 *
 * Derived from the schema by column name: a new table with a `customer_id`, an order id, a DynamoDB or
 * history key, an identity key or a rejected record is covered without a change here, and a test fails
 * for a table with a personal-data column that no rule covers.
 */
export function erasurePredicate(
  table: TableSchema,
  /** The columns a file really has (a file written before a column existed lacks it). */
  present?: ReadonlySet<string>,
): string | undefined {
  if (table.name === 'suppressed_keys') return undefined; // the list itself: ids and hashes, kept on purpose
  const has = (name: string) =>
    table.columns.some((c) => c.name === name) && (present === undefined || present.has(name));
  const type = (name: string) => table.columns.find((c) => c.name === name)?.type;
  const clauses: string[] = [];
  const source = holdsSourceRows(table);
  if (has('customer_id')) {
    if (!source) clauses.push(inKeys('CAST(customer_id AS VARCHAR)', 'customer_id'));
    // Raw MySQL ids are bigints; DynamoDB attributes are text, kept as the item had them.
    else if (type('customer_id') === 'bigint')
      clauses.push(inKeys('CAST(customer_id AS VARCHAR)', 'mysql_customer_id'));
    else clauses.push(inKeys('trim(customer_id)', 'mysql_customer_id'));
  }
  if (has('order_id')) {
    if (type('order_id') === 'bigint') clauses.push(inKeys('CAST(order_id AS VARCHAR)', 'mysql_order_id'));
    // Stage order ids carry their source: m-<MySQL id>.
    else
      clauses.push(
        `order_id IN (SELECT 'm-' || key_value FROM erase_keys WHERE key_type = 'mysql_order_id')`,
      );
  }
  if (has('customer_key')) {
    clauses.push(inKeys('customer_key', 'dynamodb_customer_key'));
    clauses.push(
      `(split_part(customer_key, '#', 1) = 'email' AND ${inKeys(emailHash(afterHash('customer_key')), 'email_sha256')})`,
    );
  }
  if (has('visitor_id')) clauses.push(inKeys(`'visitor#' || visitor_id`, 'dynamodb_customer_key'));
  if (has('customer_ref')) {
    clauses.push(inKeys('trim(customer_ref)', 'legacy_id'));
    clauses.push(inKeys(emailHash('customer_ref'), 'email_sha256'));
  }
  // A MySQL customer's own email is not a key: another account may share it (a walk-in address) and is
  // another person. Emails are keys where the source is keyed by them: DynamoDB events and history.
  if (has('email') && has('customer_key')) clauses.push(inKeys(emailHash('email'), 'email_sha256'));
  if (has('source_key')) {
    // stage.identity_map and identity_resolution: every source identity of the customer.
    clauses.push(inKeys('source_key', 'dynamodb_customer_key'));
    clauses.push(`(source = 'history' AND ${inKeys('source_key', 'legacy_id')})`);
    clauses.push(`(source = 'mysql' AND ${inKeys('source_key', 'mysql_customer_id')})`);
    clauses.push(
      `(source_key_type = 'email' AND ${inKeys(emailHash(`CASE WHEN strpos(source_key, '#') > 0 THEN ${afterHash('source_key')} ELSE source_key END`), 'email_sha256')})`,
    );
  }
  if (has('record_json')) {
    // stage.rejects: the rejected record's own fields, read from its JSON exactly (a LIKE on an id would
    // match every id that contains it).
    const field = (name: string) => `json_extract_string(record_json, '$.${name}')`;
    clauses.push(inKeys(`trim(${field('customer_id')})`, 'mysql_customer_id'));
    clauses.push(inKeys(field('order_id'), 'mysql_order_id'));
    clauses.push(inKeys(field('customer_key'), 'dynamodb_customer_key'));
    clauses.push(
      `(split_part(${field('customer_key')}, '#', 1) = 'email' AND ${inKeys(emailHash(afterHash(field('customer_key'))), 'email_sha256')})`,
    );
    clauses.push(inKeys(`trim(${field('customer_ref')})`, 'legacy_id'));
    clauses.push(inKeys(emailHash(field('customer_ref')), 'email_sha256'));
  }
  if (has('record_key') && has('source_table')) {
    // stage.source_deletes: the deleted row's key as text (id, order_id|line_number, customer_key|event_key).
    const head = "split_part(record_key, '|', 1)";
    clauses.push(`(source_table = 'mysql.customers' AND ${inKeys('record_key', 'mysql_customer_id')})`);
    clauses.push(
      `(source_table IN ('mysql.orders', 'mysql.order_items') AND ${inKeys(head, 'mysql_order_id')})`,
    );
    clauses.push(`(source_table = 'dynamodb.interactions' AND ${inKeys(head, 'dynamodb_customer_key')})`);
    clauses.push(
      `(source_table = 'dynamodb.interactions' AND split_part(${head}, '#', 1) = 'email' AND ${inKeys(emailHash(afterHash(head)), 'email_sha256')})`,
    );
  }
  if (clauses.length === 0) return undefined;
  // A null column makes its clause null, not false: coalesce, or NOT would drop the row as unknown.
  return clauses.map((c) => `coalesce(${c}, false)`).join('\n  OR ');
}
