import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type mysql from 'mysql2/promise';
import { EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, PLACES } from './catalog.js';
import { batchWriteWithRetry, putRequest } from './dynamodb.js';
import { UNKNOWN_CUSTOMER_BASE } from './model.js';
import { connectMysql, type MysqlConnectionInfo, prepareLoadSession } from './mysql.js';
import { DAY_MS } from './options.js';
import { Rng } from './rng.js';
import { type EventItem, isoTime, money, sqlDateTime, sqlDateTime3 } from './rows.js';

/**
 * Changes to an already loaded data set, for incremental-extraction tests: updates existing rows
 * (bumping `updated_at`), inserts new customers, orders and lines, and appends interaction events
 * written at `updatedAt`. Every changed or new row gets `updated_at = updatedAt` exactly, and the result
 * lists exactly which keys changed, so a test can assert that an extract after the previous watermark
 * returns those rows and no others.
 */
export interface ChangeOptions {
  readonly seed: number | string;
  /** The write time of every change (ISO-8601 or Date); should be after the data set's end. */
  readonly updatedAt: string | Date;
  /** @default 5 */
  readonly customersUpdated?: number;
  /** @default 3 */
  readonly customersInserted?: number;
  /** @default 2 */
  readonly productsUpdated?: number;
  /** Existing orders moved on (placed to shipped, shipped to delivered, delivered to refunded). @default 8 */
  readonly ordersUpdated?: number;
  /** New orders, for updated and new customers. @default 6 */
  readonly ordersInserted?: number;
  /** New interaction events (one of them late: its event time is 20 days before `updatedAt`). @default 12 */
  readonly eventsInserted?: number;
}

export interface ChangeTargets {
  /** Connection details, or an open connection (left open). */
  readonly mysql: MysqlConnectionInfo | mysql.Connection;
  readonly dynamodb?: { readonly client: DynamoDBClient; readonly tableName: string };
}

export interface KeyChanges<K> {
  readonly updated: K[];
  readonly inserted: K[];
}

export interface ChangeSet {
  /** `updatedAt` as MySQL DATETIME(3) text. */
  readonly updatedAt: string;
  readonly mysql: {
    readonly customers: KeyChanges<number>;
    readonly products: KeyChanges<number>;
    readonly orders: KeyChanges<number>;
    /** `order_id:line_number`. */
    readonly order_items: KeyChanges<string>;
  };
  readonly dynamodb: {
    /** Keys of the new items (none updated: events are immutable). */
    readonly inserted: { customer_key: string; event_key: string; event_id: string }[];
  };
}

const NEXT_STATUS: Record<string, string> = {
  placed: 'shipped',
  shipped: 'delivered',
  delivered: 'refunded',
};

type Row = mysql.RowDataPacket;

function isConnection(value: MysqlConnectionInfo | mysql.Connection): value is mysql.Connection {
  return typeof (value as mysql.Connection).query === 'function';
}

/** Picks up to `count` existing keys of a table by sampling ids between its smallest and largest. */
async function sampleIds(
  conn: mysql.Connection,
  rng: Rng,
  table: string,
  key: string,
  count: number,
  where = '1=1',
): Promise<number[]> {
  if (count <= 0) return [];
  const [bounds] = await conn.query<Row[]>(
    `SELECT MIN(${key}) AS lo, MAX(${key}) AS hi FROM ${table} WHERE ${key} < ${UNKNOWN_CUSTOMER_BASE}`,
  );
  const lo = Number(bounds[0]?.lo);
  const hi = Number(bounds[0]?.hi);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const picked = new Set<number>();
  for (let round = 0; round < 20 && picked.size < count; round++) {
    const candidates = Array.from({ length: count * 4 }, () => rng.int(lo, hi));
    const [rows] = await conn.query<Row[]>(
      `SELECT ${key} AS id FROM ${table} WHERE ${key} IN (?) AND ${where} ORDER BY ${key}`,
      [candidates],
    );
    for (const row of rows) {
      if (picked.size < count) picked.add(Number(row.id));
    }
  }
  return [...picked].sort((a, b) => a - b);
}

