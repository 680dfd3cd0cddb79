import {
  type Catalog,
  EMAIL_DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  MAX_MONTH_FACTOR,
  PLACES,
  seasonFactor,
} from './catalog.js';
import { DAY_MS, type PurchaseProfileName, type ResolvedOptions } from './options.js';
import { Rng } from './rng.js';
import {
  type EventItem,
  type HistoryRow,
  isoDay,
  isoTime,
  money,
  type SqlRow,
  sqlDateTime,
  sqlDateTime3,
} from './rows.js';

/**
 * The behavioural model: one person at a time, from signup to the end of the range.
 *
 * Purchases follow BG/NBD (Fader, Hardie and Lee 2005): while alive a person buys as a Poisson
 * process with a rate drawn from a gamma distribution, and after each purchase drops out with a
 * probability drawn from a beta distribution, with the parameters of a purchase profile
 * (`PURCHASE_PROFILES`: the published CDNOW fit by default). The Poisson process is thinned by a monthly
 * seasonality (November and December peaks). Email opens and clicks, ad clicks and web browsing
 * rise with the person's purchase rate and fall after drop-out; a clicked email sometimes leads to an
 * extra order.
 */
export const MODEL = {
  /** Share of people who sign up and never buy. */
  neverBuyShare: 0.12,
  /** Lines per order: 1 + Poisson(mu), mu ~ gamma(shape, scale) per person. */
  basket: { shape: 2, scale: 0.35, maxLines: 8 },
  channels: { web: 0.5, mobile: 0.3, store: 0.2 },
  /** Probability that an order uses the person's preferred channel. */
  channelLoyalty: 0.75,
  cancelShare: { online: 0.045, store: 0.01 },
  refundShare: 0.035,
  promoShare: { ordinary: 0.2, holiday: 0.45 },
  marketingOptInShare: 0.65,
  loyaltyMemberShare: 0.4,
  /** Share of campaigns each opted-in person is targeted by. */
  campaignReach: 0.2,
  /** Share of email events that arrive from the email provider keyed by address only. */
  emailKeyedShare: 0.3,
  /** Probability that a clicked email of a live customer leads to an extra order. */
  emailOrderShare: 0.15,
  adViewsPerYear: 2.5,
  browseVisitsPerYear: 2.5,
  loginsPerYear: 1.2,
  failedLoginShare: 0.04,
  /** Share of people who also leave a trail as an anonymous visitor who never becomes a customer. */
  anonymousVisitorShare: 0.3,
} as const;

/** How often people buy and when they stop: the BG/NBD parameters of one kind of retailer. */
export interface PurchaseProfile {
  readonly description: string;
  /** Purchase rate per year while alive: gamma(shape, scale), mean shape * scale, capped. */
  readonly purchaseRate: { readonly shape: number; readonly scale: number; readonly capPerYear: number };
  /** Probability of dropping out after a purchase: beta(a, b). */
  readonly dropout: { readonly a: number; readonly b: number };
  /**
   * Whether a person may drop out right after the first purchase. BG/NBD as published lets people drop
   * out only after a repeat purchase (a one-time buyer is alive for sure), and the fitted parameters
   * only mean what they say under that assumption; the grocery profile keeps the older variant.
   */
  readonly dropoutAfterFirstPurchase: boolean;
  /**
   * Email, ad and browsing engagement rise with log(rate / centre); rates below `floor` count as
   * `floor` (someone who almost never buys still opens some email).
   */
  readonly engagement: { readonly centre: number; readonly floor: number };
}

/** Weeks in the 365.25-day year the generator counts in. */
export const WEEKS_PER_YEAR = 365.25 / 7;

/**
 * The BG/NBD fit to the CDNOW cohort (2,357 customers, 78 weeks) published by Fader, Hardie and Lee,
 * "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science
 * 24(2), 2005: purchase rate gamma(r, alpha) per week, dropout beta(a, b).
 */
export const CDNOW_BGNBD_FIT = { r: 0.243, alphaWeeks: 4.414, a: 0.793, b: 2.426 } as const;

export const PURCHASE_PROFILES: Readonly<Record<PurchaseProfileName, PurchaseProfile>> = {
  retail: {
    description:
      'occasional retail: the published CDNOW BG/NBD fit (r 0.243, alpha 4.414 weeks, a 0.793, b 2.426); ' +
      'about 2.9 purchases a year while alive on average, most people far fewer',
    purchaseRate: {
      shape: CDNOW_BGNBD_FIT.r,
      // A rate of gamma(r, rate alpha) per week is gamma(r, scale 1 / alpha) per week, so
      // gamma(r, scale WEEKS_PER_YEAR / alpha) per year.
      scale: WEEKS_PER_YEAR / CDNOW_BGNBD_FIT.alphaWeeks,
      capPerYear: 150,
    },
    dropout: { a: CDNOW_BGNBD_FIT.a, b: CDNOW_BGNBD_FIT.b },
    dropoutAfterFirstPurchase: false,
    engagement: { centre: (CDNOW_BGNBD_FIT.r * WEEKS_PER_YEAR) / CDNOW_BGNBD_FIT.alphaWeeks, floor: 0.5 },
  },
  grocery: {
    description:
      'frequent-purchase retail (grocery, drugstore): about 11.5 purchases a year while alive, ' +
      'dropout beta(1, 16) after every purchase, the first included',
    purchaseRate: { shape: 1.1, scale: 10.5, capPerYear: 150 },
    dropout: { a: 1.0, b: 16 },
    dropoutAfterFirstPurchase: true,
    engagement: { centre: 6, floor: 0.05 },
  },
};

