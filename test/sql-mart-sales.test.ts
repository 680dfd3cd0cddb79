import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { salesTopCustomers, salesTopProducts, salesTrends } from '../lib/schema/marts/sales.js';
import { stageOrderItems, stageOrders, stageProducts } from '../lib/schema/tables.js';
import { FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * The sales marts on hand-made stage rows. Run date 2024-06-30: orders count up to
 * 2024-06-30 23:59:59 (ordered_at < 2024-07-01 00:00:00). Only revenue orders count: cancelled and
 * refunded ones are written with amounts that would change every figure if they were counted.
 */
const RUN_DATE = '2024-06-30';

const order = (
  order_id: string,
  customer_id: number,
  ordered_at: string,
  total_amount: number,
  status = 'delivered',
): FixtureRow => ({
  order_id,
  customer_id,
  ordered_at,
  status,
  channel: order_id.startsWith('h-') ? 'legacy' : 'web',
  payment_method: 'card',
  currency: 'USD',
  total_amount,
  discount_amount: 0,
  item_quantity: 1,
  is_revenue: status !== 'cancelled' && status !== 'refunded',
  source: order_id.startsWith('h-') ? 'history' : 'mysql',
});

const line = (
  order_id: string,
  line_number: number,
  product_id: number,
  quantity: number,
  line_amount: number,
): FixtureRow => ({
  order_id,
  line_number,
  product_id,
  quantity,
  unit_price: line_amount / quantity,
  discount_amount: 0,
  line_amount,
});

// One history of orders feeds sales_trends and sales_top_products.
const ORDERS: FixtureRow[] = [
  // January: two revenue orders (100 + 50); a cancelled 999 and a refunded -40 count nowhere.
  order('m-1', 1, '2024-01-10 10:00:00', 100),
  order('m-2', 2, '2024-01-20 10:00:00', 50),
  order('m-3', 1, '2024-01-25 10:00:00', 999, 'cancelled'),
  order('m-4', 2, '2024-01-28 10:00:00', -40, 'refunded'),
  // February: only a cancelled order, so no revenue at all.
  order('m-5', 3, '2024-02-14 10:00:00', 500, 'cancelled'),
  // March: one customer, two orders (60 + 40).
  order('m-6', 1, '2024-03-05 10:00:00', 60),
  order('m-7', 1, '2024-03-20 10:00:00', 40),
  // April: one legacy history order (it has no lines, so it is in no product figure).
  order('h-a', 3, '2024-04-02 00:00:00', 150),
  // May: 30 + 45.50, the second on the month's last hour.
  order('m-9', 2, '2024-05-10 10:00:00', 30),
  order('m-10', 4, '2024-05-31 23:00:00', 45.5),
  // June: an order on the last second of the run date counts; one on the exclusive edge does not.
  order('m-11', 1, '2024-06-30 23:59:59', 25),
  order('m-12', 4, '2024-07-01 00:00:00', 70),
];

const LINES: FixtureRow[] = [
  line('m-1', 1, 10, 2, 60),
  line('m-1', 2, 20, 1, 40),
  line('m-2', 1, 30, 1, 40),
  line('m-2', 2, 10, 1, 10),
  line('m-3', 1, 40, 10, 999), // cancelled order
  line('m-4', 1, 30, 1, 40), // refunded order
  line('m-5', 1, 40, 5, 500), // cancelled order
  line('m-6', 1, 40, 1, 55),
  line('m-6', 2, 50, 1, 5), // product 50 is not in stage.products
  line('m-7', 1, 20, 2, 40),
  line('m-9', 1, 30, 3, 30),
  line('m-10', 1, 20, 1, 45.5),
  line('m-11', 1, 10, 1, 25),
  line('m-12', 1, 40, 1, 70), // after the run date
];

const PRODUCTS: FixtureRow[] = [
  { product_id: 10, product_name: 'Mug', category: 'Kitchen', brand: 'A', list_price: 25 },
  { product_id: 20, product_name: 'Tea', category: 'Grocery', brand: 'B', list_price: 40 },
  { product_id: 30, product_name: 'Pen', category: 'Office', brand: 'C', list_price: 10 },
  { product_id: 40, product_name: 'Lamp', category: 'Home', brand: 'D', list_price: 55 },
];

const trendColumns = (r: Record<string, unknown>) => [
  r.month,
  r.revenue,
  r.orders,
  r.customers,
  r.avg_order_value,
  r.revenue_rank,
  r.is_peak,
];

describe('sales_trends and sales_top_products: revenue by month', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageOrders, RUN_DATE, ORDERS);
    await lake.write(stageOrderItems, RUN_DATE, LINES);
    await lake.write(stageProducts, RUN_DATE, PRODUCTS);
    // Another run date's partition, which a run for RUN_DATE must not read.
    await lake.write(stageOrders, '2024-05-31', [order('m-99', 9, '2024-01-15 10:00:00', 10_000)]);
  });

  afterAll(() => lake?.close());

  it('sums revenue orders per calendar month, with a row for a month without revenue', async () => {
    await lake.run('sales_trends', RUN_DATE, { analysis: { topN: 2 } });
    const rows = await lake.read(salesTrends, RUN_DATE, 'month');
    // columns: month, revenue, orders, customers, avg order value, revenue rank, is_peak (top 2)
    // Ranks by revenue: Jan 150 and Apr 150 tie at 1, Mar 100 is 3, May 75.50 is 4, Jun 25 is 5,
    // Feb 0 is 6. Top 2 = ranks <= 2: the tied January and April only.
    expect(rows.map(trendColumns)).toEqual([
      // m-1 100 + m-2 50 (the cancelled 999 and refunded -40 are out): 2 orders, customers 1 and 2,
      // 150 / 2 = 75. Counting them would give 1109 over 4 orders.
      ['2024-01-01', '150.00', 2, 2, '75.00', 1, true],
      // only a cancelled order: no revenue order, an average of nothing is null.
      ['2024-02-01', '0.00', 0, 0, null, 6, false],
      // m-6 60 + m-7 40, both customer 1: 100 / 2 = 50.
      ['2024-03-01', '100.00', 2, 1, '50.00', 3, false],
      // the history order h-a counts like any revenue order.
      ['2024-04-01', '150.00', 1, 1, '150.00', 1, true],
      // m-9 30 + m-10 45.50 = 75.50 over 2 orders = 37.75.
      ['2024-05-01', '75.50', 2, 2, '37.75', 4, false],
      // m-11 on 2024-06-30 23:59:59 only; m-12 at 2024-07-01 00:00:00 is after the run date.
      ['2024-06-01', '25.00', 1, 1, '25.00', 5, false],
    ]);
  });

  it('gives the change against the previous calendar month, null after a month without revenue', async () => {
    await lake.run('sales_trends', RUN_DATE, { analysis: { topN: 2 } });
    const rows = await lake.read(salesTrends, RUN_DATE, 'month');
    const change = rows.map((r) => r.revenue_change_pct as number | null);
    // January is the first month: null.
    expect(change[0]).toBeNull();
    // February vs January: 100 x (0 - 150) / 150 = -100.
    expect(change[1]).toBeCloseTo(-100, 10);
    // March vs February: February's revenue is 0, no base: null (not Infinity, not vs January).
    expect(change[2]).toBeNull();
    // April vs March: 100 x (150 - 100) / 100 = 50.
    expect(change[3]).toBeCloseTo(50, 10);
    // May vs April: 100 x (75.50 - 150) / 150 = -49.666...
    expect(change[4]).toBeCloseTo((100 * (75.5 - 150)) / 150, 10);
    // June vs May: 100 x (25 - 75.50) / 75.50 = -66.887...
    expect(change[5]).toBeCloseTo((100 * (25 - 75.5)) / 75.5, 10);
    // The run date 2024-06-30 is June's last day: no month is partial, every base is a whole month.
    expect(rows.map((r) => r.is_partial_month)).toEqual([false, false, false, false, false, false]);
    expect(rows.map((r) => r.change_base_revenue)).toEqual([
      null,
      '150.00',
      '0.00',
      '100.00',
      '150.00',
      '75.50',
    ]);
  });

  it('takes N from configuration: ties at the top share a rank, and a month without revenue is no peak', async () => {
    // N = 1: January and April tie at rank 1, so both are peaks (two rows for a top 1).
    await lake.run('sales_trends', RUN_DATE, { analysis: { topN: 1 } });
    let rows = await lake.read(salesTrends, RUN_DATE, 'month');
    expect(rows.filter((r) => r.is_peak).map((r) => r.month)).toEqual(['2024-01-01', '2024-04-01']);
    // N = 3: March (rank 3) joins them.
    await lake.run('sales_trends', RUN_DATE, { analysis: { topN: 3 } });
    rows = await lake.read(salesTrends, RUN_DATE, 'month');
    expect(rows.filter((r) => r.is_peak).map((r) => r.month)).toEqual([
      '2024-01-01',
      '2024-03-01',
      '2024-04-01',
    ]);
    // N = 10 covers every rank, but February (revenue 0, rank 6) is still not a peak.
    await lake.run('sales_trends', RUN_DATE, { analysis: { topN: 10 } });
    rows = await lake.read(salesTrends, RUN_DATE, 'month');
    expect(rows.filter((r) => !r.is_peak).map((r) => r.month)).toEqual(['2024-02-01']);
  });

  it('ranks products within each month by line revenue of revenue orders, keeping ties at the boundary', async () => {
    await lake.run('sales_top_products', RUN_DATE, { analysis: { topN: 2 } });
    const rows = await lake.read(salesTopProducts, RUN_DATE, 'month, product_rank, product_id');
    // columns: month, product, name, category, revenue, units, rank
    expect(
      rows.map((r) => [
        r.month,
        r.product_id,
        r.product_name,
        r.category,
        r.revenue,
        r.units,
        r.product_rank,
      ]),
    ).toEqual([
      // January: Mug 60 (m-1, 2 units) + 10 (m-2, 1 unit) = 70; Tea 40 and Pen 40 tie at rank 2, so
      // a top 2 keeps three rows. The cancelled Lamp 999 (m-3) and refunded Pen 40 (m-4) are out:
      // counted, Lamp would be first and Pen 80 second alone.
      ['2024-01-01', '10', 'Mug', 'Kitchen', '70.00', 3, 1],
      ['2024-01-01', '20', 'Tea', 'Grocery', '40.00', 1, 2],
      ['2024-01-01', '30', 'Pen', 'Office', '40.00', 1, 2],
      // February: the only lines belong to a cancelled order: no row.
      // March: Lamp 55, Tea 40 (2 units); product 50 (5) is third and cut by the top 2.
      ['2024-03-01', '40', 'Lamp', 'Home', '55.00', 1, 1],
      ['2024-03-01', '20', 'Tea', 'Grocery', '40.00', 2, 2],
      // April: only a history order, which has no lines: no row.
      // May: Tea 45.50, Pen 30 (3 units).
      ['2024-05-01', '20', 'Tea', 'Grocery', '45.50', 1, 1],
      ['2024-05-01', '30', 'Pen', 'Office', '30.00', 3, 2],
      // June: Mug 25 of m-11; Lamp 70 of m-12 (2024-07-01 00:00:00) is after the run date.
      ['2024-06-01', '10', 'Mug', 'Kitchen', '25.00', 1, 1],
    ]);
  });

  it('takes N from configuration for products too', async () => {
    // N = 3: product 50 enters March with its rank, without a name or category (not in stage.products).
    await lake.run('sales_top_products', RUN_DATE, { analysis: { topN: 3 } });
    let rows = await lake.read(salesTopProducts, RUN_DATE, 'month, product_rank, product_id');
    expect(
      rows.filter((r) => r.month === '2024-03-01').map((r) => [r.product_id, r.product_name, r.product_rank]),
    ).toEqual([
      ['40', 'Lamp', 1],
      ['20', 'Tea', 2],
      ['50', null, 3],
    ]);
    expect(rows).toHaveLength(9);
    // N = 1: one product per month; no tie at rank 1 anywhere.
    await lake.run('sales_top_products', RUN_DATE, { analysis: { topN: 1 } });
    rows = await lake.read(salesTopProducts, RUN_DATE, 'month, product_rank, product_id');
    expect(rows.map((r) => [r.month, r.product_id])).toEqual([
      ['2024-01-01', '10'],
      ['2024-03-01', '40'],
      ['2024-05-01', '20'],
      ['2024-06-01', '10'],
    ]);
  });
});

