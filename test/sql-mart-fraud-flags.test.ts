import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fraudFlags } from '../lib/schema/marts/fraud-flags.js';
import { stageInteractions, stageOrders } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow, stageOrder } from './helpers/lake.js';

/*
 * The fraud_flags mart on hand-made stage logins and orders. Run date 2024-06-30.
 *
 * Window edges: with fraudWindowDays = 30 the window is
 *   event_at / ordered_at >= 2024-06-01 00:00:00 (2024-07-01 minus 30 days; this edge is IN)
 *   event_at / ordered_at <  2024-07-01 00:00:00 (the day after the run date; this edge is OUT),
 * exactly 30 x 24 hours ending with the run date.
 *
 * Small thresholds keep the fixture small: more than 2 distinct IPs, more than 4 attempts or more than
 * 2 failed logins is a login anomaly; an order above 500 or more than 3 orders is an order anomaly.
 * Every comparison is strict: a figure equal to its threshold is no anomaly.
 */
const RUN_DATE = '2024-06-30';
const FRAUD = {
  maxDistinctIps: 2,
  maxLoginAttempts: 4,
  maxFailedLogins: 2,
  highValueOrderTotal: 500,
  maxOrdersInWindow: 3,
};
const CONFIG = { analysis: { fraudWindowDays: 30, fraud: FRAUD } };

/** A customer known only to DynamoDB: identity resolution gives it a negative, hash-derived id. */
const DYNAMODB_ONLY = -4242424242;

let eventSequence = 0;
const event = (
  customer_id: number,
  event_type: string,
  event_at: string,
  extra: { ip_address?: string | null; is_success?: boolean | null } = {},
): FixtureRow => ({
  event_id: `e-${++eventSequence}`,
  customer_id,
  event_type,
  event_at,
  device: 'desktop',
  ...extra,
});
const login = (
  customer_id: number,
  event_at: string,
  ip_address: string | null,
  is_success: boolean | null = true,
) => event(customer_id, 'login', event_at, { ip_address, is_success });

const order = (customer_id: number, ordered_at: string, total_amount: number, status = 'delivered') =>
  stageOrder(customer_id, ordered_at, total_amount, { status });

const columns = (r: Record<string, unknown>) => [
  r.customer_id,
  r.distinct_ips,
  r.login_attempts,
  r.failed_logins,
  r.orders_in_window,
  r.high_value_orders,
  r.max_order_total,
  r.window_spend,
  r.is_login_anomaly,
  r.is_order_anomaly,
  r.is_flagged,
  r.flag_reasons,
];

