import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { omniChannelEngagement } from '../lib/schema/marts/engagement.js';
import { stageInteractions, stageOrders } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow, stageOrder } from './helpers/lake.js';

/*
 * The omni_channel_engagement mart on hand-made stage interactions and orders. Run date 2024-06-30.
 *
 * Window edges: with engagementWindowDays = 30 the window is
 *   event_at / ordered_at >= 2024-06-01 00:00:00 (2024-07-01 minus 30 days; this edge is IN)
 *   event_at / ordered_at <  2024-07-01 00:00:00 (the day after the run date; this edge is OUT).
 *
 * Channel activity is what the customer did: email = opens + clicks, ads = ad clicks, web = web
 * visits, purchase = revenue orders (emails sent and ad views are exposures, not activity). Primary
 * channel = most activity, ties to purchase, web, email, ads; channel_mix lists the active channels in
 * that order with share = activity / total activity, rounded to 2 decimals.
 */
const RUN_DATE = '2024-06-30';
const CONFIG = { analysis: { engagementWindowDays: 30 } };

/** A customer known only to DynamoDB: identity resolution gives it a negative, hash-derived id. */
const DYNAMODB_ONLY = -7001;

let eventSequence = 0;
const event = (customer_id: number, event_type: string, event_at: string): FixtureRow => ({
  event_id: `e-${++eventSequence}`,
  customer_id,
  event_type,
  event_at,
});
const events = (customer_id: number, event_type: string, count: number, day = '2024-06-15'): FixtureRow[] =>
  Array.from({ length: count }, (_, k) =>
    event(customer_id, event_type, `${day} 10:${String(k).padStart(2, '0')}:00`),
  );

const order = (
  customer_id: number,
  ordered_at: string,
  total_amount: number,
  channel = 'web',
  status = 'delivered',
) => stageOrder(customer_id, ordered_at, total_amount, { status, channel });

const counts = (r: Record<string, unknown>) => [
  r.customer_id,
  r.emails_sent,
  r.email_opens,
  r.email_clicks,
  r.ad_views,
  r.ad_clicks,
  r.web_visits,
  r.orders,
  r.spend,
  r.web_orders,
  r.mobile_orders,
  r.store_orders,
];
const rates = (r: Record<string, unknown>) => [
  r.customer_id,
  r.email_open_rate,
  r.email_click_rate,
  r.ad_click_rate,
  r.visit_conversion_rate,
];
const channels = (r: Record<string, unknown>) => [
  r.customer_id,
  r.active_channels,
  r.primary_channel,
  r.channel_mix,
];