describe('sales_top_customers: the top N customers in the RFM window, month by month', () => {
  let lake: FixtureLake;
  /*
   * rfm_window_days = 121, the 121 calendar days ending with the run date: the window is
   * 2024-03-02 00:00:00 (2024-07-01 minus 121 days, included) to 2024-07-01 00:00:00 (excluded); its
   * months are March (from the 2nd), April, May and June.
   */
  const WINDOW_121 = { rfmWindowDays: 121 };

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(stageOrders, RUN_DATE, [
      // 1: 100 on the window's first instant + 50 in May = 150.
      order('m-1', 1, '2024-03-02 00:00:00', 100),
      order('m-2', 1, '2024-05-15 10:00:00', 50),
      // 2: 1000 one second before the window (out), 90 + 60 in April = 150: ties with customer 1.
      order('m-3', 2, '2024-03-01 23:59:59', 1000),
      order('m-4', 2, '2024-04-10 10:00:00', 90),
      order('m-5', 2, '2024-04-20 10:00:00', 60),
      // 3: 120 on the run date's last second; a cancelled 500 and a refunded -20 count nowhere.
      order('m-6', 3, '2024-06-30 23:59:59', 120),
      order('m-7', 3, '2024-06-01 10:00:00', 500, 'cancelled'),
      order('m-8', 3, '2024-06-02 10:00:00', -20, 'refunded'),
      // 4: 100 in June; 500 on 2024-07-01 00:00:00 is after the run date.
      order('m-9', 4, '2024-06-10 10:00:00', 100),
      order('m-10', 4, '2024-07-01 00:00:00', 500),
      // 5: 30.
      order('h-b', 5, '2024-05-01 00:00:00', 30),
    ]);
  });

  afterAll(() => lake?.close());

  const columns = (r: Record<string, unknown>) => [
    r.customer_id,
    r.customer_rank,
    r.month,
    r.revenue,
    r.orders,
  ];

  it('keeps every customer tied at the boundary, with a row for every month of the window', async () => {
    await lake.run('sales_top_customers', RUN_DATE, { analysis: { ...WINDOW_121, topN: 1 } });
    const rows = await lake.read(salesTopCustomers, RUN_DATE, 'customer_id, month');
    // Window revenue: 1 = 150, 2 = 150, 3 = 120, 4 = 100, 5 = 30. Customers 1 and 2 tie at rank 1,
    // so a top 1 has two customers. Months without an order have revenue 0.
    expect(rows.map(columns)).toEqual([
      ['1', 1, '2024-03-01', '100.00', 1],
      ['1', 1, '2024-04-01', '0.00', 0],
      ['1', 1, '2024-05-01', '50.00', 1],
      ['1', 1, '2024-06-01', '0.00', 0],
      // 2: the 1000 of 2024-03-01 23:59:59 is before the window: March is 0.
      ['2', 1, '2024-03-01', '0.00', 0],
      ['2', 1, '2024-04-01', '150.00', 2],
      ['2', 1, '2024-05-01', '0.00', 0],
      ['2', 1, '2024-06-01', '0.00', 0],
    ]);
  });

  it('takes N from configuration: a top 3 adds customer 3, whose cancelled and refunded orders are out', async () => {
    await lake.run('sales_top_customers', RUN_DATE, { analysis: { ...WINDOW_121, topN: 3 } });
    const rows = await lake.read(salesTopCustomers, RUN_DATE, 'customer_id, month');
    expect([...new Set(rows.map((r) => r.customer_id))]).toEqual(['1', '2', '3']);
    // 3: rank 3 (120 after the tied 150s); June holds only the 120 order (the cancelled 500 would
    // have made it 620 and rank 1).
    expect(rows.filter((r) => r.customer_id === '3').map(columns)).toEqual([
      ['3', 3, '2024-03-01', '0.00', 0],
      ['3', 3, '2024-04-01', '0.00', 0],
      ['3', 3, '2024-05-01', '0.00', 0],
      ['3', 3, '2024-06-01', '120.00', 1],
    ]);
  });

  it("takes the window from configuration: one more day brings in customer 2's 1000", async () => {
    // 122 days: the window starts 2024-03-01 00:00:00, so m-3 counts: 2 = 1150 is alone at rank 1.
    await lake.run('sales_top_customers', RUN_DATE, { analysis: { rfmWindowDays: 122, topN: 1 } });
    const rows = await lake.read(salesTopCustomers, RUN_DATE, 'customer_id, month');
    expect(rows.map(columns)).toEqual([
      ['2', 1, '2024-03-01', '1000.00', 1],
      ['2', 1, '2024-04-01', '150.00', 2],
      ['2', 1, '2024-05-01', '0.00', 0],
      ['2', 1, '2024-06-01', '0.00', 0],
    ]);
  });
});

