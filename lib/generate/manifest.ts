import {
  DIRTY_KINDS,
  MODEL,
  type PersonBatch,
  PURCHASE_PROFILES,
  type PurchaseProfile,
  UNKNOWN_CUSTOMER_BASE,
} from './model.js';
import type { ResolvedOptions } from './options.js';
import { O } from './rows.js';

/**
 * The ground truth of a generated data set: exact counts of every entity as written, of every planted
 * anomaly by kind, and the fraud customers. Later pipeline stages assert what they catch against it.
 * It holds no timing or host information, so the same seed and options give a byte-identical file.
 */
export interface Manifest {
  readonly generator: { readonly name: 'customer360-generate'; readonly version: 1 };
  readonly options: {
    readonly customers: number;
    readonly seed: string;
    readonly start: string;
    readonly end: string;
    readonly historyStart: string;
    readonly products: number;
    readonly legacyShare: number;
    readonly dirtyShare: number;
    readonly fraudShare: number;
    readonly fraudWindowDays: number;
    readonly historyCustomerKey: string;
    readonly purchaseProfile: string;
  };
  /** The behavioural parameters the data was drawn from (true values for model-fitting tests). */
  readonly model: typeof MODEL & { readonly purchases: PurchaseProfile & { readonly profile: string } };
  /**
   * The purchase distribution as realised, over buyers: people with at least one own order (see
   * `PersonFacts.purchases`: both eras, legacy orders one by one, takeover orders excluded).
   */
  readonly purchases: {
    readonly definition: string;
    buyers: number;
    /** Buyers with exactly one order. */
    oneTimeBuyers: number;
    /** oneTimeBuyers / buyers, 4 decimals. */
    oneTimeBuyerShare: number;
    /** Median orders per buyer (the lower middle value when the number of buyers is even). */
    medianOrdersPerBuyer: number;
    /** Repeat orders over the years buyers were active (first order to drop-out or the end), 2 decimals. */
    meanPurchasesPerYearWhileActive: number;
    /** Buyers by number of orders: "1" to "9" and "10+". */
    ordersPerBuyer: Record<string, number>;
  };
  readonly counts: {
    /** Rows per MySQL table, dirty rows included. */
    readonly mysql: { customers: number; products: number; orders: number; order_items: number };
    /** Items in the interactions table, duplicates included. */
    readonly dynamodb: { items: number };
    /** Data rows per history file (header excluded), duplicates included. */
    readonly history: { rows: number; files: Record<string, number> };
  };
  readonly people: {
    /** People simulated (`customers` option). */
    total: number;
    /** People with a MySQL customers row. */
    mysqlCustomers: number;
    /** Signed up before `start` and still active then: in MySQL and in history. */
    legacyMigrated: number;
    /** Signed up and churned before `start`: only in history (their legacy id matches no MySQL id). */
    legacyOnly: number;
    /** MySQL customers without any MySQL order. */
    withoutOrders: number;
    marketingOptIn: number;
    loyaltyMembers: number;
    /** MySQL customers whose stored email is not trimmed lower case (they match only after normalizing). */
    nonNormalizedEmail: number;
  };
  readonly orders: {
    byStatus: Record<string, number>;
    byChannel: Record<string, number>;
    byPaymentMethod: Record<string, number>;
    withDiscount: number;
    /** Orders placed after a clicked marketing email. */
    emailAttributed: number;
  };
  readonly interactions: {
    byEventType: Record<string, number>;
    /** By the prefix of `customer_key`: customer, visitor, email. */
    byKeyKind: Record<string, number>;
    /** Visitor ids of customers that an `identify` event maps to the customer. */
    identifiedVisitors: number;
    /** Visitor ids of customers that no `identify` event maps (their events cannot be resolved). */
    unidentifiedVisitors: number;
    /** Visitor ids of people who never became customers. */
    anonymousOnlyVisitors: number;
    /** Email-keyed events whose address differs from the normalized one (capitalized). */
    emailKeyedNotNormalized: number;
  };
  readonly history: {
    readonly customerKey: string;
    readonly rule: string;
    rowsOfMigratedCustomers: number;
    rowsOfLegacyOnlyCustomers: number;
  };
  readonly anomalies: {
    /** Planted dirty records per source and kind; every one is also a line of anomalies.jsonl. */
    readonly dirty: Record<string, Record<string, number>>;
    dirtyTotal: number;
    readonly unknownCustomerIdsFrom: number;
    readonly fraud: {
      readonly windowStart: string;
      readonly windowEnd: string;
      /** What every planted case satisfies in the window (and no other customer does for logins). */
      readonly guarantees: {
        readonly fraudCustomers: string;
        readonly otherCustomers: string;
      };
      customers: number;
      byVariant: Record<string, number>;
      customerIds: number[];
      /** Other customers that reach an order signal on their own in the window (honest heavy buyers). */
      otherCustomersWithOrderSignals: {
        ordersOver10: number;
        orderTotalOver1000: number;
      };
    };
  };
}