/** Ids at and above this never belong to a customer: used for orders and events of unknown customers. */
export const UNKNOWN_CUSTOMER_BASE = 1_000_000_000_000;
/** Legacy ids of people absent from MySQL are still `L` + their person number; see README. */
export const legacyIdFor = (personId: number) => `L${String(personId).padStart(7, '0')}`;

const YEAR_MS = 365.25 * DAY_MS;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export type Channel = 'web' | 'mobile' | 'store';

export interface Anomaly {
  readonly source:
    | 'mysql.customers'
    | 'mysql.orders'
    | 'mysql.order_items'
    | 'dynamodb.interactions'
    | 'history';
  readonly kind: string;
  /** customer_id, order_id, `order_id:line_number`, `customer_key|event_key`, or `file:line` for history. */
  key: string;
}

export const DIRTY_KINDS = {
  'mysql.customers': ['zero_signup_date', 'invalid_birth_date'],
  'mysql.orders': [
    'null_customer_id',
    'unknown_customer',
    'negative_amount',
    'zero_order_date',
    'invalid_order_date',
  ],
  'mysql.order_items': ['null_product_id', 'unknown_product'],
  'dynamodb.interactions': [
    'unparseable_event_at',
    'missing_event_id',
    'null_customer_key',
    'unknown_customer',
    'duplicate_event_id',
  ],
  history: ['missing_customer', 'negative_amount', 'unparseable_date', 'duplicate_row'],
} as const;

export interface FraudCase {
  readonly customerId: number;
  readonly variant: 'large_orders' | 'many_orders';
  readonly loginAttempts: number;
  readonly failedLogins: number;
  readonly distinctIps: number;
  readonly orders: number;
  readonly maxOrderTotal: string;
}

/** The fraud-window signals of one customer, counted over what was emitted. */
export interface WindowSignals {
  loginAttempts: number;
  failedLogins: number;
  distinctIps: number;
  orders: number;
  maxOrderCents: number;
}

export interface PersonFacts {
  readonly legacy: boolean;
  readonly legacyOnly: boolean;
  readonly buyer: boolean;
  readonly marketingOptIn: boolean;
  readonly loyaltyMember: boolean;
  readonly nonNormalizedEmail: boolean;
  readonly visitorsIdentified: number;
  readonly visitorsUnidentified: number;
  readonly anonymousVisitor: boolean;
  readonly emailAttributedOrders: number;
  readonly window: WindowSignals | null;
  /**
   * The person's own orders over the whole range, legacy and MySQL eras, as placed (before dirty
   * records; a takeover's orders are not the person's). Legacy orders count one by one, although the
   * history files sum a day's orders into one row.
   */
  readonly purchases: number;
  /** Time of the first own order, epoch ms; null without one. */
  readonly firstPurchaseMs: number | null;
  /** Years from the first own order to drop-out (the last purchase) or the end of the range; 0 without orders. */
  readonly activeYears: number;
}

export interface PersonBatch {
  readonly personId: number;
  readonly customer: SqlRow | null;
  readonly orders: SqlRow[];
  readonly items: SqlRow[];
  readonly events: EventItem[];
  /** History rows; `anomaly` marks a planted dirty row (its key is the file and line, known when written). */
  readonly history: (HistoryRow & { anomaly?: string })[];
  /** Planted dirty records except history ones, which carry `anomaly` on the row. */
  readonly anomalies: Anomaly[];
  readonly fraud: FraudCase | null;
  readonly facts: PersonFacts;
}

interface Line {
  readonly productIndex: number;
  readonly quantity: number;
  readonly unitCents: number;
  readonly discountCents: number;
}