describe('fraud_flags mart: login and order anomalies in the fraud window', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageInteractions, RUN_DATE, [
      // 1: three addresses (and one login without an address, which is an attempt but no IP).
      login(1, '2024-06-10 08:00:00', '10.0.0.1'),
      login(1, '2024-06-11 08:00:00', '10.0.0.2'),
      login(1, '2024-06-12 08:00:00', '10.0.0.3', false),
      login(1, '2024-06-13 08:00:00', null),
      // 2: five attempts from one address: three failed, one succeeded, one with an unknown outcome.
      login(2, '2024-06-05 08:00:00', '10.0.2.1', false),
      login(2, '2024-06-05 08:01:00', '10.0.2.1', false),
      login(2, '2024-06-05 08:02:00', '10.0.2.1', false),
      login(2, '2024-06-05 08:03:00', '10.0.2.1', true),
      login(2, '2024-06-05 08:04:00', '10.0.2.1', null),
      // 4: the window edges. In: 2024-06-01 00:00:00 (lower edge) and 2024-06-30 23:59:59.
      // Out: 2024-05-31 23:59:59 (a second before the window) and 2024-07-01 00:00:00 (upper edge).
      login(4, '2024-06-01 00:00:00', '10.0.4.1'),
      login(4, '2024-05-31 23:59:59', '10.0.4.2', false),
      login(4, '2024-06-30 23:59:59', '10.0.4.3'),
      login(4, '2024-07-01 00:00:00', '10.0.4.4', false),
      // DynamoDB-only customer: three failed logins from three addresses, no orders anywhere.
      login(DYNAMODB_ONLY, '2024-06-20 03:00:00', '192.0.2.1', false),
      login(DYNAMODB_ONLY, '2024-06-20 03:05:00', '192.0.2.2', false),
      login(DYNAMODB_ONLY, '2024-06-20 03:10:00', '192.0.2.3', false),
      // 6: exactly on every threshold: 2 IPs, 4 attempts, 2 failed.
      login(6, '2024-06-15 09:00:00', '10.0.6.1', false),
      login(6, '2024-06-15 09:01:00', '10.0.6.1', false),
      login(6, '2024-06-15 09:02:00', '10.0.6.2'),
      login(6, '2024-06-15 09:03:00', '10.0.6.2'),
      // 7: no login and no order in the window: web visits and an email open (with an address) are
      // not logins, and its only login is before the window. No row.
      event(7, 'web_visit', '2024-06-15 10:00:00', { ip_address: '10.0.7.1' }),
      event(7, 'email_open', '2024-06-16 10:00:00'),
      login(7, '2024-05-01 10:00:00', '10.0.7.2', false),
      // 8: everything at once: 3 addresses, 5 attempts, 3 failed.
      login(8, '2024-06-25 01:00:00', '10.0.8.1', false),
      login(8, '2024-06-25 01:01:00', '10.0.8.2', false),
      login(8, '2024-06-25 01:02:00', '10.0.8.3', false),
      login(8, '2024-06-25 01:03:00', '10.0.8.3'),
      login(8, '2024-06-25 01:04:00', '10.0.8.3'),
    ]);
    await lake.write(stageOrders, RUN_DATE, [
      // 1: one order above 500, one below.
      order(1, '2024-06-14 12:00:00', 600),
      order(1, '2024-06-15 12:00:00', 50),
      // 3: four small orders, one cancelled and one refunded: every status counts here.
      order(3, '2024-06-02 12:00:00', 10),
      order(3, '2024-06-03 12:00:00', 10, 'cancelled'),
      order(3, '2024-06-04 12:00:00', 10, 'refunded'),
      order(3, '2024-06-05 12:00:00', 10),
      // 4: in: 100 at the lower edge. Out: 900 a second before it, 800 at the upper edge.
      order(4, '2024-06-01 00:00:00', 100),
      order(4, '2024-05-31 23:59:59', 900),
      order(4, '2024-07-01 00:00:00', 800),
      // 6: three orders, the largest exactly 500.
      order(6, '2024-06-16 12:00:00', 500),
      order(6, '2024-06-17 12:00:00', 20),
      order(6, '2024-06-18 12:00:00', 30),
      // 7: an order before the window only.
      order(7, '2024-05-20 12:00:00', 2000),
      // 8: four orders, one of them 1200.50 and cancelled.
      order(8, '2024-06-26 12:00:00', 1200.5, 'cancelled'),
      order(8, '2024-06-26 12:05:00', 99.5),
      order(8, '2024-06-26 12:10:00', 100),
      order(8, '2024-06-26 12:15:00', 100),
    ]);
    await lake.run('fraud_flags', RUN_DATE, CONFIG);
  });

  afterAll(() => lake?.close());

  it('counts signals per customer in the window and flags login and order anomalies together', async () => {
    const rows = await lake.read(fraudFlags, RUN_DATE, 'customer_id');
    // columns: id, ips, attempts, failed, orders, high-value, max total, spend, login?, order?, flagged,
    // reasons
    expect(rows.map(columns)).toEqual([
      // DynamoDB-only (negative id, no orders): 3 IPs > 2 and 3 failed > 2, but no order signal, so not
      // flagged; no orders gives 0 orders, 0 spend and no max total.
      [
        String(DYNAMODB_ONLY),
        3,
        3,
        3,
        0,
        0,
        null,
        '0.00',
        true,
        false,
        false,
        'distinct_ips 3 > 2; failed_logins 3 > 2',
      ],
      // 1: IPs 10.0.0.1-3 (the login without an address adds an attempt, not an IP): 3 > 2; attempts
      // 4 and failed 1 within. Orders 600 > 500 and 50: 2 orders, 1 high value, max 600, spend 650.
      [
        '1',
        3,
        4,
        1,
        2,
        1,
        '600.00',
        '650.00',
        true,
        true,
        true,
        'distinct_ips 3 > 2; high_value_order 600.00 > 500.00',
      ],
      // 2: 5 attempts > 4 and 3 failed > 2 (the unknown outcome is not a failure); one IP. No orders:
      // a login anomaly alone is not a flag.
      ['2', 1, 5, 3, 0, 0, null, '0.00', true, false, false, 'login_attempts 5 > 4; failed_logins 3 > 2'],
      // 3: no logins; 4 orders of 10 > 3 whatever their status (counting revenue orders only would give
      // 2 and no anomaly); spend 40. An order anomaly alone is not a flag.
      ['3', 0, 0, 0, 4, 0, '10.00', '40.00', false, true, false, 'orders_in_window 4 > 3'],
      // 4: only the 2024-06-01 00:00:00 and 2024-06-30 23:59:59 logins (2 IPs, 2 attempts, 0 failed)
      // and the 100 at 2024-06-01 00:00:00 count. With the out-of-window events it would have had 4
      // IPs and a 900 order: flagged.
      ['4', 2, 2, 0, 1, 0, '100.00', '100.00', false, false, false, null],
      // 6: 2 IPs, 4 attempts, 2 failed, a 500 order and 3 orders: every figure equals its threshold,
      // and equal is not above. Spend 500 + 20 + 30 = 550.
      ['6', 2, 4, 2, 3, 0, '500.00', '550.00', false, false, false, null],
      // 7 is absent: no login and no order in the window.
      // 8: 3 IPs > 2, 5 attempts > 4, 3 failed > 2; 4 orders > 3 and a cancelled 1200.50 > 500:
      // every reason, in the fixed order. Spend 1200.50 + 99.50 + 100 + 100 = 1500.00.
      [
        '8',
        3,
        5,
        3,
        4,
        1,
        '1200.50',
        '1500.00',
        true,
        true,
        true,
        'distinct_ips 3 > 2; login_attempts 5 > 4; failed_logins 3 > 2; high_value_order 1200.50 > 500.00; orders_in_window 4 > 3',
      ],
    ]);
  });

  it('takes thresholds from configuration: a higher IP limit clears customer 1', async () => {
    await lake.run('fraud_flags', RUN_DATE, {
      analysis: { fraudWindowDays: 30, fraud: { ...FRAUD, maxDistinctIps: 3 } },
    });
    const rows = await lake.read(fraudFlags, RUN_DATE, 'customer_id');
    const byId = Object.fromEntries(rows.map((r) => [r.customer_id, r]));
    // 1: 3 IPs is no longer above the limit of 3, and it had no other login signal: not flagged, its
    // high-value order remains the only reason.
    expect(byId['1']).toMatchObject({
      is_login_anomaly: false,
      is_order_anomaly: true,
      is_flagged: false,
      flag_reasons: 'high_value_order 600.00 > 500.00',
    });
    // 8: still flagged on attempts and failures; the distinct_ips reason is gone.
    expect(byId['8']).toMatchObject({
      is_flagged: true,
      flag_reasons:
        'login_attempts 5 > 4; failed_logins 3 > 2; high_value_order 1200.50 > 500.00; orders_in_window 4 > 3',
    });
    expect(rows.filter((r) => r.is_flagged).map((r) => r.customer_id)).toEqual(['8']);
  });

  it('renders a fractional money threshold with two decimals and compares with it', async () => {
    // 599.99: the 600 order of customer 1 is above it; 1200.50 of customer 8 too.
    await lake.run('fraud_flags', RUN_DATE, {
      analysis: { fraudWindowDays: 30, fraud: { ...FRAUD, highValueOrderTotal: 599.99 } },
    });
    let byId = Object.fromEntries(
      (await lake.read(fraudFlags, RUN_DATE, 'customer_id')).map((r) => [r.customer_id, r]),
    );
    expect(byId['1']).toMatchObject({
      high_value_orders: 1,
      is_flagged: true,
      flag_reasons: 'distinct_ips 3 > 2; high_value_order 600.00 > 599.99',
    });
    // 600.01: customer 1's 600 order is no longer high value: no order anomaly, no flag, only the IPs.
    await lake.run('fraud_flags', RUN_DATE, {
      analysis: { fraudWindowDays: 30, fraud: { ...FRAUD, highValueOrderTotal: 600.01 } },
    });
    byId = Object.fromEntries(
      (await lake.read(fraudFlags, RUN_DATE, 'customer_id')).map((r) => [r.customer_id, r]),
    );
    expect(byId['1']).toMatchObject({
      high_value_orders: 0,
      is_order_anomaly: false,
      is_flagged: false,
      flag_reasons: 'distinct_ips 3 > 2',
    });
  });

  it('flags no one with the default thresholds (5 IPs, 20 attempts, 10 failed, 1000, 10 orders)', async () => {
    await lake.run('fraud_flags', RUN_DATE, {});
    const rows = await lake.read(fraudFlags, RUN_DATE, 'customer_id');
    // 8 keeps its cancelled 1200.50 > 1000 order anomaly, but 3 IPs, 5 attempts and 3 failures are
    // far below the defaults; nobody else has any condition.
    expect(rows.filter((r) => r.flag_reasons !== null).map((r) => [r.customer_id, r.flag_reasons])).toEqual([
      ['8', 'high_value_order 1200.50 > 1000.00'],
    ]);
    expect(rows.filter((r) => r.is_flagged)).toEqual([]);
  });

  it('takes the window from configuration: one day more brings in 2024-05-31 and flags customer 4', async () => {
    // 31 days: the lower edge is 2024-05-31 00:00:00, so customer 4's failed login from 10.0.4.2 and
    // its 900 order at 23:59:59 that day are in: 3 IPs > 2 and 900 > 500. The 2024-07-01 events stay
    // out. Customer 7's login (2024-05-01) and order (2024-05-20) are still before the window.
    await lake.run('fraud_flags', RUN_DATE, { analysis: { fraudWindowDays: 31, fraud: FRAUD } });
    const rows = await lake.read(fraudFlags, RUN_DATE, 'customer_id');
    expect(rows.find((r) => r.customer_id === '4')).toMatchObject({
      distinct_ips: 3,
      login_attempts: 3,
      failed_logins: 1,
      orders_in_window: 2,
      high_value_orders: 1,
      max_order_total: '900.00',
      window_spend: '1000.00',
      is_flagged: true,
      flag_reasons: 'distinct_ips 3 > 2; high_value_order 900.00 > 500.00',
    });
    expect(rows.map((r) => r.customer_id)).not.toContain('7');
  });

  it('is idempotent: a rerun of the date with the same configuration gives identical rows', async () => {
    await lake.run('fraud_flags', RUN_DATE, CONFIG);
    const before = await lake.read(fraudFlags, RUN_DATE, 'customer_id');
    await lake.run('fraud_flags', RUN_DATE, CONFIG);
    expect(await lake.read(fraudFlags, RUN_DATE, 'customer_id')).toEqual(before);
    expect(before.filter((r) => r.is_flagged).map((r) => r.customer_id)).toEqual(['1', '8']);
  });
});