export const PURCHASES_DEFINITION =
  'buyers: people with at least one order of their own, over the legacy and MySQL eras (legacy orders ' +
  'one by one, before same-day orders are summed into a history row; before dirty records; without a ' +
  "takeover's orders); mean purchases a year while active: repeat orders divided by the years from each " +
  "buyer's first order to their drop-out (their last order) or the end of the range";

export const LEGACY_RULE =
  'legacy_id: L + 7-digit person number; a migrated customer keeps the number as its MySQL customer_id ' +
  '(L0000042 is customer 42); a legacy id with no MySQL customer is a legacy-only customer. ' +
  'email: the customer email (sometimes capitalized); match after trim + lower case.';

const inc = (map: Record<string, number>, key: string, by = 1) => {
  map[key] = (map[key] ?? 0) + by;
};

export class ManifestBuilder {
  private readonly m: Manifest;
  private readonly historyLines = new Map<string, number>();
  /** Buyers by number of orders, unbounded, for the exact median. */
  private readonly buyersByOrders = new Map<number, number>();
  private repeatOrders = 0;
  private activeYears = 0;

  constructor(options: ResolvedOptions) {
    const dirty: Record<string, Record<string, number>> = {};
    for (const [source, kinds] of Object.entries(DIRTY_KINDS)) {
      dirty[source] = Object.fromEntries(kinds.map((k) => [k, 0]));
    }
    this.m = {
      generator: { name: 'customer360-generate', version: 1 },
      options: {
        customers: options.customers,
        seed: options.seed,
        start: options.start,
        end: options.end,
        historyStart: new Date(options.historyStartMs).toISOString().slice(0, 10),
        products: options.products,
        legacyShare: options.legacyShare,
        dirtyShare: options.dirtyShare,
        fraudShare: options.fraudShare,
        fraudWindowDays: options.fraudWindowDays,
        historyCustomerKey: options.historyCustomerKey,
        purchaseProfile: options.purchaseProfile,
      },
      model: {
        ...MODEL,
        purchases: { profile: options.purchaseProfile, ...PURCHASE_PROFILES[options.purchaseProfile] },
      },
      purchases: {
        definition: PURCHASES_DEFINITION,
        buyers: 0,
        oneTimeBuyers: 0,
        oneTimeBuyerShare: 0,
        medianOrdersPerBuyer: 0,
        meanPurchasesPerYearWhileActive: 0,
        ordersPerBuyer: {},
      },
      counts: {
        mysql: { customers: 0, products: 0, orders: 0, order_items: 0 },
        dynamodb: { items: 0 },
        history: { rows: 0, files: {} },
      },
      people: {
        total: 0,
        mysqlCustomers: 0,
        legacyMigrated: 0,
        legacyOnly: 0,
        withoutOrders: 0,
        marketingOptIn: 0,
        loyaltyMembers: 0,
        nonNormalizedEmail: 0,
      },
      orders: {
        byStatus: { placed: 0, shipped: 0, delivered: 0, cancelled: 0, refunded: 0 },
        byChannel: { web: 0, mobile: 0, store: 0 },
        byPaymentMethod: {},
        withDiscount: 0,
        emailAttributed: 0,
      },
      interactions: {
        byEventType: {},
        byKeyKind: { customer: 0, visitor: 0, email: 0 },
        identifiedVisitors: 0,
        unidentifiedVisitors: 0,
        anonymousOnlyVisitors: 0,
        emailKeyedNotNormalized: 0,
      },
      history: {
        customerKey: options.historyCustomerKey,
        rule: LEGACY_RULE,
        rowsOfMigratedCustomers: 0,
        rowsOfLegacyOnlyCustomers: 0,
      },
      anomalies: {
        dirty,
        dirtyTotal: 0,
        unknownCustomerIdsFrom: UNKNOWN_CUSTOMER_BASE,
        fraud: {
          windowStart: new Date(options.fraudWindowStartMs).toISOString(),
          windowEnd: new Date(options.endMs).toISOString(),
          guarantees: {
            fraudCustomers:
              'in the window: at least 25 login attempts, 12 failed, 8 distinct IP addresses; and either ' +
              '2-5 orders over 1000 (large_orders) or at least 12 orders (many_orders)',
            otherCustomers:
              'in the window, counting each event_id once and only parseable events: at most 3 distinct ' +
              'login IP addresses and at most 2 failed logins',
          },
          customers: 0,
          byVariant: { large_orders: 0, many_orders: 0 },
          customerIds: [],
          otherCustomersWithOrderSignals: { ordersOver10: 0, orderTotalOver1000: 0 },
        },
      },
    };
  }

  addProducts(count: number): void {
    this.m.counts.mysql.products += count;
  }