interface Order {
  readonly atMs: number;
  readonly channel: Channel;
  readonly lines: Line[];
  readonly fromEmail: boolean;
  readonly fraud: boolean;
  totalCents: number;
  discountCents: number;
  status: string;
  updatedMs: number;
  deliveredMs: number | null;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** A time in [from, to) with density rising linearly (the business grows): twice as dense at the end. */
function growthTime(rng: Rng, from: number, to: number): number {
  const g = 1;
  const u = rng.next() * (1 + g / 2);
  const x = (-1 + Math.sqrt(1 + 2 * g * u)) / g;
  return Math.floor(from + Math.min(0.999999, x) * (to - from));
}

function randomIp(rng: Rng): string {
  let a = rng.int(11, 223);
  if (a === 127 || a === 172 || a === 192 || a === 169 || a === 100) a += 1;
  return `${a}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

/** An anonymous visitor (cookie) id: `v-` and 16 hex digits, the same shape for customers and strangers. */
function visitorId(rng: Rng): string {
  return `v-${rng.nextUint32().toString(16).padStart(8, '0')}${rng.nextUint32().toString(16).padStart(8, '0')}`;
}

function paymentFor(rng: Rng, channel: Channel): string {
  switch (channel) {
    case 'store':
      return rng.weighted([
        ['card', 0.7],
        ['cash', 0.25],
        ['gift_card', 0.05],
      ]);
    case 'web':
      return rng.weighted([
        ['card', 0.65],
        ['paypal', 0.25],
        ['gift_card', 0.1],
      ]);
    default:
      return rng.weighted([
        ['card', 0.5],
        ['mobile_wallet', 0.3],
        ['paypal', 0.2],
      ]);
  }
}

function capitalizeEmail(email: string): string {
  return email.replace(/(^|[.@])([a-z])/g, (_, sep: string, ch: string) => sep + ch.toUpperCase());
}

export class PersonModel {
  constructor(
    private readonly options: ResolvedOptions,
    private readonly catalog: Catalog,
  ) {}

  /** Simulates person `personId` (1-based); order ids start at `firstOrderId`. */
  simulate(personId: number, firstOrderId: number): PersonBatch {
    const o = this.options;
    const catalog = this.catalog;
    const rng = new Rng(o.seed, 'person', personId);
    const arng = new Rng(o.seed, 'anomaly', personId);
    const endMs = o.endMs;

    // ---- who
    const legacy = rng.chance(o.legacyShare);
    const signupMs = legacy
      ? growthTime(rng, o.historyStartMs, o.startMs)
      : growthTime(rng, o.startMs, endMs - 14 * DAY_MS);
    const profile = PURCHASE_PROFILES[o.purchaseProfile];
    const lambda = Math.min(
      profile.purchaseRate.capPerYear,
      rng.gamma(profile.purchaseRate.shape, profile.purchaseRate.scale),
    );
    const dropout = rng.beta(profile.dropout.a, profile.dropout.b);
    const buyer = !rng.chance(MODEL.neverBuyShare);

    // ---- when they buy (BG/NBD with seasonal thinning)
    const times: number[] = [];
    let deathMs = Number.POSITIVE_INFINITY;
    if (buyer) {
      let t = Math.floor(signupMs + rng.between(0, 3 * DAY_MS));
      if (t < endMs) times.push(t);
      const ratePerMs = (lambda * MAX_MONTH_FACTOR) / YEAR_MS;
      while (t < endMs && times.length < 2000) {
        // BG/NBD as published: no dropout right after the first (trial) purchase, only after repeats.
        if ((times.length > 1 || profile.dropoutAfterFirstPurchase) && rng.chance(dropout)) {
          deathMs = t;
          break;
        }
        let accepted = false;
        for (;;) {
          t += rng.exponential(ratePerMs);
          if (!(t < endMs)) break;
          if (rng.next() * MAX_MONTH_FACTOR < seasonFactor(t)) {
            accepted = true;
            break;
          }
        }
        if (!accepted) break;
        times.push(Math.floor(t));
      }
    }
    const activeUntil = buyer ? deathMs : signupMs + 60 * DAY_MS;
    const legacyOnly = legacy && buyer && deathMs < o.startMs;
    const inMysql = !legacyOnly;

    // ---- profile
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const email = `${first}.${last}.${personId}@${rng.pick(EMAIL_DOMAINS)}`.toLowerCase();
    const nonNormalizedEmail = rng.chance(0.03);
    const storedEmail = nonNormalizedEmail ? capitalizeEmail(email) : email;
    const legacyEmail = legacy && rng.chance(0.1) ? capitalizeEmail(email) : email;
    const phone = rng.chance(0.92)
      ? `+1-${rng.int(201, 989)}-555-01${String(rng.int(0, 99)).padStart(2, '0')}`
      : null;
    const gender = rng.weighted<string | null>([
      ['F', 0.48],
      ['M', 0.46],
      ['X', 0.02],
      [null, 0.04],
    ]);
    const birthMs = signupMs - rng.int(18, 80) * YEAR_MS - rng.int(0, 364) * DAY_MS;
    const birthDate = rng.chance(0.95) ? isoDay(birthMs) : null;
    const place = rng.weighted(PLACES.map((p) => [p, p[3]] as const));
    const marketingOptIn = rng.chance(MODEL.marketingOptInShare);
    const loyaltyMember = rng.chance(MODEL.loyaltyMemberShare);
    const primary = rng.weighted<Channel>([
      ['web', MODEL.channels.web],
      ['mobile', MODEL.channels.mobile],
      ['store', MODEL.channels.store],
    ]);
    const basketMu = rng.gamma(MODEL.basket.shape, MODEL.basket.scale);
    // Engagement rises with the purchase rate (log scale around the population mean).
    const z = Math.log(Math.max(lambda, profile.engagement.floor) / profile.engagement.centre);
    const openP = sigmoid(-1.0 + 0.55 * z + rng.normal(0, 0.4));
    const clickP = sigmoid(-1.6 + 0.4 * z + rng.normal(0, 0.4));
    const adClickP = sigmoid(-3.4 + 0.5 * z + rng.normal(0, 0.3));
    const browseRate = MODEL.browseVisitsPerYear * Math.exp(0.4 * z);
    const ips = [randomIp(rng), randomIp(rng)];
    if (rng.chance(0.3)) ips.push(randomIp(rng));
    const visitorCount = rng.chance(0.45) ? (rng.chance(0.3) ? 2 : 1) : 0;
    const visitors = Array.from({ length: visitorCount }, () => ({
      id: visitorId(rng),
      identified: rng.chance(0.75),
    }));

    const basket = (atMs: number): Line[] => {
      const month = new Date(atMs).getUTCMonth();
      const promo = rng.chance(month >= 10 ? MODEL.promoShare.holiday : MODEL.promoShare.ordinary);
      const pct = promo ? rng.pick([5, 10, 15, 20, 25, 30]) : 0;
      const n = Math.min(MODEL.basket.maxLines, 1 + rng.poisson(basketMu));
      const lines: Line[] = [];
      const used = new Set<number>();
      for (let k = 0; k < n; k++) {
        let productIndex = catalog.popularProduct(rng);
        if (used.has(productIndex)) productIndex = catalog.popularProduct(rng);
        if (used.has(productIndex)) continue;
        used.add(productIndex);
        const quantity = Math.min(5, rng.geometric(0.72));
        const unitCents = catalog.product(productIndex).priceCents;
        lines.push({
          productIndex,
          quantity,
          unitCents,
          discountCents: Math.round((quantity * unitCents * pct) / 100),
        });
      }
      return lines;
    };
    const channelFor = (): Channel =>
      rng.chance(MODEL.channelLoyalty)
        ? primary
        : rng.weighted<Channel>([
            ['web', MODEL.channels.web],
            ['mobile', MODEL.channels.mobile],
            ['store', MODEL.channels.store],
          ]);
    const newOrder = (
      atMs: number,
      channel: Channel,
      lines: Line[],
      fromEmail: boolean,
      fraud: boolean,
    ): Order => {
      let gross = 0;
      let discount = 0;
      for (const l of lines) {
        gross += l.quantity * l.unitCents;
        discount += l.discountCents;
      }
      return {
        atMs,
        channel,
        lines,
        fromEmail,
        fraud,
        totalCents: gross - discount,
        discountCents: discount,
        status: 'placed',
        updatedMs: atMs,
        deliveredMs: null,
      };
    };

    const orders: Order[] = times.map((t) => newOrder(t, channelFor(), basket(t), false, false));

    // ---- events (interactions exist from the MySQL era start, for MySQL customers only)
    const timed: [number, EventItem][] = [];
    const eraStart = Math.max(signupMs, o.startMs);
    const customerKey = `customer#${personId}`;
    const deviceFor = (channel: Channel) =>
      channel === 'mobile'
        ? 'mobile'
        : rng.weighted([
            ['desktop', 0.8],
            ['tablet', 0.2],
          ] as const);
    const ipFor = (device: string) =>
      device === 'mobile'
        ? (ips[1] as string)
        : ips.length > 2 && rng.chance(0.3)
          ? (ips[2] as string)
          : (ips[0] as string);
    const lag = () => (rng.chance(0.97) ? rng.int(50, 90_000) : rng.int(HOUR_MS, 3 * DAY_MS));
    type Via = { kind: 'customer' } | { kind: 'visitor'; id: string } | { kind: 'email'; address: string };
    const CUSTOMER: Via = { kind: 'customer' };
    const emit = (type: string, atMs: number, via: Via, attrs: EventItem = {}) => {
      if (!(atMs >= o.startMs && atMs < endMs)) return;
      const id = rng.uuid();
      const at = isoTime(atMs);
      const updated = isoTime(Math.min(atMs + lag(), endMs - 1));
      const key =
        via.kind === 'customer'
          ? customerKey
          : via.kind === 'visitor'
            ? `visitor#${via.id}`
            : `email#${via.address}`;
      const item: EventItem = {
        customer_key: key,
        event_key: `${at}#${id}`,
        event_id: id,
        event_type: type,
        event_at: at,
        updated_at: updated,
      };
      if (via.kind === 'customer') item.customer_id = personId;
      else if (via.kind === 'visitor') item.visitor_id = via.id;
      else item.email = via.address;
      Object.assign(item, attrs);
      timed.push([atMs, item]);
    };
    const visitorVia = (share: number): Via => {
      if (visitors.length === 0 || !rng.chance(share)) return CUSTOMER;
      return { kind: 'visitor', id: rng.pick(visitors).id };
    };
    const login = (atMs: number, device: string) => {
      if (rng.chance(MODEL.failedLoginShare)) {
        emit('login', atMs - rng.int(10_000, 120_000), CUSTOMER, {
          device,
          ip_address: ipFor(device),
          success: false,
        });
      }
      emit('login', atMs, CUSTOMER, { device, ip_address: ipFor(device), success: true });
    };
    const trafficSource = () =>
      rng.weighted([
        ['organic', 0.35],
        ['direct', 0.25],
        ['paid', 0.2],
        ['social', 0.1],
        ['email', 0.1],
      ] as const);

    if (inMysql && marketingOptIn) {
      const campaigns = catalog.emailCampaigns;
      let lo = 0;
      let hi = campaigns.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((campaigns[mid]?.atMs ?? 0) < eraStart) lo = mid + 1;
        else hi = mid;
      }
      for (let c = lo; c < campaigns.length; c++) {
        const campaign = campaigns[c];
        if (!campaign || !rng.chance(MODEL.campaignReach)) continue;
        const sentMs = campaign.atMs + rng.int(0, HOUR_MS);
        const alive = sentMs < activeUntil;
        const viaEsp = (): Via => {
          if (!rng.chance(MODEL.emailKeyedShare)) return CUSTOMER;
          if (rng.chance(0.1)) return { kind: 'email', address: capitalizeEmail(email) };
          return { kind: 'email', address: email };
        };
        const attrs = { campaign_id: campaign.id };
        emit('email_sent', sentMs, viaEsp(), attrs);
        if (!rng.chance(alive ? openP : openP * 0.3)) continue;
        const openMs = sentMs + Math.min(5 * DAY_MS, Math.round(rng.logNormal(Math.log(3 * HOUR_MS), 1.2)));
        emit('email_open', openMs, viaEsp(), attrs);
        if (!rng.chance(clickP)) continue;
        const clickMs = openMs + rng.int(5_000, 30 * MINUTE_MS);
        emit('email_click', clickMs, viaEsp(), attrs);
        if (alive && rng.chance(MODEL.emailOrderShare)) {
          const atMs = clickMs + rng.int(5 * MINUTE_MS, 36 * HOUR_MS);
          if (atMs < endMs) {
            orders.push(newOrder(atMs, primary === 'store' ? 'web' : primary, basket(atMs), true, false));
          }
        }
      }
    }

