import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnRisk, customer360, fraudFlags, omniChannelEngagement, rfm } from '../lib/schema/marts/index.js';
import { stageCustomers, stageInteractions, stageOrders } from '../lib/schema/tables.js';
import { FixtureLake } from './helpers/lake.js';

/*
 * customer_360 joins the stage tables with the other marts of the run date. The marts' rows are
 * written by hand here so that this test checks the join and the lifetime figures only; each mart
 * has its own test. Run date 2024-06-30.
 */
const RUN_DATE = '2024-06-30';

const order = (
  order_id: string,
  customer_id: number,
  ordered_at: string,
  total: number,
  status = 'delivered',
) => ({
  order_id,
  customer_id,
  ordered_at,
  status,
  channel: 'web',
  total_amount: total,
  discount_amount: 0,
  item_quantity: 1,
  is_revenue: status !== 'cancelled' && status !== 'refunded',
  source: 'mysql',
});
const event = (
  event_id: string,
  customer_id: number,
  event_type: string,
  extra: Record<string, number> = {},
) => ({
  event_id,
  customer_id,
  event_type,
  event_at: '2024-06-01 10:00:00',
  ...extra,
});

describe('customer_360', () => {
  let lake: FixtureLake;
  let rows: Record<string, unknown>[];

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageCustomers, RUN_DATE, [
      {
        customer_id: 1,
        email_normalized: 'ann@example.com',
        first_name: 'Ann',
        last_name: 'Lee',
        phone: '+1 555 0100',
        gender: 'F',
        birth_date: '1990-07-01',
        city: 'Austin',
        state: 'TX',
        country: 'US',
        signup_at: '2021-01-01 09:00:00',
        loyalty_tier: 'gold',
        is_marketing_opt_in: true,
        source: 'mysql',
      },
      { customer_id: 2, gender: 'M', country: 'US', source: 'mysql' },
      { customer_id: -5, email_normalized: 'dee@example.com', source: 'dynamodb' },
      { customer_id: 3, country: 'US', source: 'mysql' },
      { customer_id: 4, country: 'US', source: 'mysql' },
    ]);
    await lake.write(stageOrders, RUN_DATE, [
      order('m-1', 1, '2024-05-01 10:00:00', 100),
      order('m-2', 1, '2024-06-01 10:00:00', 50),
      order('m-3', 1, '2024-06-02 10:00:00', 30, 'cancelled'),
      order('m-4', 2, '2024-06-01 12:00:00', 20),
      // 3 bought before the RFM window only (so has no rfm row below); 4 only had an order cancelled
      order('m-5', 3, '2022-03-01 10:00:00', 70),
      order('m-6', 4, '2024-06-03 10:00:00', 25, 'cancelled'),
    ]);
    await lake.write(stageInteractions, RUN_DATE, [
      event('t1', 1, 'support_ticket', { resolution_minutes: 30, satisfaction: 4 }),
      event('t2', 1, 'support_ticket', { resolution_minutes: 90, satisfaction: 2 }),
      event('r1', 1, 'review', { rating: 5 }),
      event('r2', 1, 'review', { rating: 3 }),
      event('l1', 1, 'loyalty_earn', { points: 100 }),
      event('l2', 1, 'loyalty_redeem', { points: -40 }),
      event('o1', -5, 'email_open'),
    ]);
    await lake.write(rfm, RUN_DATE, [
      {
        customer_id: 1,
        recency_days: 29,
        frequency: 2,
        monetary: 150,
        r_score: 5,
        f_score: 4,
        m_score: 4,
        segment: 'Champions',
      },
      {
        customer_id: 2,
        recency_days: 29,
        frequency: 1,
        monetary: 20,
        r_score: 5,
        f_score: 1,
        m_score: 1,
        segment: 'New',
      },
    ]);
    await lake.write(churnRisk, RUN_DATE, [
      { customer_id: 1, order_count: 2, days_since_last_order: 29, avg_gap_days: 31, is_churn_risk: false },
      {
        customer_id: 2,
        order_count: 1,
        days_since_last_order: 29,
        is_churn_risk: false,
        risk_reason: 'single_order',
      },
    ]);
    await lake.write(omniChannelEngagement, RUN_DATE, [
      { customer_id: -5, email_opens: 1, web_visits: 0, active_channels: 1, primary_channel: 'email' },
    ]);
    await lake.write(fraudFlags, RUN_DATE, [
      { customer_id: 2, distinct_ips: 7, is_flagged: true, flag_reasons: 'distinct_ips 7 > 5' },
    ]);

    await lake.run('customer_360', RUN_DATE);
    rows = await lake.read(customer360, RUN_DATE, 'customer_id');
  });

  afterAll(() => lake?.close());

  it('has one row per customer, including one known only to DynamoDB', () => {
    expect(rows.map((r) => r.customer_id)).toEqual(['-5', '1', '2', '3', '4']);
  });

  it('computes lifetime figures from revenue orders only', () => {
    // Customer 1: orders of 100 and 50 count; the cancelled 30 does not. 150 / 2 = 75.
    expect(rows[1]).toMatchObject({
      lifetime_orders: 2,
      lifetime_revenue: '150.00',
      avg_order_value: '75.00',
      cancelled_or_refunded_orders: 1,
      first_order_at: '2024-05-01 10:00:00',
      last_order_at: '2024-06-01 10:00:00',
    });
    expect(rows[0]).toMatchObject({ lifetime_orders: 0, lifetime_revenue: '0.00', avg_order_value: null });
  });

  it('derives age band and tenure without carrying the birth date or any contact detail', () => {
    // 1990-07-01 to 2024-06-30 is 12,418 days = 33.998 years: still 33, so 25-34.
    // Signup 2021-01-01 to 2024-06-30: 1,095 days to 2024-01-01 plus 181 = 1,276 days.
    expect(rows[1]).toMatchObject({ age_band: '25-34', tenure_days: 1276, city: 'Austin', gender: 'F' });
    // No signup date: tenure counts from the first order, 2024-06-01 to 2024-06-30 = 29 days.
    expect(rows[2]).toMatchObject({ age_band: null, tenure_days: 29 });
    for (const column of [
      'email_normalized',
      'first_name',
      'last_name',
      'phone',
      'birth_date',
      'ip_address',
    ]) {
      expect(Object.keys(rows[1] ?? {})).not.toContain(column);
    }
  });

  it('carries support, review and loyalty figures', () => {
    // Tickets (30 + 90) / 2 = 60 minutes, satisfaction (4 + 2) / 2 = 3; ratings (5 + 3) / 2 = 4;
    // loyalty 100 earned, 40 redeemed, balance 60.
    expect(rows[1]).toMatchObject({
      support_tickets: 2,
      avg_resolution_minutes: 60,
      avg_satisfaction: 3,
      reviews: 2,
      avg_rating: 4,
      loyalty_points_earned: 100,
      loyalty_points_redeemed: 40,
      loyalty_points_balance: 60,
    });
  });

  it('gives every customer a lifecycle stage: the RFM segment, Lapsed or Prospect', () => {
    // 1 and 2 are in rfm (Champions, New); 3's only purchase (2022-03-01) is older than the window:
    // Lapsed; -5 never ordered and 4's only order was cancelled, which is no purchase: Prospect.
    expect(rows.map((r) => [r.customer_id, r.rfm_segment, r.lifecycle_stage])).toEqual([
      ['-5', null, 'Prospect'],
      ['1', 'Champions', 'Champions'],
      ['2', 'New', 'New'],
      ['3', null, 'Lapsed'],
      ['4', null, 'Prospect'],
    ]);
  });

  it('joins each mart of the run date, with defaults where a customer is absent from a mart', () => {
    expect(rows[1]).toMatchObject({
      rfm_segment: 'Champions',
      r_score: 5,
      is_churn_risk: false,
      avg_gap_days: 31,
      is_fraud_flagged: false,
      fraud_reasons: null,
      active_channels: 0,
    });
    expect(rows[2]).toMatchObject({
      rfm_segment: 'New',
      is_fraud_flagged: true,
      fraud_reasons: 'distinct_ips 7 > 5',
    });
    expect(rows[0]).toMatchObject({
      rfm_segment: null,
      is_churn_risk: null,
      primary_channel: 'email',
      active_channels: 1,
    });
  });
});