export async function applyChanges(targets: ChangeTargets, options: ChangeOptions): Promise<ChangeSet> {
  const updatedMs =
    typeof options.updatedAt === 'string' ? Date.parse(options.updatedAt) : options.updatedAt.getTime();
  if (Number.isNaN(updatedMs))
    throw new Error(`updatedAt: got "${String(options.updatedAt)}"; expected a time`);
  const at3 = sqlDateTime3(updatedMs);
  const rng = new Rng(options.seed, 'changes', updatedMs);
  const conn = isConnection(targets.mysql) ? targets.mysql : await connectMysql(targets.mysql);
  const owned = !isConnection(targets.mysql);
  const changes: ChangeSet = {
    updatedAt: at3,
    mysql: {
      customers: { updated: [], inserted: [] },
      products: { updated: [], inserted: [] },
      orders: { updated: [], inserted: [] },
      order_items: { updated: [], inserted: [] },
    },
    dynamodb: { inserted: [] },
  };
  try {
    await prepareLoadSession(conn);
    await conn.beginTransaction();

    // Customers move or change tier.
    const customers = await sampleIds(conn, rng, 'customers', 'customer_id', options.customersUpdated ?? 5);
    for (const id of customers) {
      const place = rng.pick(PLACES);
      await conn.query(
        'UPDATE customers SET city = ?, state = ?, country = ?, updated_at = ? WHERE customer_id = ?',
        [place[0], place[1], place[2], at3, id],
      );
      changes.mysql.customers.updated.push(id);
    }

    // Price changes.
    const products = await sampleIds(conn, rng, 'products', 'product_id', options.productsUpdated ?? 2);
    for (const id of products) {
      await conn.query(
        'UPDATE products SET price = ROUND(price * 1.05, 2), updated_at = ? WHERE product_id = ?',
        [at3, id],
      );
      changes.mysql.products.updated.push(id);
    }

    // Orders move to their next status; a refund also credits one line's discount.
    const orders = await sampleIds(
      conn,
      rng,
      'orders',
      'order_id',
      options.ordersUpdated ?? 8,
      "status IN ('placed', 'shipped', 'delivered')",
    );
    for (const id of orders) {
      const [rows] = await conn.query<Row[]>('SELECT status FROM orders WHERE order_id = ?', [id]);
      const next = NEXT_STATUS[String(rows[0]?.status)] ?? 'delivered';
      await conn.query('UPDATE orders SET status = ?, updated_at = ? WHERE order_id = ?', [next, at3, id]);
      changes.mysql.orders.updated.push(id);
      if (next === 'refunded') {
        const [lines] = await conn.query<Row[]>(
          'SELECT line_number FROM order_items WHERE order_id = ? ORDER BY line_number LIMIT 1',
          [id],
        );
        const line = lines[0]?.line_number;
        if (line !== undefined) {
          await conn.query(
            'UPDATE order_items SET discount_amount = discount_amount + 0, updated_at = ? WHERE order_id = ? AND line_number = ?',
            [at3, id, line],
          );
          changes.mysql.order_items.updated.push(`${id}:${line}`);
        }
      }
    }

    // New customers sign up just before updatedAt.
    const [maxCustomer] = await conn.query<Row[]>(
      `SELECT COALESCE(MAX(customer_id), 0) AS id FROM customers WHERE customer_id < ${UNKNOWN_CUSTOMER_BASE}`,
    );
    let nextCustomer = Number(maxCustomer[0]?.id) + 1;
    const newCustomers: number[] = [];
    for (let k = 0; k < (options.customersInserted ?? 3); k++) {
      const id = nextCustomer++;
      const first = rng.pick(FIRST_NAMES);
      const last = rng.pick(LAST_NAMES);
      const place = rng.pick(PLACES);
      await conn.query(
        'INSERT INTO customers (customer_id, email, first_name, last_name, phone, gender, birth_date, city, state, ' +
          'country, signup_at, loyalty_tier, marketing_opt_in, updated_at) VALUES (?)',
        [
          [
            id,
            `${first}.${last}.${id}@${rng.pick(EMAIL_DOMAINS)}`.toLowerCase(),
            first,
            last,
            null,
            rng.pick(['F', 'M']),
            null,
            place[0],
            place[1],
            place[2],
            sqlDateTime(updatedMs - rng.int(60_000, 3_600_000)),
            null,
            rng.chance(0.6) ? 1 : 0,
            at3,
          ],
        ],
      );
      newCustomers.push(id);
      changes.mysql.customers.inserted.push(id);
    }

    // New orders of updated and new customers.
    const [productRows] = await conn.query<Row[]>(
      'SELECT product_id, price FROM products WHERE price > 0 ORDER BY product_id LIMIT 500',
    );
    const [maxOrder] = await conn.query<Row[]>('SELECT COALESCE(MAX(order_id), 0) AS id FROM orders');
    let nextOrder = Number(maxOrder[0]?.id) + 1;
    const buyers = [...customers, ...newCustomers];
    for (let k = 0; k < (options.ordersInserted ?? 6) && buyers.length > 0 && productRows.length > 0; k++) {
      const id = nextOrder++;
      const customerId = buyers[k % buyers.length] as number;
      const orderMs = updatedMs - rng.int(60_000, DAY_MS);
      const lineCount = rng.int(1, 3);
      let total = 0;
      for (let line = 1; line <= lineCount; line++) {
        const product = rng.pick(productRows);
        const cents = Math.round(Number(product.price) * 100);
        const quantity = rng.int(1, 2);
        total += cents * quantity;
        await conn.query(
          'INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price, discount_amount, updated_at) VALUES (?)',
          [[id, line, Number(product.product_id), quantity, money(cents), '0.00', at3]],
        );
        changes.mysql.order_items.inserted.push(`${id}:${line}`);
      }
      await conn.query(
        'INSERT INTO orders (order_id, customer_id, order_at, status, channel, payment_method, currency, total_amount, ' +
          'discount_amount, updated_at) VALUES (?)',
        [
          [
            id,
            customerId,
            sqlDateTime(orderMs),
            'placed',
            rng.pick(['web', 'mobile']),
            'card',
            'USD',
            money(total),
            '0.00',
            at3,
          ],
        ],
      );
      changes.mysql.orders.inserted.push(id);
    }
    await conn.commit();
  } catch (error) {
    await conn.rollback().catch(() => {});
    throw error;
  } finally {
    if (owned) await conn.end();
  }

  // Interaction events written at updatedAt: recent ones, and one that arrives late.
  if (targets.dynamodb) {
    const people = [...changes.mysql.customers.updated, ...changes.mysql.customers.inserted];
    const items: EventItem[] = [];
    const updated = isoTime(updatedMs);
    const count = people.length > 0 ? (options.eventsInserted ?? 12) : 0;
    for (let k = 0; k < count; k++) {
      const customerId = people[k % people.length] as number;
      const late = k === 0;
      const at = isoTime(updatedMs - (late ? 20 * DAY_MS : rng.int(1000, 2 * DAY_MS)));
      const id = rng.uuid();
      const type = rng.pick(['login', 'web_visit', 'email_open'] as const);
      const item: EventItem = {
        customer_key: `customer#${customerId}`,
        event_key: `${at}#${id}`,
        event_id: id,
        event_type: type,
        event_at: at,
        updated_at: updated,
        customer_id: customerId,
      };
      if (type === 'login')
        Object.assign(item, { device: 'desktop', ip_address: '203.0.113.7', success: true });
      if (type === 'web_visit') Object.assign(item, { device: 'mobile', traffic_source: 'direct' });
      if (type === 'email_open') item.campaign_id = 'cmp-incremental';
      items.push(item);
      changes.dynamodb.inserted.push({
        customer_key: String(item.customer_key),
        event_key: String(item.event_key),
        event_id: id,
      });
    }
    for (let k = 0; k < items.length; k += 25) {
      await batchWriteWithRetry(
        targets.dynamodb.client,
        targets.dynamodb.tableName,
        items.slice(k, k + 25).map(putRequest),
      );
    }
  }
  return changes;
}