    // ---- fraud: an account takeover in the last days of the range
    const fraud = inMysql && signupMs < endMs - 60 * DAY_MS && o.fraudShare > 0 && arng.chance(o.fraudShare);
    let fraudVariant: FraudCase['variant'] = 'large_orders';
    if (fraud) {
      const w0 = o.fraudWindowStartMs;
      const inWindow = () => arng.int(w0 + HOUR_MS, endMs - 2 * HOUR_MS);
      fraudVariant = arng.chance(0.5) ? 'large_orders' : 'many_orders';
      const count = fraudVariant === 'large_orders' ? arng.int(2, 5) : arng.int(12, 20);
      for (let k = 0; k < count; k++) {
        const atMs = inWindow();
        let lines: Line[];
        if (fraudVariant === 'large_orders') {
          const productIndex = arng.pick(catalog.expensive);
          const unitCents = catalog.product(productIndex).priceCents;
          const quantity = Math.max(1, Math.ceil(120_000 / unitCents) + arng.int(0, 1));
          lines = [{ productIndex, quantity, unitCents, discountCents: 0 }];
        } else {
          lines = Array.from({ length: arng.int(1, 2) }, () => {
            const productIndex = catalog.popularProduct(arng);
            return {
              productIndex,
              quantity: arng.int(1, 3),
              unitCents: catalog.product(productIndex).priceCents,
              discountCents: 0,
            };
          });
          // Drop a repeated product rather than sell it on two lines.
          if (lines.length === 2 && lines[0]?.productIndex === lines[1]?.productIndex) lines.pop();
        }
        orders.push(newOrder(atMs, arng.chance(0.6) ? 'web' : 'mobile', lines, false, true));
      }
    }