describe('omni_channel_engagement mart: counts, rates and channels in the engagement window', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageInteractions, RUN_DATE, [
      // 1: 4 emails sent, 2 opened, 1 clicked; 1 web visit; no orders.
      ...events(1, 'email_sent', 4),
      ...events(1, 'email_open', 2),
      ...events(1, 'email_click', 1),
      ...events(1, 'web_visit', 1),
      // 2 has orders only (below).
      // DynamoDB-only: 2 ad views, 1 ad click, 1 web visit; no orders anywhere.
      ...events(DYNAMODB_ONLY, 'ad_view', 2),
      ...events(DYNAMODB_ONLY, 'ad_click', 1),
      ...events(DYNAMODB_ONLY, 'web_visit', 1),
      // 4: web visits at the window edges. In: 2024-06-01 00:00:00 and 2024-06-30 23:59:59.
      // Out: 2024-05-31 23:59:59 and 2024-07-01 00:00:00.
      event(4, 'web_visit', '2024-06-01 00:00:00'),
      event(4, 'web_visit', '2024-05-31 23:59:59'),
      event(4, 'web_visit', '2024-06-30 23:59:59'),
      event(4, 'web_visit', '2024-07-01 00:00:00'),
      // 5: exposures only: 3 emails sent (none opened), 2 ad views (none clicked).
      ...events(5, 'email_sent', 3),
      ...events(5, 'ad_view', 2),
      // 6: nothing that counts in the window: a web visit before it, logins and a support ticket
      // (not engagement channels); its only order in the window is cancelled. No row.
      event(6, 'web_visit', '2024-05-01 10:00:00'),
      ...events(6, 'login', 3),
      ...events(6, 'support_ticket', 1),
      // 7: one of each of purchase, web and email: a three-way tie.
      ...events(7, 'email_sent', 1),
      ...events(7, 'email_open', 1),
      ...events(7, 'web_visit', 1),
      // 8: 2 opens of emails sent before the window: none sent inside it.
      event(8, 'email_sent', '2024-05-25 10:00:00'),
      ...events(8, 'email_open', 2),
      // 9: all four channels: ads 4 clicks (8 views), email 2 opens + 1 click (2 sent), web 2 visits.
      ...events(9, 'ad_view', 8),
      ...events(9, 'ad_click', 4),
      ...events(9, 'email_sent', 2),
      ...events(9, 'email_open', 2),
      ...events(9, 'email_click', 1),
      ...events(9, 'web_visit', 2),
    ]);
    await lake.write(stageOrders, RUN_DATE, [
      // 2: a web 30 and a store 20; a cancelled mobile 500 and a refunded web 70 are no purchase.
      order(2, '2024-06-10 12:00:00', 30, 'web'),
      order(2, '2024-06-11 12:00:00', 20, 'store'),
      order(2, '2024-06-12 12:00:00', 500, 'mobile', 'cancelled'),
      order(2, '2024-06-13 12:00:00', 70, 'web', 'refunded'),
      // 4: in: mobile 40 at the lower edge. Out: 900 a second before it, 800 at the upper edge.
      order(4, '2024-06-01 00:00:00', 40, 'mobile'),
      order(4, '2024-05-31 23:59:59', 900, 'web'),
      order(4, '2024-07-01 00:00:00', 800, 'web'),
      // 6: a cancelled order only.
      order(6, '2024-06-20 12:00:00', 60, 'web', 'cancelled'),
      // 7: one web order.
      order(7, '2024-06-20 12:00:00', 25.5, 'web'),
      // 9: one store order.
      order(9, '2024-06-20 12:00:00', 15, 'store'),
    ]);
    await lake.run('omni_channel_engagement', RUN_DATE, CONFIG);
  });

  afterAll(() => lake?.close());

  it('has one row per customer with an event or a revenue order in the window, from either source', async () => {
    const rows = await lake.read(omniChannelEngagement, RUN_DATE, 'customer_id');
    // 6 is absent: a visit before the window, logins and a ticket, and a cancelled order are nothing
    // this mart counts. The DynamoDB-only customer (interactions, no orders) and 2 (orders, no
    // interactions) are both present.
    expect(rows.map((r) => r.customer_id)).toEqual([
      String(DYNAMODB_ONLY),
      '1',
      '2',
      '4',
      '5',
      '7',
      '8',
      '9',
    ]);
  });

  it('counts events and revenue orders inside the window', async () => {
    const rows = await lake.read(omniChannelEngagement, RUN_DATE, 'customer_id');
    // columns: id, sent, opens, clicks, ad views, ad clicks, visits, orders, spend, web, mobile, store
    expect(rows.map(counts)).toEqual([
      [String(DYNAMODB_ONLY), 0, 0, 0, 2, 1, 1, 0, '0.00', 0, 0, 0],
      ['1', 4, 2, 1, 0, 0, 1, 0, '0.00', 0, 0, 0],
      // 2: revenue orders web 30 + store 20 = 50.00; the cancelled 500 and refunded 70 count nowhere.
      ['2', 0, 0, 0, 0, 0, 0, 2, '50.00', 1, 0, 1],
      // 4: visits at 2024-06-01 00:00:00 and 2024-06-30 23:59:59 only; the mobile 40 at the lower
      // edge only (counting the out-of-window rows would give 4 visits and 3 orders, 1740.00).
      ['4', 0, 0, 0, 0, 0, 2, 1, '40.00', 0, 1, 0],
      ['5', 3, 0, 0, 2, 0, 0, 0, '0.00', 0, 0, 0],
      ['7', 1, 1, 0, 0, 0, 1, 1, '25.50', 1, 0, 0],
      // 8: the email sent on 2024-05-25 is before the window.
      ['8', 0, 2, 0, 0, 0, 0, 0, '0.00', 0, 0, 0],
      ['9', 2, 2, 1, 8, 4, 2, 1, '15.00', 0, 0, 1],
    ]);
  });

  it('computes rates, null when the denominator is 0', async () => {
    const rows = await lake.read(omniChannelEngagement, RUN_DATE, 'customer_id');
    // columns: id, open rate (opens / sent), click rate (clicks / sent), ad click rate (ad clicks /
    // ad views), visit conversion ((web + mobile orders) / visits)
    expect(rows.map(rates)).toEqual([
      // no email sent: null; 1 / 2 ad views = 0.5; 0 orders / 1 visit = 0.
      [String(DYNAMODB_ONLY), null, null, 0.5, 0],
      // 2 / 4 and 1 / 4; no ad view: null; 0 / 1 visit.
      ['1', 0.5, 0.25, null, 0],
      // no sends, views or visits: every rate null, though it has orders.
      ['2', null, null, null, null],
      // 1 mobile order / 2 visits.
      ['4', null, null, null, 0.5],
      // 0 / 3 and 0 / 2: zero, not null (the denominators are not 0); no visit: null.
      ['5', 0, 0, 0, null],
      // 1 / 1 sent; 0 clicks / 1; 1 web order / 1 visit.
      ['7', 1, 0, null, 1],
      // 2 opens but nothing sent in the window: null, not a division error or infinity.
      ['8', null, null, null, null],
      // 2 / 2 and 1 / 2; 4 / 8; the store order needs no visit: 0 / 2.
      ['9', 1, 0.5, 0.5, 0],
    ]);
  });

  it('counts active channels, picks the primary channel with a fixed tie rule and writes the mix', async () => {
    const rows = await lake.read(omniChannelEngagement, RUN_DATE, 'customer_id');
    // columns: id, active channels, primary channel, mix
    expect(rows.map(channels)).toEqual([
      // ads 1 (the views do not count), web 1: tied, web ranks before ads; 1/2 each.
      [String(DYNAMODB_ONLY), 2, 'web', 'web:0.50;ads:0.50'],
      // email 2 opens + 1 click = 3 (the 4 sends do not count), web 1: 3/4 and 1/4.
      ['1', 2, 'email', 'email:0.75;web:0.25'],
      // purchase 2 only.
      ['2', 1, 'purchase', 'purchase:1.00'],
      // web 2, purchase 1: 2/3 = 0.67 and 1/3 = 0.33.
      ['4', 2, 'web', 'web:0.67;purchase:0.33'],
      // exposures only: no active channel, no primary channel, no mix.
      ['5', 0, null, null],
      // purchase 1, web 1, email 1: a three-way tie resolved purchase, web, email; 1/3 each.
      ['7', 3, 'purchase', 'purchase:0.33;web:0.33;email:0.33'],
      ['8', 1, 'email', 'email:1.00'],
      // ads 4, email 3, web 2, purchase 1 of 10: ordered by activity, not by the tie rule.
      ['9', 4, 'ads', 'ads:0.40;email:0.30;web:0.20;purchase:0.10'],
    ]);
  });

  it('takes the window from configuration: one day more brings in 2024-05-31', async () => {
    // 31 days: the lower edge is 2024-05-31 00:00:00, so customer 4's visit and web 900 order at
    // 23:59:59 that day are in (the 2024-07-01 ones stay out): 3 visits, 2 orders (web 900, mobile 40),
    // conversion 2 / 3; activity web 3, purchase 2 of 5.
    await lake.run('omni_channel_engagement', RUN_DATE, { analysis: { engagementWindowDays: 31 } });
    const rows = await lake.read(omniChannelEngagement, RUN_DATE, 'customer_id');
    expect(rows.find((r) => r.customer_id === '4')).toMatchObject({
      web_visits: 3,
      orders: 2,
      spend: '940.00',
      web_orders: 1,
      mobile_orders: 1,
      visit_conversion_rate: 2 / 3,
      active_channels: 2,
      primary_channel: 'web',
      channel_mix: 'web:0.60;purchase:0.40',
    });
    // 8's send of 2024-05-25 is still out; 6's visit of 2024-05-01 too.
    expect(rows.find((r) => r.customer_id === '8')).toMatchObject({ emails_sent: 0, email_open_rate: null });
    expect(rows.map((r) => r.customer_id)).not.toContain('6');
  });

  it('is idempotent: a rerun of the date with the same configuration gives identical rows', async () => {
    await lake.run('omni_channel_engagement', RUN_DATE, CONFIG);
    const before = await lake.read(omniChannelEngagement, RUN_DATE, 'customer_id');
    await lake.run('omni_channel_engagement', RUN_DATE, CONFIG);
    expect(await lake.read(omniChannelEngagement, RUN_DATE, 'customer_id')).toEqual(before);
    expect(before).toHaveLength(8);
  });
});
