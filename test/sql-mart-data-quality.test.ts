import { afterAll, describe, expect, it } from 'vitest';
import type { Customer360ConfigInput } from '../lib/config/schema.js';
import { dataQuality } from '../lib/schema/marts/data-quality.js';
import {
  rawDynamodbInteractions,
  rawHistoryOrders,
  rawMysqlCustomers,
  rawMysqlOrders,
  rawMysqlProducts,
  snapshotHistoryOrders,
  snapshotMysqlOrders,
  stageCustomers,
  stageIdentityMap,
  stageInteractions,
  stageOrderItems,
  stageOrders,
  stageProducts,
  stageRejects,
} from '../lib/schema/tables.js';
import type { TableSchema } from '../lib/schema/types.js';
import { FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * The data_quality mart on hand-made raw and stage partitions. Run date 2024-06-30, default limits:
 * max_reject_share 0.05 (fails when strictly above), max_source_staleness_days 3 (fails when strictly
 * above). Each scenario is the healthy fixture with one thing broken, in a lake of its own.
 */
const RUN_DATE = '2024-06-30';
const INGESTED_AT = '2024-06-30 03:00:00';

type Partitions = Map<TableSchema, Map<string, FixtureRow[]>>;

const customer = (customer_id: number, updated_at: string): FixtureRow => ({
  customer_id,
  email: `c${customer_id}@example.com`,
  updated_at,
  ingested_at: INGESTED_AT,
});
const rawOrder = (order_id: number, updated_at: string): FixtureRow => ({
  order_id,
  customer_id: 1,
  order_at: '2024-06-01 10:00:00',
  status: 'delivered',
  total_amount: 10,
  updated_at,
  ingested_at: INGESTED_AT,
});
const rawEvent = (event_id: string, event_at: string): FixtureRow => ({
  customer_key: 'customer#1',
  event_key: `${event_at}#${event_id}`,
  event_id,
  event_type: 'web_visit',
  event_at,
  item_json: '{}',
  ingested_at: INGESTED_AT,
});
const stageOrder = (order_id: string, source: 'mysql' | 'history'): FixtureRow => ({
  order_id,
  customer_id: 1,
  ordered_at: '2024-06-01 10:00:00',
  status: 'delivered',
  total_amount: 10,
  is_revenue: true,
  source,
});
const reject = (source: string, reason: string, n: number): FixtureRow => ({
  source,
  record_key: `${source}-${n}`,
  reason,
});
const interactions = (count: number): FixtureRow[] =>
  Array.from({ length: count }, (_, i) => ({
    event_id: `e${i}`,
    customer_id: 1,
    event_type: 'web_visit',
    event_at: '2024-06-20 10:00:00',
  }));

/** The healthy fixture: every blocking check passes. Partitions by table and partition date. */
function healthy(): Partitions {
  return new Map<TableSchema, Map<string, FixtureRow[]>>([
    [
      rawMysqlCustomers,
      new Map([
        ['2024-06-29', [customer(1, '2024-06-20 08:00:00'), customer(2, '2024-06-28 09:00:00')]],
        // newest MySQL change: 2024-06-29 12:00, one day before the run date
        ['2024-06-30', [customer(1, '2024-06-29 12:00:00')]],
        // landed after the run date: invisible to the run (not counted, not fresher)
        ['2024-07-01', [customer(3, '2024-07-01 01:00:00')]],
      ]),
    ],
    [
      rawMysqlOrders,
      new Map([
        // a zero date does not parse and is ignored
        ['2024-06-30', [rawOrder(1, '2024-06-27 10:00:00'), rawOrder(2, '0000-00-00 00:00:00')]],
      ]),
    ],
    [rawMysqlProducts, new Map([['2024-06-01', [{ product_id: 10, ingested_at: INGESTED_AT }]]])],
    // raw.mysql_order_items has no partition at all: counts of 0
    [
      rawDynamodbInteractions,
      new Map([
        [
          '2024-06-30',
          [
            rawEvent('d1', '2024-06-28T22:00:00.000Z'),
            // 01:30 at +02:00 is 2024-06-29 23:30 UTC: the newest event, one day before the run date
            // (read as local time it would be on the run date, 0 days)
            rawEvent('d2', '2024-06-30T01:30:00.000+02:00'),
            rawEvent('d3', 'not a date'),
          ],
        ],
      ]),
    ],
    [
      rawHistoryOrders,
      new Map([
        [
          '2024-05-01',
          [
            { source_file: 'a.csv', line_number: 1, ingested_at: INGESTED_AT },
            { source_file: 'a.csv', line_number: 2, ingested_at: INGESTED_AT },
          ],
        ],
      ]),
    ],
    [
      stageCustomers,
      new Map([
        [
          RUN_DATE,
          [
            { customer_id: 1, source: 'mysql' },
            { customer_id: 2, source: 'mysql' },
            { customer_id: -7, source: 'dynamodb' },
          ],
        ],
      ]),
    ],
    [stageProducts, new Map([[RUN_DATE, [{ product_id: 10 }]]])],
    [
      stageOrders,
      new Map([
        [
          RUN_DATE,
          [
            stageOrder('m-1', 'mysql'),
            stageOrder('m-2', 'mysql'),
            stageOrder('m-3', 'mysql'),
            stageOrder('h-a', 'history'),
            stageOrder('h-b', 'history'),
          ],
        ],
        // another run's partition: never read by this run
        ['2024-06-29', [stageOrder('m-1', 'mysql')]],
      ]),
    ],
    [
      stageOrderItems,
      new Map([
        [
          RUN_DATE,
          [
            { order_id: 'm-1', line_number: 1, product_id: 10 },
            { order_id: 'm-2', line_number: 1, product_id: 10 },
          ],
        ],
      ]),
    ],
    [stageInteractions, new Map([[RUN_DATE, interactions(38)]])],
    [
      stageIdentityMap,
      new Map([
        [
          RUN_DATE,
          [
            {
              source: 'mysql',
              source_key_type: 'customer_id',
              source_key: '1',
              customer_id: 1,
              match_rule: 'mysql_id',
            },
            {
              source: 'mysql',
              source_key_type: 'customer_id',
              source_key: '2',
              customer_id: 2,
              match_rule: 'mysql_id',
            },
          ],
        ],
      ]),
    ],
    [
      stageRejects,
      new Map([
        [
          RUN_DATE,
          [
            reject('dynamodb.interactions', 'unparseable_date', 1),
            reject('dynamodb.interactions', 'identity_group_too_large', 2),
          ],
        ],
        // another run's rejects: never read by this run
        ['2024-06-29', [1, 2, 3, 4, 5].map((n) => reject('mysql.orders', 'negative_amount', n))],
      ]),
    ],
  ]);
}

const lakes: FixtureLake[] = [];
afterAll(() => {
  for (const lake of lakes) lake.close();
});

/** Writes a scenario into a fresh lake, runs data_quality and returns its rows by check and subject. */
async function runScenario(
  partitions: Partitions,
  config: Customer360ConfigInput = {},
): Promise<{ lake: FixtureLake; rows: Record<string, Record<string, unknown>> }> {
  const lake = await FixtureLake.open();
  lakes.push(lake);
  for (const [table, byDate] of partitions) {
    for (const [date, rows] of byDate) await lake.write(table, date, rows);
  }
  return { lake, rows: await rerun(lake, config) };
}

async function rerun(
  lake: FixtureLake,
  config: Customer360ConfigInput = {},
): Promise<Record<string, Record<string, unknown>>> {
  await lake.run('data_quality', RUN_DATE, config);
  const rows = await lake.read(dataQuality, RUN_DATE, 'check_name, subject');
  return Object.fromEntries(rows.map((r) => [`${r.check_name} ${r.subject}`, r]));
}

/** What the quality gate selects: the failed blocking checks. */
const failedBlocking = (rows: Record<string, Record<string, unknown>>) =>
  Object.entries(rows)
    .filter(([, r]) => r.is_blocking && !r.is_passed)
    .map(([key]) => key)
    .sort();

// [metric_value, threshold, is_passed, is_blocking]
const figures = (r: Record<string, unknown> | undefined) =>
  r === undefined ? undefined : [r.metric_value, r.threshold, r.is_passed, r.is_blocking];

describe('data_quality mart: counts, rejects, freshness and blocking checks', () => {
  it('reports every check of a healthy run, and no blocking check fails', async () => {
    const { rows } = await runScenario(healthy());
    const byKey = Object.fromEntries(Object.entries(rows).map(([key, r]) => [key, figures(r)]));
    expect(byKey).toEqual({
      // raw: rows with ingest_date <= run date (visible), and with ingest_date = run date (landed).
      // customers: 2 on 06-29 + 1 on 06-30 (the 07-01 row is after the run date); 1 landed today.
      'row_count raw.mysql_customers': [3, null, true, false],
      'rows_ingested raw.mysql_customers': [1, null, true, false],
      'row_count raw.mysql_products': [1, null, true, false],
      'rows_ingested raw.mysql_products': [0, null, true, false],
      'row_count raw.mysql_orders': [2, null, true, false],
      'rows_ingested raw.mysql_orders': [2, null, true, false],
      // no partition yet: zero, not a missing row
      'row_count raw.mysql_order_items': [0, null, true, false],
      'rows_ingested raw.mysql_order_items': [0, null, true, false],
      'row_count raw.dynamodb_interactions': [3, null, true, false],
      'rows_ingested raw.dynamodb_interactions': [3, null, true, false],
      'row_count raw.history_orders': [2, null, true, false],
      'rows_ingested raw.history_orders': [0, null, true, false],
      // stage: the run date's partition only (the 06-29 orders and rejects are another run's)
      'row_count stage.customers': [3, null, true, false],
      'row_count stage.products': [1, null, true, false],
      'row_count stage.orders': [5, null, true, false],
      'row_count stage.order_items': [2, null, true, false],
      'row_count stage.interactions': [38, null, true, false],
      'row_count stage.identity_map': [2, null, true, false],
      'row_count stage.rejects': [2, null, true, false],
      // rejects by source and reason, information only
      'rejects dynamodb.interactions/identity_group_too_large': [1, null, true, false],
      'rejects dynamodb.interactions/unparseable_date': [1, null, true, false],
      // reject share = rejects / (rejects + accepted), blocking above 0.05:
      // customers 0 / (0 + 2 mysql customers; the dynamodb-only customer is not a MySQL record)
      'reject_share mysql.customers': [0, 0.05, true, true],
      'reject_share mysql.products': [0, 0.05, true, true],
      // orders are split by stage.orders.source: 3 mysql, 2 history
      'reject_share mysql.orders': [0, 0.05, true, true],
      'reject_share history.orders': [0, 0.05, true, true],
      'reject_share mysql.order_items': [0, 0.05, true, true],
      // 2 / (2 + 38) = 0.05 exactly: on the limit, which is not beyond it
      'reject_share dynamodb.interactions': [0.05, 0.05, true, true],
      // 5 orders in stage.orders for the run date
      'orders_loaded stage.orders': [5, 0, true, true],
      // MySQL: newest of 06-20, 06-28, 06-29 12:00 (customers) and 06-27 (orders; the zero date does
      // not parse): 06-29, 1 day <= 3
      'freshness_days mysql': [1, 3, true, true],
      // DynamoDB: newest of 06-28 22:00Z and 06-29 23:30Z ('not a date' does not parse): 1 day
      'freshness_days dynamodb': [1, 3, true, true],
      // one identity_group_too_large reject: a warning that fails without blocking the run
      'identity_group_cap stage.rejects': [1, 0, false, false],
      // no identity_hash_collision reject in the fixture: the warning passes
      'identity_hash_collision stage.rejects': [0, 0, true, false],
      // no snapshot rows in the fixture: nothing out of scope, a row per order source all the same
      'out_of_scope_rows mysql.orders': [0, null, true, false],
      'out_of_scope_rows history.orders': [0, null, true, false],
      // the fixture's stage orders carry no currency: none to mix
      'mixed_currency stage.orders': [0, 1, true, true],
      // a run without a base snapshot (its own location) lists no deletion, and has no share to judge
      // (deletions are tested in test/source-deletes-sql.test.ts)
      'source_deletes mysql.customers': [0, null, true, false],
      'source_deletes mysql.products': [0, null, true, false],
      'source_deletes mysql.orders': [0, null, true, false],
      'source_deletes mysql.order_items': [0, null, true, false],
      'source_deletes dynamodb.interactions': [0, null, true, false],
      'deleted_share mysql.customers': [null, 0.05, true, true],
      'deleted_share mysql.products': [null, 0.05, true, true],
      'deleted_share mysql.orders': [null, 0.05, true, true],
      'deleted_share mysql.order_items': [null, 0.05, true, true],
    });
    expect(failedBlocking(rows)).toEqual([]);
  });

  it('explains each check in its detail', async () => {
    const { rows } = await runScenario(healthy());
    expect(rows['row_count raw.mysql_customers']?.detail).toBe('rows with ingest_date <= 2024-06-30');
    expect(rows['rows_ingested raw.mysql_customers']?.detail).toBe('rows with ingest_date = 2024-06-30');
    expect(rows['reject_share dynamodb.interactions']?.detail).toBe(
      '2 rejected of 40 dynamodb.interactions records (5.00%), limit 5.00%',
    );
    expect(rows['freshness_days dynamodb']?.detail).toBe(
      'newest change on 2024-06-29 in raw.dynamodb_interactions, limit 3 days',
    );
    expect(rows['identity_group_cap stage.rejects']?.detail).toBe(
      '1 records not merged: their identity group exceeds identity.maxSourceIdsPerCustomer = 25',
    );
  });

  it('blocks a run that loaded no orders, and on that check alone', async () => {
    const partitions = healthy();
    // the run date's stage.orders partition is empty (the 06-29 one still has an order)
    partitions.get(stageOrders)?.set(RUN_DATE, []);
    const { rows } = await runScenario(partitions);
    expect(figures(rows['orders_loaded stage.orders'])).toEqual([0, 0, false, true]);
    expect(rows['orders_loaded stage.orders']?.detail).toBe('no orders in stage.orders for 2024-06-30');
    // no order records at all: no share to judge, so the share checks pass with a null share
    expect(figures(rows['reject_share mysql.orders'])).toEqual([null, 0.05, true, true]);
    expect(rows['reject_share mysql.orders']?.detail).toBe('no mysql.orders records');
    expect(failedBlocking(rows)).toEqual(['orders_loaded stage.orders']);
  });

  it('blocks a run whose source stopped updating, and the limit comes from configuration', async () => {
    const partitions = healthy();
    // MySQL: nothing newer than 2024-06-26 up to the run date, which is 4 days > 3. A garbled
    // far-future time and a change after the run date (landed in the run date's partition) must not
    // make it look fresh.
    partitions.set(
      rawMysqlCustomers,
      new Map([
        [
          '2024-06-30',
          [
            customer(1, '2024-06-26 23:59:59'),
            customer(2, '2099-12-31 00:00:00'),
            customer(4, '2024-07-01 00:00:00'),
          ],
        ],
      ]),
    );
    partitions.set(rawMysqlOrders, new Map([['2024-06-30', [rawOrder(1, '2024-06-25 10:00:00')]]]));
    // DynamoDB: newest event on 2024-06-27: exactly 3 days, on the limit, which passes.
    partitions.set(
      rawDynamodbInteractions,
      new Map([['2024-06-30', [rawEvent('d1', '2024-06-27T23:59:59.000Z')]]]),
    );
    const { lake, rows } = await runScenario(partitions);
    expect(figures(rows['freshness_days mysql'])).toEqual([4, 3, false, true]);
    expect(rows['freshness_days mysql']?.detail).toBe(
      'newest change on 2024-06-26 in raw.mysql_orders and raw.mysql_customers, limit 3 days',
    );
    expect(figures(rows['freshness_days dynamodb'])).toEqual([3, 3, true, true]);
    expect(failedBlocking(rows)).toEqual(['freshness_days mysql']);

    // A limit of 4 days lets MySQL pass; a limit of 2 fails DynamoDB as well.
    let changed = await rerun(lake, { analysis: { maxSourceStalenessDays: 4 } });
    expect(figures(changed['freshness_days mysql'])).toEqual([4, 4, true, true]);
    expect(failedBlocking(changed)).toEqual([]);
    changed = await rerun(lake, { analysis: { maxSourceStalenessDays: 2 } });
    expect(failedBlocking(changed)).toEqual(['freshness_days dynamodb', 'freshness_days mysql']);
  });

  it('treats a source with no parseable change time as stale', async () => {
    const partitions = healthy();
    partitions.set(rawDynamodbInteractions, new Map([['2024-06-30', [rawEvent('d1', 'not a date')]]]));
    const { rows } = await runScenario(partitions);
    expect(figures(rows['freshness_days dynamodb'])).toEqual([null, 3, false, true]);
    expect(rows['freshness_days dynamodb']?.detail).toBe(
      'no parseable change time up to the run date in raw.dynamodb_interactions',
    );
    expect(failedBlocking(rows)).toEqual(['freshness_days dynamodb']);
  });

  it('blocks a run with too many rejects of one source, and the limit comes from configuration', async () => {
    const partitions = healthy();
    partitions
      .get(stageRejects)
      ?.get(RUN_DATE)
      ?.push(reject('mysql.orders', 'negative_amount', 3));
    const { lake, rows } = await runScenario(partitions);
    // 1 mysql.orders reject / (1 + 3 mysql orders; the 2 history orders are another source) = 0.25.
    // Over all 5 stage orders it would be 1 / 6 = 0.1667.
    expect(figures(rows['reject_share mysql.orders'])).toEqual([0.25, 0.05, false, true]);
    expect(rows['reject_share mysql.orders']?.detail).toBe(
      '1 rejected of 4 mysql.orders records (25.00%), limit 5.00%',
    );
    expect(figures(rows['reject_share history.orders'])).toEqual([0, 0.05, true, true]);
    expect(figures(rows['rejects mysql.orders/negative_amount'])).toEqual([1, null, true, false]);
    expect(failedBlocking(rows)).toEqual(['reject_share mysql.orders']);

    // A limit of 0.25 is met exactly (passes); 0.2 sits between the right share (0.25, fails) and
    // the share over all orders (0.1667, which would pass).
    let changed = await rerun(lake, { analysis: { maxRejectShare: 0.25 } });
    expect(figures(changed['reject_share mysql.orders'])).toEqual([0.25, 0.25, true, true]);
    expect(failedBlocking(changed)).toEqual([]);
    changed = await rerun(lake, { analysis: { maxRejectShare: 0.2 } });
    expect(failedBlocking(changed)).toEqual(['reject_share mysql.orders']);
    // At 0.04, DynamoDB's 0.05 fails too.
    changed = await rerun(lake, { analysis: { maxRejectShare: 0.04 } });
    expect(failedBlocking(changed)).toEqual([
      'reject_share dynamodb.interactions',
      'reject_share mysql.orders',
    ]);
  });

  it('lists anonymous visitors among the rejects but leaves them out of the reject share', async () => {
    const partitions = healthy();
    const rejects = partitions.get(stageRejects)?.get(RUN_DATE);
    for (const n of [101, 102, 103, 104, 105, 106, 107, 108, 109, 110]) {
      rejects?.push(reject('mysql.orders', 'anonymous_visitor', n));
    }
    const { rows } = await runScenario(partitions);
    // Ten anonymous-visitor rows would make mysql.orders 10 / 13; excluded, its share stays 0.
    expect(figures(rows['rejects mysql.orders/anonymous_visitor'])).toEqual([10, null, true, false]);
    expect(figures(rows['reject_share mysql.orders'])).toEqual([0, 0.05, true, true]);
    expect(failedBlocking(rows)).toEqual([]);
  });

  it('passes the identity group warning when nothing was capped, and counts 0 over no rejects', async () => {
    const partitions = healthy();
    // no rejects at all for the run date (an empty input must count 0, not null)
    partitions.get(stageRejects)?.set(RUN_DATE, []);
    const { rows } = await runScenario(partitions);
    expect(figures(rows['identity_group_cap stage.rejects'])).toEqual([0, 0, true, false]);
    expect(figures(rows['reject_share dynamodb.interactions'])).toEqual([0, 0.05, true, true]);
    expect(Object.keys(rows).filter((key) => key.startsWith('rejects '))).toEqual([]);
    expect(failedBlocking(rows)).toEqual([]);
  });
});

describe('data_quality mart: disabled sources, out-of-scope rows and currencies (issue 18)', () => {
  it('has no freshness check for a disabled source, and says it is disabled', async () => {
    const partitions = healthy();
    // Both sources stopped long ago: with them enabled, both freshness checks fail (checked first,
    // so the test fails if the switch were ignored).
    partitions.set(rawMysqlCustomers, new Map([['2024-06-01', [customer(1, '2024-05-01 08:00:00')]]]));
    partitions.set(rawMysqlOrders, new Map());
    partitions.set(
      rawDynamodbInteractions,
      new Map([['2024-06-01', [rawEvent('d1', '2024-05-01T10:00:00.000Z')]]]),
    );
    const { lake, rows: enabled } = await runScenario(partitions);
    expect(failedBlocking(enabled)).toEqual(['freshness_days dynamodb', 'freshness_days mysql']);
    expect(enabled['source_disabled mysql']).toBeUndefined();

    const rows = await rerun(lake, {
      sources: { mysql: { enabled: false }, dynamodb: { enabled: false } },
    });
    expect(rows['freshness_days mysql']).toBeUndefined();
    expect(rows['freshness_days dynamodb']).toBeUndefined();
    expect(figures(rows['source_disabled mysql'])).toEqual([null, null, true, false]);
    expect(rows['source_disabled dynamodb']?.detail).toBe(
      'sources.dynamodb.enabled is false: not extracted, no freshness check',
    );
    expect(failedBlocking(rows)).toEqual([]);

    // one switched off: the other keeps its (failing) check
    const mysqlOnly = await rerun(lake, { sources: { dynamodb: { enabled: false } } });
    expect(failedBlocking(mysqlOnly)).toEqual(['freshness_days mysql']);
  });

  it('counts rows dated after the run date but not after their extraction as out of scope, not rejects', async () => {
    const partitions = healthy();
    const snapshotOrder = (order_id: number, order_at: string, ingested_at: string): FixtureRow => ({
      order_id,
      customer_id: 1,
      order_at,
      status: 'delivered',
      total_amount: 10,
      updated_at: order_at,
      ingested_at,
      ingest_date: '2024-07-05',
    });
    const historyRow = (line_number: number, order_date: string, ingested_at: string): FixtureRow => ({
      source_file: 'h.csv',
      line_number,
      customer_ref: 'L1',
      order_date,
      amount: '10.00',
      ingested_at,
      ingest_date: '2024-07-05',
    });
    // An as-of run on 2024-06-30 of data extracted on 2024-07-05 10:00. By hand, per source:
    //   mysql: 06-30 23:59 (in scope, the run date), 07-01 00:00 and 07-05 10:00 (out of scope: after
    //          the run date, not after the extraction; the second equals it), 07-05 10:00:01 and
    //          2099-01-01 (after their extraction: future_date rejects, not out of scope),
    //          garbage (no date: not out of scope) -> 2
    //   history (dateFormat %d/%m/%Y, parsed to midnight): 30/06/2024 in scope, 01/07/2024 and
    //          05/07/2024 out of scope, 06/07/2024 after the extraction, 2024-07-02 not in the
    //          configured format (unparseable: a reject of its own) -> 2
    partitions.set(
      snapshotMysqlOrders,
      new Map([
        [
          RUN_DATE,
          [
            snapshotOrder(1, '2024-06-30 23:59:00', '2024-07-05 10:00:00'),
            snapshotOrder(2, '2024-07-01 00:00:00', '2024-07-05 10:00:00'),
            snapshotOrder(3, '2024-07-05 10:00:00', '2024-07-05 10:00:00'),
            snapshotOrder(4, '2024-07-05 10:00:01', '2024-07-05 10:00:00'),
            snapshotOrder(5, '2099-01-01 00:00:00', '2024-07-05 10:00:00'),
            snapshotOrder(6, 'garbage', '2024-07-05 10:00:00'),
          ],
        ],
        // another run's snapshot: never read by this run
        ['2024-07-05', [snapshotOrder(7, '2024-07-02 00:00:00', '2024-07-05 10:00:00')]],
      ]),
    );
    partitions.set(
      snapshotHistoryOrders,
      new Map([
        [
          RUN_DATE,
          [
            historyRow(1, '30/06/2024', '2024-07-05 10:00:00'),
            historyRow(2, '01/07/2024', '2024-07-05 10:00:00'),
            historyRow(3, ' 05/07/2024 ', '2024-07-05 10:00:00'),
            historyRow(4, '06/07/2024', '2024-07-05 10:00:00'),
            historyRow(5, '2024-07-02', '2024-07-05 10:00:00'),
          ],
        ],
      ]),
    );
    const { rows } = await runScenario(partitions, { sources: { history: { dateFormat: '%d/%m/%Y' } } });
    expect(figures(rows['out_of_scope_rows mysql.orders'])).toEqual([2, null, true, false]);
    expect(figures(rows['out_of_scope_rows history.orders'])).toEqual([2, null, true, false]);
    expect(rows['out_of_scope_rows mysql.orders']?.detail).toBe(
      '2 mysql.orders rows dated after 2024-06-30 and not after their extraction: left out of this run, not rejected',
    );
    // informational: they add nothing to the reject share, which stays that of the healthy run
    expect(figures(rows['reject_share mysql.orders'])).toEqual([0, 0.05, true, true]);
    expect(figures(rows['reject_share history.orders'])).toEqual([0, 0.05, true, true]);
    expect(failedBlocking(rows)).toEqual([]);
  });

  it('blocks a run whose revenue orders mix currencies, naming them', async () => {
    const withCurrency = (order_id: string, currency: string | null, is_revenue = true): FixtureRow => ({
      ...stageOrder(order_id, 'mysql'),
      currency,
      is_revenue,
    });
    const partitions = healthy();
    // one currency among the revenue orders (a cancelled GBP order and history's null do not count)
    partitions
      .get(stageOrders)
      ?.set(RUN_DATE, [
        withCurrency('m-1', 'EUR'),
        withCurrency('m-2', 'EUR'),
        withCurrency('m-3', 'GBP', false),
        { ...stageOrder('h-a', 'history'), currency: null },
      ]);
    const { lake, rows } = await runScenario(partitions);
    expect(figures(rows['mixed_currency stage.orders'])).toEqual([1, 1, true, true]);
    expect(rows['mixed_currency stage.orders']?.detail).toBe('revenue orders all in EUR');

    // two currencies: 2 > 1, blocking, both named
    await lake.write(stageOrders, RUN_DATE, [
      withCurrency('m-1', 'EUR'),
      withCurrency('m-2', 'USD'),
      withCurrency('m-3', 'EUR'),
    ]);
    const mixed = await rerun(lake);
    expect(figures(mixed['mixed_currency stage.orders'])).toEqual([2, 1, false, true]);
    expect(mixed['mixed_currency stage.orders']?.detail).toBe(
      'revenue orders mix 2 currencies: EUR and USD; amounts would be added across currencies',
    );
    expect(failedBlocking(mixed)).toEqual(['mixed_currency stage.orders']);

    // three: counted, the first and last named
    await lake.write(stageOrders, RUN_DATE, [
      withCurrency('m-1', 'EUR'),
      withCurrency('m-2', 'USD'),
      withCurrency('m-3', 'GBP'),
    ]);
    const three = await rerun(lake);
    expect(figures(three['mixed_currency stage.orders'])).toEqual([3, 1, false, true]);
    expect(three['mixed_currency stage.orders']?.detail).toBe(
      'revenue orders mix 3 currencies, from EUR to USD; amounts would be added across currencies',
    );
  });
});