    // ---- order lifecycles (status and updated_at as of the end of the range)
    orders.sort((a, b) => a.atMs - b.atMs);
    for (const order of orders) {
      if (order.atMs < o.startMs) continue;
      const r = order.fraud ? 1 : rng.next();
      const cancelShare = order.channel === 'store' ? MODEL.cancelShare.store : MODEL.cancelShare.online;
      if (r < cancelShare) {
        const cancelMs = order.atMs + rng.int(10 * MINUTE_MS, 20 * HOUR_MS);
        if (cancelMs < endMs) {
          order.status = 'cancelled';
          order.updatedMs = cancelMs;
        }
        continue;
      }
      const refund = r < cancelShare + MODEL.refundShare;
      let deliveredMs: number;
      if (order.channel === 'store') {
        deliveredMs = order.atMs;
      } else {
        const shippedMs = order.atMs + rng.int(8 * HOUR_MS, 3 * DAY_MS);
        deliveredMs = shippedMs + rng.int(DAY_MS, 6 * DAY_MS);
        if (shippedMs >= endMs) continue;
        order.status = 'shipped';
        order.updatedMs = shippedMs;
      }
      if (deliveredMs >= endMs) continue;
      order.status = 'delivered';
      order.updatedMs = deliveredMs;
      order.deliveredMs = deliveredMs;
      if (refund) {
        const refundMs = deliveredMs + rng.int(3 * DAY_MS, 30 * DAY_MS);
        if (refundMs < endMs) {
          order.status = 'refunded';
          order.updatedMs = refundMs;
        }
      }
    }