/*
 * A month the run date cuts short is compared like for like: month-to-date against the same days of
 * the previous month. Two run dates, each with its own stage partition.
 */
describe('sales_trends: a partial month against the same days of the previous month', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    // Run date 2024-06-09: June 1-9 against May 1-9.
    await lake.write(stageOrders, '2024-06-09', [
      order('m-1', 1, '2024-05-03 10:00:00', 100),
      order('m-2', 2, '2024-05-09 23:00:00', 50), // May 9: within the same days
      order('m-3', 1, '2024-05-10 00:00:00', 400), // May 10: after them
      order('m-4', 3, '2024-05-31 10:00:00', 10),
      order('m-5', 1, '2024-06-02 10:00:00', 120),
      order('m-6', 2, '2024-06-09 23:59:59', 30), // the run date's last second counts
    ]);
    // Run date 2024-03-30: March 1-30 against February 1-30, which is all of February 2024 (29 days).
    await lake.write(stageOrders, '2024-03-30', [
      order('m-7', 1, '2024-02-01 10:00:00', 20),
      order('m-8', 1, '2024-02-29 10:00:00', 10),
      order('m-9', 1, '2024-03-30 10:00:00', 15),
    ]);
  });

  afterAll(() => lake?.close());

  it('marks the month the run date cuts short and compares its days with the same days before', async () => {
    await lake.run('sales_trends', '2024-06-09');
    const rows = await lake.read(salesTrends, '2024-06-09', 'month');
    expect(rows.map((r) => [r.month, r.revenue, r.is_partial_month, r.change_base_revenue])).toEqual([
      // May: 100 + 50 + 400 + 10 = 560, a whole month; the first month has no base.
      ['2024-05-01', '560.00', false, null],
      // June 1-9: 120 + 30 = 150, against May 1-9: 100 + 50 = 150 (May 10's 400 is after those days).
      ['2024-06-01', '150.00', true, '150.00'],
    ]);
    // 100 x (150 - 150) / 150 = 0, where the whole of May would have said 100 x (150 - 560) / 560 = -73%.
    expect(rows[1]?.revenue_change_pct).toBe(0);
  });

  it('takes all of a shorter previous month', async () => {
    await lake.run('sales_trends', '2024-03-30');
    const rows = await lake.read(salesTrends, '2024-03-30', 'month');
    // March 1-30 (15) against February 1-30 = all of February (20 + 10 = 30): 100 x (15 - 30) / 30 = -50.
    expect(rows.map((r) => [r.month, r.revenue, r.is_partial_month, r.change_base_revenue])).toEqual([
      ['2024-02-01', '30.00', false, null],
      ['2024-03-01', '15.00', true, '30.00'],
    ]);
    expect(rows[1]?.revenue_change_pct).toBeCloseTo(-50, 10);
  });
});

describe('sales_trends: avg_order_value rounds half up to the cent', () => {
  let lake: FixtureLake;
  afterAll(() => lake?.close());

  it('gives 0.03 for orders of 0.02 and 0.03, and 1.01 for 1.00 and 1.01', async () => {
    // By hand: May 0.05 / 2 = 0.025 -> 0.03; June 2.01 / 2 = 1.005 -> 1.01 (half up, not the double
    // 1.00499999999999989 rounded down).
    lake = await FixtureLake.open();
    await lake.write(stageOrders, RUN_DATE, [
      order('m-1', 1, '2024-05-01 10:00:00', 0.02),
      order('m-2', 2, '2024-05-02 10:00:00', 0.03),
      order('m-3', 1, '2024-06-01 10:00:00', 1.0),
      order('m-4', 2, '2024-06-02 10:00:00', 1.01),
    ]);
    await lake.run('sales_trends', RUN_DATE);
    const rows = await lake.read(salesTrends, RUN_DATE, 'month');
    expect(rows.map((r) => [r.month, r.revenue, r.avg_order_value])).toEqual([
      ['2024-05-01', '0.05', '0.03'],
      ['2024-06-01', '2.01', '1.01'],
    ]);
  });
});