  /** Counts a person's rows; gives planted history rows their `file:line` key. Call in write order. */
  add(batch: PersonBatch): void {
    const m = this.m;
    const f = batch.facts;
    m.people.total++;
    if (batch.customer) {
      m.counts.mysql.customers++;
      m.people.mysqlCustomers++;
      if (f.legacy) m.people.legacyMigrated++;
      if (batch.orders.length === 0) m.people.withoutOrders++;
      if (f.marketingOptIn) m.people.marketingOptIn++;
      if (f.loyaltyMember) m.people.loyaltyMembers++;
      if (f.nonNormalizedEmail) m.people.nonNormalizedEmail++;
    }
    if (f.legacyOnly) m.people.legacyOnly++;
    if (f.purchases > 0) {
      this.buyersByOrders.set(f.purchases, (this.buyersByOrders.get(f.purchases) ?? 0) + 1);
      this.repeatOrders += f.purchases - 1;
      this.activeYears += f.activeYears;
    }
    m.counts.mysql.orders += batch.orders.length;
    m.counts.mysql.order_items += batch.items.length;
    for (const row of batch.orders) {
      inc(m.orders.byStatus, String(row[O.status]));
      inc(m.orders.byChannel, String(row[O.channel]));
      inc(m.orders.byPaymentMethod, String(row[O.payment]));
      if (row[O.discount] !== '0.00') m.orders.withDiscount++;
    }
    m.orders.emailAttributed += f.emailAttributedOrders;
    m.counts.dynamodb.items += batch.events.length;
    for (const item of batch.events) {
      inc(m.interactions.byEventType, String(item.event_type));
      const key = String(item.customer_key);
      const kind = key.slice(0, key.indexOf('#'));
      inc(m.interactions.byKeyKind, kind);
      // Counted on the items as written: a planted duplicate of a capitalized event is one more.
      if (kind === 'email' && String(item.email) !== String(item.email).toLowerCase())
        m.interactions.emailKeyedNotNormalized++;
    }
    m.interactions.identifiedVisitors += f.visitorsIdentified;
    m.interactions.unidentifiedVisitors += f.visitorsUnidentified;
    if (f.anonymousVisitor) m.interactions.anonymousOnlyVisitors++;
    for (const row of batch.history) {
      const line = (this.historyLines.get(row.file) ?? 0) + 1;
      this.historyLines.set(row.file, line);
      inc(m.counts.history.files, row.file);
      m.counts.history.rows++;
      if (f.legacyOnly) m.history.rowsOfLegacyOnlyCustomers++;
      else m.history.rowsOfMigratedCustomers++;
      if (row.anomaly)
        batch.anomalies.push({ source: 'history', kind: row.anomaly, key: `${row.file}:${line}` });
    }
    for (const a of batch.anomalies) {
      const bySource = m.anomalies.dirty[a.source] as Record<string, number>;
      inc(bySource, a.kind);
      m.anomalies.dirtyTotal++;
    }
    if (batch.fraud) {
      m.anomalies.fraud.customers++;
      inc(m.anomalies.fraud.byVariant, batch.fraud.variant);
      m.anomalies.fraud.customerIds.push(batch.fraud.customerId);
    } else if (f.window) {
      if (f.window.orders > 10) m.anomalies.fraud.otherCustomersWithOrderSignals.ordersOver10++;
      if (f.window.maxOrderCents > 100_000)
        m.anomalies.fraud.otherCustomersWithOrderSignals.orderTotalOver1000++;
    }
  }

  private purchases(): Manifest['purchases'] {
    const byOrders = [...this.buyersByOrders.entries()].sort(([a], [b]) => a - b);
    const buyers = byOrders.reduce((sum, [, n]) => sum + n, 0);
    const ordersPerBuyer: Record<string, number> = {};
    for (let k = 1; k <= 9; k++) ordersPerBuyer[String(k)] = this.buyersByOrders.get(k) ?? 0;
    ordersPerBuyer['10+'] = byOrders.filter(([k]) => k >= 10).reduce((sum, [, n]) => sum + n, 0);
    // The lower median: the order count of the ceil(buyers / 2)-th buyer in ascending order.
    let median = 0;
    let seen = 0;
    for (const [orders, n] of byOrders) {
      seen += n;
      if (seen >= Math.ceil(buyers / 2)) {
        median = orders;
        break;
      }
    }
    const oneTime = this.buyersByOrders.get(1) ?? 0;
    const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
    return {
      definition: PURCHASES_DEFINITION,
      buyers,
      oneTimeBuyers: oneTime,
      oneTimeBuyerShare: buyers > 0 ? round(oneTime / buyers, 4) : 0,
      medianOrdersPerBuyer: median,
      meanPurchasesPerYearWhileActive:
        this.activeYears > 0 ? round(this.repeatOrders / this.activeYears, 2) : 0,
      ordersPerBuyer,
    };
  }

  build(): Manifest {
    const m = this.m;
    const sorted = (r: Record<string, number>) =>
      Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return {
      ...m,
      purchases: this.purchases(),
      counts: { ...m.counts, history: { ...m.counts.history, files: sorted(m.counts.history.files) } },
      orders: { ...m.orders, byPaymentMethod: sorted(m.orders.byPaymentMethod) },
      interactions: { ...m.interactions, byEventType: sorted(m.interactions.byEventType) },
    };
  }
}