    // ---- interactions around orders, browsing, logins, ads, support, reviews, loyalty
    let loyaltyBalance = 0;
    let spendCents = 0;
    if (inMysql) {
      for (const order of orders) {
        if (order.atMs < o.startMs) {
          spendCents += order.totalCents;
          continue;
        }
        if (order.status !== 'cancelled' && order.status !== 'refunded') spendCents += order.totalCents;
        if (order.fraud) continue;
        if (order.channel !== 'store') {
          const device = deviceFor(order.channel);
          if (order.fromEmail || rng.chance(0.6)) {
            emit('web_visit', order.atMs - rng.int(2 * MINUTE_MS, 40 * MINUTE_MS), visitorVia(0.3), {
              device,
              traffic_source: order.fromEmail ? 'email' : trafficSource(),
              ip_address: ipFor(device),
            });
          }
          if (rng.chance(0.45)) login(order.atMs - rng.int(MINUTE_MS, 30 * MINUTE_MS), device);
        }
        const ticketP = order.status === 'refunded' ? 0.5 : order.status === 'cancelled' ? 0.2 : 0.03;
        if (rng.chance(ticketP)) {
          const category =
            order.status === 'refunded'
              ? 'refund'
              : order.status === 'cancelled'
                ? 'order_change'
                : rng.weighted([
                    ['delivery', 0.4],
                    ['product', 0.3],
                    ['payment', 0.15],
                    ['other', 0.15],
                  ] as const);
          supportTicket(order.updatedMs + rng.int(MINUTE_MS, 3 * DAY_MS), category);
        }
        if (order.deliveredMs !== null) {
          for (const line of order.lines) {
            const refunded = order.status === 'refunded';
            if (!rng.chance(refunded ? 0.3 : 0.07)) continue;
            const quality = catalog.product(line.productIndex).quality;
            const rating = Math.max(1, Math.min(5, Math.round(rng.normal(refunded ? 1.8 : quality, 0.9))));
            emit('review', order.deliveredMs + rng.int(DAY_MS, 21 * DAY_MS), CUSTOMER, {
              product_id: catalog.product(line.productIndex).productId,
              rating,
            });
          }
          if (loyaltyMember && order.status === 'delivered') {
            if (loyaltyBalance >= 500 && rng.chance(0.3)) {
              const redeem = Math.min(2000, Math.floor(loyaltyBalance / 500) * 500);
              loyaltyBalance -= redeem;
              emit('loyalty_redeem', order.atMs - rng.int(10_000, 5 * MINUTE_MS), CUSTOMER, {
                points: -redeem,
              });
            }
            const points = Math.floor(order.totalCents / 100);
            if (points > 0) {
              loyaltyBalance += points;
              emit('loyalty_earn', order.deliveredMs + rng.int(MINUTE_MS, HOUR_MS), CUSTOMER, { points });
            }
          }
        }
      }

      const aliveEnd = Math.min(activeUntil, endMs);
      const aliveYears = Math.max(0, aliveEnd - eraStart) / YEAR_MS;
      const deadYears = Math.max(0, endMs - Math.max(eraStart, aliveEnd)) / YEAR_MS;
      const visitCount = rng.poisson(browseRate * aliveYears) + rng.poisson(0.3 * deadYears);
      for (let k = 0; k < visitCount; k++) {
        const device = deviceFor(primary === 'store' ? 'web' : primary);
        emit('web_visit', rng.int(eraStart, endMs - 1), visitorVia(0.6), {
          device,
          traffic_source: trafficSource(),
          ip_address: ipFor(device),
        });
      }
      const loginCount = rng.poisson(MODEL.loginsPerYear * aliveYears);
      for (let k = 0; k < loginCount; k++) {
        login(
          rng.int(eraStart, Math.max(eraStart + 1, aliveEnd) - 1),
          deviceFor(primary === 'store' ? 'web' : primary),
        );
      }
      const adViews = rng.poisson(MODEL.adViewsPerYear * (aliveYears + deadYears));
      for (let k = 0; k < adViews; k++) {
        const atMs = rng.int(eraStart, endMs - 1);
        const via = visitorVia(0.5);
        const campaignId = catalog.adCampaign(rng, atMs);
        emit('ad_view', atMs, via, {
          campaign_id: campaignId,
          cost: Math.round(rng.between(0.002, 0.02) * 10000) / 10000,
        });
        if (rng.chance(atMs < activeUntil ? adClickP : adClickP * 0.3)) {
          emit('ad_click', atMs + rng.int(1000, 60_000), via, {
            campaign_id: campaignId,
            cost: Math.round(rng.between(0.25, 2.5) * 100) / 100,
          });
        }
      }
      const accountTickets = rng.poisson(0.08 * aliveYears);
      for (let k = 0; k < accountTickets; k++) supportTicket(rng.int(eraStart, endMs - 1), 'account');
      for (const visitor of visitors) {
        if (!visitor.identified) continue;
        emit(
          'identify',
          rng.int(eraStart, Math.max(eraStart + 1, Math.min(endMs, aliveEnd + 30 * DAY_MS)) - 1),
          {
            kind: 'visitor',
            id: visitor.id,
          },
          { customer_id: personId },
        );
      }
    }

    function supportTicket(atMs: number, category: string) {
      const minutes = Math.max(3, Math.round(rng.logNormal(Math.log(240), 1.1)));
      const satisfaction = Math.max(
        1,
        Math.min(5, Math.round(5.2 - 0.45 * Math.log(minutes / 60) + rng.normal(0, 0.8))),
      );
      emit('support_ticket', atMs, CUSTOMER, {
        ticket_category: category,
        resolution_minutes: minutes,
        satisfaction,
      });
    }

    // A trail of someone who browses and sees ads but never signs up.
    const anonymousVisitor = rng.chance(MODEL.anonymousVisitorShare);
    if (anonymousVisitor) {
      const anon: Via = { kind: 'visitor', id: visitorId(rng) };
      const n = rng.int(1, 4);
      for (let k = 0; k < n; k++) {
        const atMs = rng.int(o.startMs, endMs - 1);
        if (rng.chance(0.5)) {
          emit('ad_view', atMs, anon, {
            campaign_id: catalog.adCampaign(rng, atMs),
            cost: Math.round(rng.between(0.002, 0.02) * 10000) / 10000,
          });
        } else {
          const device = rng.chance(0.5) ? 'mobile' : 'desktop';
          emit('web_visit', atMs, anon, {
            device,
            traffic_source: trafficSource(),
            ip_address: randomIp(rng),
          });
        }
      }
    }

    // Fraud logins: many attempts from many new addresses, most of them failing.
    if (fraud) {
      const fresh = Array.from({ length: arng.int(8, 15) }, () => randomIp(arng));
      const attempts = arng.int(25, 45);
      const failed = arng.int(12, Math.min(25, attempts - 3));
      for (let k = 0; k < attempts; k++) {
        const atMs = arng.int(o.fraudWindowStartMs + 1, endMs - 1);
        const id = arng.uuid();
        const at = isoTime(atMs);
        const device = arng.pick(['desktop', 'mobile', 'tablet']);
        timed.push([
          atMs,
          {
            customer_key: customerKey,
            event_key: `${at}#${id}`,
            event_id: id,
            event_type: 'login',
            event_at: at,
            updated_at: isoTime(Math.min(atMs + arng.int(50, 5000), endMs - 1)),
            customer_id: personId,
            device,
            ip_address: k < fresh.length ? (fresh[k] as string) : arng.pick(fresh),
            success: k >= failed,
          },
        ]);
      }
    }
    timed.sort((a, b) => a[0] - b[0]);