/*
 * avg_order_value rounds half up to the cent, computed in whole cents so that Athena (decimal) and
 * DuckDB (which divides decimals as doubles) agree. By hand:
 *   1: 0.02 + 0.03 = 0.05 over 2 orders = 0.025 -> 0.03 (as a double 0.025 is 0.0250000000000000014 but
 *      1.005 below is 1.00499999999999989, which a double rounding turns into 1.00);
 *   2: 1.00 + 1.01 = 2.01 over 2 = 1.005 -> 1.01;
 *   3: 0.01 + 0.01 + 0.00 = 0.02 over 3 = 0.00666... -> 0.01;
 *   4: 10.00 + 10.00 + 10.01 = 30.01 over 3 = 10.00333... -> 10.00.
 */
describe('customer_360: avg_order_value rounds half up to the cent', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(
      stageCustomers,
      RUN_DATE,
      [1, 2, 3, 4].map((customer_id) => ({ customer_id, source: 'mysql' })),
    );
    await lake.write(stageOrders, RUN_DATE, [
      order('m-1', 1, '2024-06-01 10:00:00', 0.02),
      order('m-2', 1, '2024-06-02 10:00:00', 0.03),
      order('m-3', 2, '2024-06-01 10:00:00', 1.0),
      order('m-4', 2, '2024-06-02 10:00:00', 1.01),
      order('m-5', 3, '2024-06-01 10:00:00', 0.01),
      order('m-6', 3, '2024-06-02 10:00:00', 0.01),
      order('m-7', 3, '2024-06-03 10:00:00', 0),
      order('m-8', 4, '2024-06-01 10:00:00', 10),
      order('m-9', 4, '2024-06-02 10:00:00', 10),
      order('m-10', 4, '2024-06-03 10:00:00', 10.01),
    ]);
    await lake.write(stageInteractions, RUN_DATE, []);
    for (const mart of [rfm, churnRisk, omniChannelEngagement, fraudFlags])
      await lake.write(mart, RUN_DATE, []);
    await lake.run('customer_360', RUN_DATE);
  });

  afterAll(() => lake?.close());

  it('gives 0.03 for orders of 0.02 and 0.03, and 1.01 for 1.00 and 1.01', async () => {
    const rows = await lake.read(customer360, RUN_DATE, 'customer_id');
    expect(rows.map((r) => [r.customer_id, r.lifetime_revenue, r.avg_order_value])).toEqual([
      ['1', '0.05', '0.03'],
      ['2', '2.01', '1.01'],
      ['3', '0.02', '0.01'],
      ['4', '30.01', '10.00'],
    ]);
  });
});