    // Keep ordinary customers clear of the login fraud signals: at most 2 failed logins in the window.
    if (!fraud) {
      let failedInWindow = 0;
      for (const [atMs, item] of timed) {
        if (atMs >= o.fraudWindowStartMs && item.event_type === 'login' && item.success === false) {
          failedInWindow++;
          if (failedInWindow > 2) item.success = true;
        }
      }
    }

    // ---- loyalty tier
    const loyaltyTier = !loyaltyMember
      ? null
      : spendCents >= 300_000
        ? 'platinum'
        : spendCents >= 120_000
          ? 'gold'
          : spendCents >= 40_000
            ? 'silver'
            : 'bronze';

    // ---- rows
    let customer: SqlRow | null = null;
    if (inMysql) {
      const base = legacy ? o.startMs + rng.int(0, 6 * HOUR_MS) : signupMs + rng.int(1000, 10 * MINUTE_MS);
      const updatedMs = rng.chance(0.35) && base < endMs - DAY_MS ? rng.int(base, endMs - 1) : base;
      customer = [
        personId,
        storedEmail,
        first,
        last,
        phone,
        gender,
        birthDate,
        place[0],
        place[1],
        place[2],
        sqlDateTime(signupMs),
        loyaltyTier,
        marketingOptIn ? 1 : 0,
        sqlDateTime3(Math.min(updatedMs, endMs - 1)),
      ];
    }
    const orderRows: SqlRow[] = [];
    const itemRows: SqlRow[] = [];
    const history: (HistoryRow & { anomaly?: string })[] = [];
    const legacyDays: { day: string; quantity: number; cents: number }[] = [];
    let orderId = firstOrderId;
    let emailAttributedOrders = 0;
    for (const order of orders) {
      let quantity = 0;
      for (const l of order.lines) quantity += l.quantity;
      if (order.atMs < o.startMs) {
        // The legacy export has one row per customer and day: same-day orders are summed.
        const day = isoDay(order.atMs);
        const previous = legacyDays[legacyDays.length - 1];
        if (previous && previous.day === day) {
          previous.quantity += quantity;
          previous.cents += order.totalCents;
        } else {
          legacyDays.push({ day, quantity, cents: order.totalCents });
        }
        continue;
      }
      if (!inMysql) continue;
      if (order.fromEmail) emailAttributedOrders++;
      const id = orderId++;
      orderRows.push([
        id,
        personId,
        sqlDateTime(order.atMs),
        order.status,
        order.channel,
        paymentFor(rng, order.channel),
        'USD',
        money(order.totalCents),
        money(order.discountCents),
        sqlDateTime3(order.updatedMs),
      ]);
      order.lines.forEach((l, k) => {
        itemRows.push([
          id,
          k + 1,
          catalog.product(l.productIndex).productId,
          l.quantity,
          money(l.unitCents),
          money(l.discountCents),
          sqlDateTime3(order.atMs),
        ]);
      });
    }
    const ref = o.historyCustomerKey === 'legacy_id' ? legacyIdFor(personId) : legacyEmail;
    for (const d of legacyDays) {
      history.push({
        file: `orders-${d.day.slice(0, 4)}.csv`,
        values: [ref, d.day, String(d.quantity), money(d.cents)],
      });
    }
    const events = timed.map((t) => t[1]);

    // ---- fraud-window signals, counted over the clean rows
    let window: WindowSignals | null = null;
    if (inMysql) {
      const ipsSeen = new Set<string>();
      window = { loginAttempts: 0, failedLogins: 0, distinctIps: 0, orders: 0, maxOrderCents: 0 };
      for (const [atMs, item] of timed) {
        if (atMs < o.fraudWindowStartMs || item.event_type !== 'login') continue;
        window.loginAttempts++;
        if (item.success === false) window.failedLogins++;
        ipsSeen.add(String(item.ip_address));
      }
      window.distinctIps = ipsSeen.size;
      for (const order of orders) {
        if (order.atMs < o.fraudWindowStartMs) continue;
        window.orders++;
        window.maxOrderCents = Math.max(window.maxOrderCents, order.totalCents);
      }
    }

    let purchases = 0;
    let firstPurchaseMs = Number.POSITIVE_INFINITY;
    for (const order of orders) {
      if (order.fraud) continue;
      purchases++;
      firstPurchaseMs = Math.min(firstPurchaseMs, order.atMs);
    }
    const activeYears =
      purchases > 0 ? Math.max(0, Math.min(activeUntil, endMs) - firstPurchaseMs) / YEAR_MS : 0;

    const batch: PersonBatch = {
      personId,
      customer,
      orders: orderRows,
      items: itemRows,
      events,
      history,
      anomalies: [],
      fraud:
        fraud && window
          ? {
              customerId: personId,
              variant: fraudVariant,
              loginAttempts: window.loginAttempts,
              failedLogins: window.failedLogins,
              distinctIps: window.distinctIps,
              orders: window.orders,
              maxOrderTotal: money(window.maxOrderCents),
            }
          : null,
      facts: {
        legacy,
        legacyOnly,
        buyer,
        marketingOptIn: inMysql && marketingOptIn,
        loyaltyMember: inMysql && loyaltyMember,
        nonNormalizedEmail: inMysql && nonNormalizedEmail,
        visitorsIdentified: inMysql ? visitors.filter((v) => v.identified).length : 0,
        visitorsUnidentified: inMysql ? visitors.filter((v) => !v.identified).length : 0,
        anonymousVisitor,
        emailAttributedOrders,
        window,
        purchases,
        firstPurchaseMs: purchases > 0 ? firstPurchaseMs : null,
        activeYears,
      },
    };
    if (!fraud) plantDirt(batch, arng, o.dirtyShare, o.products, endMs);
    return batch;
  }
}

const UNPARSEABLE_EVENT_TIMES = [
  'not-a-date',
  '2024-13-45T25:61:00Z',
  '31/12/2024 10:00',
  '0000-00-00T00:00:00Z',
  'null',
];
const UNPARSEABLE_HISTORY_DATES = ['2021-02-30', '31/12/2021', 'unknown', '2021-13-01', '20210115'];

/**
 * Plants dirty records with probability `share` per row, drawing from the person's anomaly stream
 * (so the clean rows do not depend on the share). Every planted record is listed in `anomalies`
 * (history rows carry their kind and get their key when their line number is known).
 */
function plantDirt(batch: PersonBatch, arng: Rng, share: number, productCount: number, endMs: number): void {
  if (share <= 0) return;
  const unknownCustomer = () => UNKNOWN_CUSTOMER_BASE + arng.int(1, 999_999);
  const customer = batch.customer;
  if (customer && arng.chance(share)) {
    const kind = arng.pick(DIRTY_KINDS['mysql.customers']);
    if (kind === 'zero_signup_date') customer[10] = '0000-00-00 00:00:00';
    else customer[6] = `${1950 + arng.int(0, 50)}-02-30`;
    batch.anomalies.push({ source: 'mysql.customers', kind, key: String(customer[0]) });
  }
  for (const row of batch.orders) {
    if (!arng.chance(share)) continue;
    const kinds = DIRTY_KINDS['mysql.orders'].filter((k) => k !== 'negative_amount' || row[3] !== 'refunded');
    const kind = arng.pick(kinds);
    const at = String(row[2]);
    switch (kind) {
      case 'null_customer_id':
        row[1] = null;
        break;
      case 'unknown_customer':
        row[1] = unknownCustomer();
        break;
      case 'negative_amount':
        row[7] = `-${row[7]}`;
        if (row[7] === '-0.00') row[7] = '-1.00';
        break;
      case 'zero_order_date':
        row[2] = '0000-00-00 00:00:00';
        break;
      default:
        row[2] = `${at.slice(0, 4)}-${arng.chance(0.5) ? '02-30' : '04-31'}${at.slice(10)}`;
    }
    batch.anomalies.push({ source: 'mysql.orders', kind, key: String(row[0]) });
  }
  for (const row of batch.items) {
    if (!arng.chance(share)) continue;
    const kind = arng.pick(DIRTY_KINDS['mysql.order_items']);
    row[2] = kind === 'null_product_id' ? null : productCount + 100_000 + arng.int(1, 1000);
    batch.anomalies.push({ source: 'mysql.order_items', kind, key: `${row[0]}:${row[1]}` });
  }
  const extraEvents: EventItem[] = [];
  for (const item of batch.events) {
    if (!arng.chance(share)) continue;
    const customerKeyed = String(item.customer_key).startsWith('customer#');
    const kinds = DIRTY_KINDS['dynamodb.interactions'].filter(
      (k) => customerKeyed || (k !== 'null_customer_key' && k !== 'unknown_customer'),
    );
    const kind = arng.pick(kinds);
    switch (kind) {
      case 'unparseable_event_at':
        item.event_at = arng.pick(UNPARSEABLE_EVENT_TIMES);
        item.event_key = `${item.event_at}#${item.event_id}`;
        break;
      case 'missing_event_id':
        delete item.event_id;
        break;
      case 'null_customer_key':
        item.customer_key = 'customer#undefined';
        delete item.customer_id;
        break;
      case 'unknown_customer': {
        const id = unknownCustomer();
        item.customer_key = `customer#${id}`;
        item.customer_id = id;
        break;
      }
      default: {
        // The same event delivered again a little later: same event_id, another sort key.
        // Later, or earlier when later would pass the end of the range.
        const atMs = Date.parse(String(item.event_at));
        let shiftMs = arng.int(1000, 300_000);
        if (atMs + shiftMs >= endMs) shiftMs = -shiftMs;
        const at = isoTime(atMs + shiftMs);
        const copy: EventItem = { ...item, event_key: `${at}#${item.event_id}`, event_at: at };
        copy.updated_at = isoTime(
          Math.min(endMs - 1, Math.max(atMs + shiftMs, Date.parse(String(item.updated_at)) + shiftMs)),
        );
        extraEvents.push(copy);
        batch.anomalies.push({
          source: 'dynamodb.interactions',
          kind,
          key: `${copy.customer_key}|${copy.event_key}`,
        });
        continue;
      }
    }
    batch.anomalies.push({
      source: 'dynamodb.interactions',
      kind,
      key: `${item.customer_key}|${item.event_key}`,
    });
  }
  batch.events.push(...extraEvents);
  const history = batch.history;
  const count = history.length;
  for (let k = 0; k < count; k++) {
    const row = history[k];
    if (!row || !arng.chance(share)) continue;
    const kind = arng.pick(DIRTY_KINDS.history);
    switch (kind) {
      case 'missing_customer':
        row.values[0] = '';
        break;
      case 'negative_amount':
        row.values[3] = `-${row.values[3]}`;
        break;
      case 'unparseable_date':
        row.values[1] = arng.pick(UNPARSEABLE_HISTORY_DATES);
        break;
      default:
        history.push({ file: row.file, values: [...row.values], anomaly: kind });
        continue;
    }
    row.anomaly = kind;
  }
}
