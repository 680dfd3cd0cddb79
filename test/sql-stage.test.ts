import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { registerTable, runModel } from '../lib/local/sql-runner.js';
import { dataQuality } from '../lib/schema/marts/data-quality.js';
import {
  rawDynamodbInteractions,
  rawHistoryOrders,
  rawMysqlCustomers,
  rawMysqlOrderItems,
  rawMysqlOrders,
  rawMysqlProducts,
  stageCustomers,
  stageIdentityMap,
  stageInteractions,
  stageOrderItems,
  stageOrders,
  stageProducts,
  stageRejects,
} from '../lib/schema/tables.js';
import { loadModels, tableModelsInOrder } from '../lib/sql/models.js';
import { pipelineParameters } from '../lib/sql/parameters.js';
import { FIXTURE_RUN_ID, FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * A hand-made raw zone with one record for every rule of staging, identity resolution and
 * quarantine. Run date 2024-06-30: "up to the run date" means before 2024-07-01 00:00:00.
 */
const RUN_DATE = '2024-06-30';
const T = '2024-06-01 00:00:00';

const customer = (row: FixtureRow): FixtureRow => ({
  ingested_at: T,
  updated_at: '2024-01-01 00:00:00.000',
  ...row,
});
const order = (
  order_id: number | null,
  customer_id: number | null,
  order_at: string,
  extra: FixtureRow = {},
) => ({
  order_id,
  customer_id,
  order_at,
  status: 'delivered',
  channel: 'web',
  payment_method: 'card',
  currency: 'usd',
  total_amount: 50,
  discount_amount: 0,
  updated_at: '2024-06-01 00:00:00.000',
  ingested_at: T,
  ...extra,
});
const item = (order_id: number | null, line_number: number, product_id: number, quantity: number) => ({
  order_id,
  line_number,
  product_id,
  quantity,
  unit_price: 20,
  discount_amount: 0,
  updated_at: '2024-06-01 00:00:00.000',
  ingested_at: T,
});
const event = (
  customer_key: string,
  event_id: string | null,
  event_type: string,
  extra: FixtureRow = {},
) => ({
  customer_key,
  event_key: `2024-06-01T10:00:00.000Z#${event_id}`,
  event_id,
  event_type,
  event_at: '2024-06-01T10:00:00.000Z',
  item_json: '{}',
  ingested_at: T,
  ...extra,
});
const legacy = (
  line_number: number,
  customer_ref: string | null,
  order_date: string,
  amount: string,
  quantity = '1',
) => ({
  source_file: 'legacy/orders.csv',
  line_number,
  customer_ref,
  order_date,
  amount,
  quantity,
  ingested_at: T,
});

describe('stage: staging, identity resolution and quarantine on a hand-made raw zone', () => {
  let lake: FixtureLake;

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(rawMysqlCustomers, '2024-06-01', [
      customer({
        customer_id: 1,
        email: ' Ann@Example.com ',
        loyalty_tier: 'silver',
        signup_at: '2021-01-01 09:00:00',
      }),
      customer({ customer_id: 2, email: 'WALKIN@store.local', signup_at: '2021-02-01 09:00:00' }),
      customer({
        customer_id: 3,
        email: 'cy@example.com',
        signup_at: '0000-00-00 00:00:00',
        birth_date: '0000-00-00',
      }),
      customer({ customer_id: null, email: 'ghost@example.com' }),
    ]);
    // A later extraction of customer 1: the newest version wins.
    await lake.write(rawMysqlCustomers, '2024-06-15', [
      customer({
        customer_id: 1,
        email: ' Ann@Example.com ',
        loyalty_tier: 'gold',
        signup_at: '2021-01-01 09:00:00',
        updated_at: '2024-06-10 00:00:00.000',
      }),
    ]);
    // Extracted after the run date: invisible to this run.
    await lake.write(rawMysqlCustomers, '2024-07-02', [
      customer({
        customer_id: 1,
        email: 'ann@example.com',
        loyalty_tier: 'platinum',
        updated_at: '2024-07-01 00:00:00.000',
      }),
    ]);
    await lake.write(rawMysqlProducts, '2024-06-01', [
      {
        product_id: 100,
        name: 'Mug',
        category: 'home',
        brand: 'Acme',
        price: 10,
        updated_at: T,
        ingested_at: T,
      },
      {
        product_id: 101,
        name: 'Broken',
        category: 'home',
        brand: 'Acme',
        price: -1,
        updated_at: T,
        ingested_at: T,
      },
      {
        product_id: null,
        name: 'Nameless',
        category: 'home',
        brand: 'Acme',
        price: 5,
        updated_at: T,
        ingested_at: T,
      },
    ]);
    await lake.write(rawMysqlOrders, '2024-06-01', [
      order(10, 1, '2024-05-01 10:00:00'),
      order(11, 1, '2024-05-02 10:00:00', { status: 'refunded', total_amount: -20 }),
      order(12, 99, '2024-05-03 10:00:00'),
      order(13, null, '2024-05-03 10:00:00'),
      order(14, 1, '0000-00-00 00:00:00'),
      order(15, 1, '2024-07-01 00:00:00'),
      order(16, 3, '2024-06-30 23:59:59'),
      order(17, 1, '1989-12-31 23:59:59'),
      order(18, 1, '2024-05-04 10:00:00', { total_amount: -5 }),
      order(19, 1, '2024-05-05 10:00:00', { status: 'CANCELLED', total_amount: 30 }),
      order(20, 1, '2024-05-06 10:00:00', { total_amount: null }),
    ]);
    await lake.write(rawMysqlOrderItems, '2024-06-01', [
      item(10, 1, 100, 2),
      item(10, 2, 100, -1),
      item(10, 3, 555, 1),
      item(12, 1, 100, 1),
      item(null, 1, 100, 1),
    ]);
    await lake.write(rawDynamodbInteractions, '2024-06-01', [
      event('customer#1', 'e1', 'email_open', { customer_id: '1', campaign_id: 'spring' }),
      event('customer#1', 'e1', 'email_open', {
        event_key: '2024-06-01T10:00:01.000Z#e1',
        event_at: '2024-06-01T10:00:01.000Z',
        customer_id: '1',
      }),
      event('customer#99', 'e2', 'web_visit', { customer_id: '99' }),
      event('visitor#v1', 'e3', 'web_visit', { visitor_id: 'v1', device: 'Mobile' }),
      event('customer#1', 'e4', 'identify', { visitor_id: 'v1', customer_id: '1' }),
      event('visitor#v2', 'e5', 'web_visit', { visitor_id: 'v2' }),
      event('email#Dee@Example.com', 'e6', 'email_click', { email: 'Dee@Example.com' }),
      event('email#walkin@store.local', 'e7', 'email_open', { email: 'walkin@store.local' }),
      event('email#Cy@Example.com ', 'e8', 'email_open', { email: 'Cy@Example.com ' }),
      event('customer#1', 'e9', 'web_visit', { event_at: 'not a date', customer_id: '1' }),
      event('customer#1', 'e10', 'review', { customer_id: '1', product_id: '100', rating: '7' }),
      event('customer#1', null, 'web_visit', { customer_id: '1' }),
      event('customer#3', 'e11', 'login', { customer_id: '3', success: 'false', ip_address: '203.0.113.7' }),
      // identify events keyed by the visitor, without a visitor_id attribute: each maps its own visitor
      event('visitor#v3', 'e12', 'identify', { customer_id: '3' }),
      event('visitor#v3', 'e13', 'web_visit'),
      event('visitor#v4', 'e14', 'identify', { customer_id: '1', event_at: '2024-06-02T10:00:00.000Z' }),
      event('visitor#v4', 'e15', 'web_visit'),
    ]);
    await lake.write(rawHistoryOrders, '2024-06-01', [
      legacy(1, 'L0001', '2019-03-04', '19.98', '2'),
      legacy(2, 'L0001', '2019-03-04', '19.98', '2'),
      legacy(3, 'ann@example.com', '2019-05-01', '40.00'),
      legacy(4, 'L0002', '04/03/2019', '10.00'),
      legacy(5, 'L0003', '2019-06-01', 'abc'),
      legacy(6, 'L0004', '2019-06-02', '-3.00'),
      legacy(7, null, '2019-06-03', '5.00'),
      legacy(8, 'L0005', '2019-06-04', '5.00', '-2'),
      legacy(9, 'walkin@store.local', '2019-06-05', '5.00'),
      legacy(10, 'L0006', '2030-01-01', '5.00'),
      legacy(11, 'L0077', '2019-07-01', '8.00'),
    ]);
    await lake.runZone('stage', RUN_DATE);
  });

  afterAll(() => lake?.close());

  it('quarantines every bad record with its source and reason, and nothing else', async () => {
    const rejects = await lake.read(stageRejects, RUN_DATE, 'source, record_key');
    expect(rejects.map((r) => [r.source, r.record_key, r.reason])).toEqual([
      ['dynamodb.interactions', 'customer#1|2024-06-01T10:00:00.000Z#null', 'missing_key'],
      ['dynamodb.interactions', 'e1', 'duplicate_id'], // second copy of e1, under a later event_key
      ['dynamodb.interactions', 'e10', 'impossible_value'], // rating 7 on a 1-5 scale
      ['dynamodb.interactions', 'e2', 'unknown_customer'], // customer 99 is not in MySQL
      ['dynamodb.interactions', 'e5', 'anonymous_visitor'], // visitor v2 was never identified
      ['dynamodb.interactions', 'e7', 'blocked_identifier'], // placeholder address on the block list
      ['dynamodb.interactions', 'e9', 'unparseable_date'],
      ['history.orders', 'legacy/orders.csv#10', 'future_date'],
      ['history.orders', 'legacy/orders.csv#4', 'unparseable_date'], // 04/03/2019 is not %Y-%m-%d
      ['history.orders', 'legacy/orders.csv#5', 'unparseable_value'],
      ['history.orders', 'legacy/orders.csv#6', 'negative_amount'],
      ['history.orders', 'legacy/orders.csv#7', 'missing_key'],
      ['history.orders', 'legacy/orders.csv#8', 'negative_quantity'],
      ['history.orders', 'legacy/orders.csv#9', 'blocked_identifier'],
      ['mysql.customers', 'ghost@example.com', 'missing_key'],
      ['mysql.order_items', '10/2', 'negative_quantity'],
      ['mysql.order_items', '10/3', 'unknown_product'],
      ['mysql.order_items', '12/1', 'unknown_order'], // its order was quarantined
      ['mysql.order_items', null, 'missing_key'],
      ['mysql.orders', '12', 'unknown_customer'],
      ['mysql.orders', '13', 'missing_key'], // no customer id
      ['mysql.orders', '14', 'unparseable_date'], // zero date
      ['mysql.orders', '15', 'future_date'], // 2024-07-01 00:00:00 is after the run date
      ['mysql.orders', '17', 'date_before_1990'],
      ['mysql.orders', '18', 'negative_amount'], // negative but not a refund
      ['mysql.orders', '20', 'missing_amount'],
      ['mysql.products', '101', 'negative_amount'],
      ['mysql.products', 'Nameless', 'missing_key'],
    ]);
  });

  it('keeps the source record of each reject for diagnosis', async () => {
    const rejects = await lake.read(stageRejects, RUN_DATE, 'source, record_key');
    const zeroDate = rejects.find((r) => r.source === 'mysql.orders' && r.record_key === '14');
    expect(zeroDate?.detail).toBe('0000-00-00 00:00:00');
    expect(JSON.parse(String(zeroDate?.record_json))).toMatchObject({
      order_id: '14',
      order_at: '0000-00-00 00:00:00',
    });
    // A DynamoDB item's record names its keys and the raw partition holding the whole item, which
    // stage no longer carries: the raw row is found from them.
    const garbled = rejects.find((r) => r.source === 'dynamodb.interactions' && r.record_key === 'e9');
    const record = JSON.parse(String(garbled?.record_json)) as Record<string, string>;
    expect(record).toEqual({
      customer_key: 'customer#1',
      event_key: '2024-06-01T10:00:00.000Z#e9',
      event_id: 'e9',
      event_type: 'web_visit',
      event_at: 'not a date',
      customer_id: '1',
      ingest_date: '2024-06-01',
    });
    const raw = await lake.engine.runAndReadAll(
      `SELECT item_json FROM raw.dynamodb_interactions WHERE ingest_date = DATE '${record.ingest_date}'
         AND customer_key = '${record.customer_key}' AND event_key = '${record.event_key}'`,
    );
    expect(raw.getRowObjectsJson()).toEqual([{ item_json: '{}' }]);
  });

  it('accepts refunds and cancellations (flagged as not revenue) and an order on the last second of the run date', async () => {
    const orders = await lake.read(stageOrders, RUN_DATE, 'order_id');
    const mysqlOrders = orders.filter((o) => o.source === 'mysql');
    expect(
      mysqlOrders.map((o) => [o.order_id, o.customer_id, o.status, o.total_amount, o.is_revenue]),
    ).toEqual([
      ['m-10', '1', 'delivered', '50.00', true],
      ['m-11', '1', 'refunded', '-20.00', false],
      ['m-16', '3', 'delivered', '50.00', true],
      ['m-19', '1', 'cancelled', '30.00', false],
    ]);
    // Order 10's units are its lines with a positive quantity: 2 + 1 (the line whose product is
    // missing from the catalog was still sold); the line with -1 units does not count.
    expect(mysqlOrders[0]?.item_quantity).toBe(3);
    expect(mysqlOrders[0]?.currency).toBe('USD');
  });

  it('resolves every identity by its rule and explains each link', async () => {
    const identities = await lake.read(stageIdentityMap, RUN_DATE, 'source, source_key');
    const bySourceKey = Object.fromEntries(identities.map((i) => [`${i.source}:${i.source_key}`, i]));
    expect(bySourceKey['mysql:1']).toMatchObject({ customer_id: '1', match_rule: 'mysql_id' });
    expect(bySourceKey['dynamodb:customer#1']).toMatchObject({ customer_id: '1', match_rule: 'mysql_id' });
    expect(bySourceKey['dynamodb:visitor#v1']).toMatchObject({ customer_id: '1', match_rule: 'visitor_map' });
    // Emails are trimmed and lower-cased before matching.
    expect(bySourceKey['dynamodb:email#Cy@Example.com ']).toMatchObject({
      customer_id: '3',
      match_rule: 'normalized_email',
    });
    // Identify events keyed by the visitor alone map each visitor to its own customer.
    expect(bySourceKey['dynamodb:visitor#v3']).toMatchObject({ customer_id: '3', match_rule: 'visitor_map' });
    expect(bySourceKey['dynamodb:visitor#v4']).toMatchObject({ customer_id: '1', match_rule: 'visitor_map' });
    expect(bySourceKey['history:ann@example.com']).toMatchObject({
      customer_id: '1',
      match_rule: 'normalized_email',
    });
    // Known only to DynamoDB, or only to the history: a customer of their own, with a negative id.
    expect(Number(bySourceKey['dynamodb:email#Dee@Example.com']?.customer_id)).toBeLessThan(0);
    // A migrated customer's legacy id carries their MySQL id (default pattern ^L0*([0-9]+)$); a legacy
    // id whose number MySQL does not know is a customer of its own.
    expect(bySourceKey['history:L0001']).toMatchObject({ customer_id: '1', match_rule: 'legacy_id' });
    expect(bySourceKey['history:L0077']).toMatchObject({ match_rule: 'legacy_id' });
    expect(Number(bySourceKey['history:L0077']?.customer_id)).toBeLessThan(0);
    // Unresolvable identities and the blocked placeholder are not in the map.
    expect(bySourceKey['dynamodb:visitor#v2']).toBeUndefined();
    expect(bySourceKey['dynamodb:email#walkin@store.local']).toBeUndefined();
    expect(bySourceKey['dynamodb:customer#99']).toBeUndefined();
  });

  it('builds one customer per unified id, latest profile version, garbled dates emptied but the customer kept', async () => {
    const customers = await lake.read(stageCustomers, RUN_DATE, 'customer_id');
    const identities = await lake.read(stageIdentityMap, RUN_DATE);
    const dee = identities.find((i) => i.source_key === 'email#Dee@Example.com')?.customer_id;
    const l0077 = identities.find((i) => i.source_key === 'L0077')?.customer_id;

    // Legacy ids seen only on quarantined rows (L0002-L0006) introduce no customer.
    expect(identities.filter((i) => /^L000[2-6]$/.test(String(i.source_key)))).toEqual([]);
    expect(customers.map((c) => c.customer_id).sort()).toEqual(['1', '2', '3', dee, l0077].sort());
    const byId = Object.fromEntries(customers.map((c) => [c.customer_id, c]));
    expect(byId['1']).toMatchObject({
      email_normalized: 'ann@example.com',
      loyalty_tier: 'gold',
      source: 'mysql',
    });
    expect(byId['3']).toMatchObject({ signup_at: null, birth_date: null, source: 'mysql' });
    expect(byId[String(dee)]).toMatchObject({ email_normalized: 'dee@example.com', source: 'dynamodb' });
    expect(byId[String(l0077)]).toMatchObject({ source: 'history' });
  });

  it('puts history orders on their unified customers', async () => {
    const orders = await lake.read(stageOrders, RUN_DATE, 'order_id');
    const history = orders.filter((o) => o.source === 'history');
    expect(
      history.map((o) => [o.order_id, o.customer_id, o.total_amount, o.item_quantity, o.channel]),
    ).toEqual([
      ['h-legacy/orders.csv#1', '1', '19.98', 2, 'legacy'], // L0001: the migrated customer 1
      ['h-legacy/orders.csv#11', expect.stringMatching(/^-\d+$/), '8.00', 1, 'legacy'], // L0077: legacy only
      // line 2 repeats line 1 exactly: without an order id column, a second purchase, not a copy
      ['h-legacy/orders.csv#2', '1', '19.98', 2, 'legacy'],
      ['h-legacy/orders.csv#3', '1', '40.00', 1, 'legacy'], // matched to the MySQL customer by email
    ]);
  });

  it('types interaction events and resolves them to customers', async () => {
    const events = await lake.read(stageInteractions, RUN_DATE, 'event_id');
    expect(events.map((e) => [e.event_id, e.customer_id, e.event_type])).toEqual([
      ['e1', '1', 'email_open'],
      ['e11', '3', 'login'],
      ['e12', '3', 'identify'],
      ['e13', '3', 'web_visit'],
      ['e14', '1', 'identify'],
      ['e15', '1', 'web_visit'],
      ['e3', '1', 'web_visit'],
      ['e4', '1', 'identify'],
      ['e6', expect.stringMatching(/^-\d+$/), 'email_click'],
      ['e8', '3', 'email_open'],
    ]);
    const login = events.find((e) => e.event_id === 'e11');
    expect(login).toMatchObject({
      is_success: false,
      ip_address: '203.0.113.7',
      event_at: '2024-06-01 10:00:00',
    });
    expect(events.find((e) => e.event_id === 'e3')?.device).toBe('mobile');
  });

  it('keeps valid lines and products only', async () => {
    expect(
      (await lake.read(stageOrderItems, RUN_DATE)).map((i) => [i.order_id, i.line_number, i.line_amount]),
    ).toEqual([
      ['m-10', 1, '40.00'], // 2 x 20.00 - 0
    ]);
    expect((await lake.read(stageProducts, RUN_DATE)).map((p) => p.product_id)).toEqual(['100']);
  });

  it('is idempotent: rerunning the date replaces its partitions with identical rows', async () => {
    const before = await lake.read(stageRejects, RUN_DATE, 'source, record_key, reason');
    await lake.runZone('stage', RUN_DATE);
    expect(await lake.read(stageRejects, RUN_DATE, 'source, record_key, reason')).toEqual(before);
  });

  it('does not merge a customer whose links exceed the configured cap, and says so', async () => {
    // Customer 1 gathers five links besides its own id (visitors v1 and v4, the history email, legacy
    // id L0001) and customer 3 three (the email key, visitor v3). A cap of 1 leaves them all
    // unmerged, and their records are quarantined with the reason.
    await lake.runZone('stage', RUN_DATE, { identity: { maxSourceIdsPerCustomer: 1 } });
    const rejects = await lake.read(stageRejects, RUN_DATE, 'source, record_key');
    expect(rejects.filter((r) => r.reason === 'identity_group_too_large').map((r) => r.record_key)).toEqual([
      'e12',
      'e13',
      'e14',
      'e15',
      'e3',
      'e8',
      'legacy/orders.csv#1',
      'legacy/orders.csv#2', // a second purchase of L0001 (identical to line 1), not a copy
      'legacy/orders.csv#3',
    ]);
  });

  it('still matches emails when the block list is empty', async () => {
    await lake.runZone('stage', RUN_DATE, { identity: { blockedEmails: [] } });
    const identities = await lake.read(stageIdentityMap, RUN_DATE);
    expect(identities.find((i) => i.source_key === 'email#Cy@Example.com ')?.customer_id).toBe('3');
    // Nothing is blocked now: the walk-in address merges into MySQL customer 2, who registered with it.
    expect(identities.find((i) => i.source_key === 'email#walkin@store.local')?.customer_id).toBe('2');
  });

  it('links no legacy id to MySQL when legacyIdPattern is null', async () => {
    await lake.runZone('stage', RUN_DATE, { sources: { history: { legacyIdPattern: null } } });
    const identities = await lake.read(stageIdentityMap, RUN_DATE);
    const l0001 = identities.find((i) => i.source_key === 'L0001');
    expect(l0001?.match_rule).toBe('legacy_id');
    expect(Number(l0001?.customer_id)).toBeLessThan(0);
  });
  it('gives a new customer -1 minus the low 63 bits of the xxHash64 of its key', async () => {
    // Worked from the xxHash reference (libxxhash 0.8, seed 0): xxh64('email:dee@example.com') =
    // 0xDDD465AE79BFA9E4, low 63 bits 0x5DD465AE79BFA9E4 = 6761140740631276004; xxh64('legacy:L0077') =
    // 0x4ED2D7F7C36119DE = 5679839539202431454. Athena computes the same ids (see the compat test).
    await lake.runZone('stage', RUN_DATE);
    const identities = await lake.read(stageIdentityMap, RUN_DATE);
    const idOf = (key: string) => identities.find((i) => i.source_key === key)?.customer_id;
    expect(idOf('email#Dee@Example.com')).toBe('-6761140740631276005');
    expect(idOf('L0077')).toBe('-5679839539202431455');
  });

  it('quarantines both identities when two keys hash to one id, and counts them in data_quality', async () => {
    // A real 63-bit collision cannot be built, so the hashing step is fed a forced one: every new
    // customer key (email:dee@example.com, legacy:L0077) gets id -42. The collision check reads only
    // the (new_customer_key, customer_id) pairs of int_identity_candidates.
    const models = loadModels();
    const candidates = models.get('int_identity_candidates');
    if (!candidates) throw new Error('no int_identity_candidates model');
    models.set('int_identity_candidates', {
      ...candidates,
      sql: `select source, source_key_type, source_key,
        case when new_customer_key is not null then -42 else customer_id end as customer_id,
        new_customer_key, match_rule, unresolved_reason
        from (${candidates.sql}) as real_candidates`,
    });
    const parameters = pipelineParameters(parseConfig({}), RUN_DATE, FIXTURE_RUN_ID);
    for (const model of tableModelsInOrder(models, 'stage'))
      await runModel(lake.engine, lake.root, model, models, parameters);
    const dataQualityModel = models.get('data_quality');
    if (!dataQualityModel) throw new Error('no data_quality model');
    await runModel(lake.engine, lake.root, dataQualityModel, models, parameters);

    const rejects = await lake.read(stageRejects, RUN_DATE, 'source, record_key');
    expect(rejects.filter((r) => r.reason === 'identity_hash_collision').map((r) => r.record_key)).toEqual([
      'e6', // the event of email#Dee@Example.com
      'legacy/orders.csv#11', // the order of L0077
    ]);
    const identities = await lake.read(stageIdentityMap, RUN_DATE);
    expect(identities.filter((i) => Number(i.customer_id) < 0)).toEqual([]);
    const customers = await lake.read(stageCustomers, RUN_DATE);
    expect(customers.map((c) => c.customer_id).sort()).toEqual(['1', '2', '3']);
    const checks = await lake.read(dataQuality, RUN_DATE);
    expect(checks.find((c) => c.check_name === 'identity_hash_collision')).toMatchObject({
      metric_value: 2,
      threshold: 0,
      is_passed: false,
      is_blocking: false,
    });
  });
});

describe('xxhash64 on DuckDB (lib/sql/compat.ts) equals the xxHash reference and Athena', () => {
  let lake: FixtureLake;
  beforeAll(async () => {
    lake = await FixtureLake.open();
  });
  afterAll(() => lake?.close());

  // Athena: from_big_endian_64(xxhash64(to_utf8(s))) is the signed 64-bit xxHash64 (seed 0) of the
  // UTF-8 bytes. The first four are the published xxHash test vectors; the others were computed with
  // libxxhash 0.8 (the reference C library) and chosen to pass through every step: 32-byte stripes,
  // 8-byte lanes, the 4-byte lane, single bytes, and multi-byte UTF-8.
  it.each([
    ['', '0xEF46DB3751D8E999'],
    ['a', '0xD24EC4F1A98C6E5B'],
    ['abc', '0x44BC2CF5AD770999'],
    ['Nobody inspects the spammish repetition', '0xFBCEA83C8A378BF1'],
    ['email:dee@example.com', '0xDDD465AE79BFA9E4'],
    ['email:zoë@exämple.com', '0x231E2922398C9F4A'],
    ['legacy:L0000042', '0x515C806F87EA1AE2'],
  ])('%j hashes to %s', async (text, hex) => {
    const expected = BigInt.asIntN(64, BigInt(hex));
    const reader = await lake.engine.runAndReadAll(
      `SELECT CAST(from_big_endian_64(xxhash64(to_utf8('${text.replaceAll("'", "''")}'))) AS VARCHAR) AS h`,
    );
    expect(reader.getRowObjectsJson()[0]?.h).toBe(String(expected));
  });

  it('keeps the id inside a bigint for the hash whose low 63 bits are all ones', async () => {
    // -1 - bitwise_and(h, 2^63 - 1) for h = -1 (all 64 bits set) is the smallest bigint, -2^63; abs()
    // of a negative hash could not do this without overflowing.
    const reader = await lake.engine.runAndReadAll(
      'SELECT CAST(-1 - bitwise_and(CAST(-1 AS BIGINT), 9223372036854775807) AS VARCHAR) AS id',
    );
    expect(reader.getRowObjectsJson()[0]?.id).toBe('-9223372036854775808');
  });
});

describe('stage: history rows quarantined for the fault they have', () => {
  let lake: FixtureLake;
  const row = (
    line_number: number | null,
    customer_ref: string | null,
    order_date: string | null,
    amount: string | null,
    quantity: string | null = '1',
    extra: FixtureRow = {},
  ) => ({
    source_file: 'faults.csv',
    line_number,
    customer_ref,
    order_date,
    amount,
    quantity,
    ingested_at: T,
    ...extra,
  });

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(rawHistoryOrders, '2024-06-01', [
      row(2, 'L0001', '2019-03-04', '10.00'),
      row(3, 'L0002', null, '10.00'),
      row(4, 'L0003', '2019-03-05', null),
      row(5, 'L0004', '', '10.00'),
      row(6, 'L0005', '2019-03-06', '12.345'),
      row(7, 'L0006', '2019-03-07', '12.340'),
      row(8, 'L0007', '2019-03-08', '5.00', ''),
      row(9, 'L0008', null, '10.00'),
      row(10, null, null, null, null, {
        read_error: 'too_many_fields',
        read_error_detail: '5 fields where the header has 4',
      }),
      row(null, null, null, null, null, {
        source_file: 'empty.csv',
        read_error: 'empty_file',
        read_error_detail: 'the file has no bytes',
      }),
    ]);
    await lake.runZone('stage', RUN_DATE);
  });

  afterAll(() => lake?.close());

  it('names the missing or unreadable value instead of calling it a duplicate', async () => {
    const rejects = (await lake.read(stageRejects, RUN_DATE, 'record_key')).filter(
      (r) => r.source === 'history.orders',
    );
    // Before: lines 3, 4 and 9 shared a null duplicate key, so two of them were `duplicate_id`;
    // 12.345 was rounded to 12.35; the empty quantity counted as one unit.
    expect(rejects.map((r) => [r.record_key, r.reason, r.detail])).toEqual([
      ['empty.csv', 'empty_file', 'the file has no bytes'],
      ['faults.csv#10', 'too_many_fields', '5 fields where the header has 4'],
      ['faults.csv#3', 'missing_order_date', null],
      ['faults.csv#4', 'missing_amount', null],
      ['faults.csv#5', 'missing_order_date', ''],
      ['faults.csv#6', 'too_many_decimals', '12.345'],
      ['faults.csv#8', 'missing_quantity', ''],
      ['faults.csv#9', 'missing_order_date', null],
    ]);
    // A line that could not be read is traced by file, line and reason only.
    expect(JSON.parse(String(rejects[1]?.record_json))).toEqual({
      source_file: 'faults.csv',
      line_number: '10',
      read_error: 'too_many_fields',
    });
  });

  it('keeps exact amounts, trailing zeros included', async () => {
    const orders = (await lake.read(stageOrders, RUN_DATE, 'order_id')).filter((o) => o.source === 'history');
    expect(orders.map((o) => [o.order_id, o.total_amount, o.item_quantity])).toEqual([
      ['h-faults.csv#2', '10.00', 1],
      ['h-faults.csv#7', '12.34', 1],
    ]);
  });

  it('counts one unit per order when the files have no quantity column', async () => {
    await lake.runZone('stage', RUN_DATE, { sources: { history: { columns: { quantity: null } } } });
    const orders = (await lake.read(stageOrders, RUN_DATE, 'order_id')).filter((o) => o.source === 'history');
    expect(orders.map((o) => [o.order_id, o.item_quantity])).toEqual([
      ['h-faults.csv#2', 1],
      ['h-faults.csv#7', 1],
      ['h-faults.csv#8', 1],
    ]);
  });

  it('with an order id column, a repeated order id is the duplicate and identical rows with their own ids are not', async () => {
    const ids = await FixtureLake.open();
    try {
      await ids.write(rawHistoryOrders, '2024-06-01', [
        row(2, 'L0001', '2019-03-04', '10.00', '1', { order_ref: 'A1' }),
        row(3, 'L0001', '2019-03-04', '10.00', '1', { order_ref: 'A2' }), // identical values, own id
        row(4, 'L0002', '2019-03-05', '7.00', '1', { order_ref: 'A1' }), // A1 again: the copy
        row(5, 'L0003', '2019-03-06', '3.00', '1', { order_ref: ' ' }), // blank id: a row of its own
        row(6, 'L0004', '2019-03-07', '4.00', '1', { order_ref: '' }),
      ]);
      await ids.runZone('stage', RUN_DATE, { sources: { history: { columns: { orderId: 'order_id' } } } });
      const rejects = await ids.read(stageRejects, RUN_DATE, 'record_key');
      expect(rejects.map((r) => [r.record_key, r.reason])).toEqual([['faults.csv#4', 'duplicate_id']]);
      const orders = await ids.read(stageOrders, RUN_DATE, 'order_id');
      expect(orders.map((o) => o.order_id)).toEqual(['h-A1', 'h-A2', 'h-faults.csv#5', 'h-faults.csv#6']);
    } finally {
      ids.close();
    }
  });

  it('calls identical rows without order ids copies only when the source re-delivers rows', async () => {
    const copies = await FixtureLake.open();
    try {
      await copies.write(rawHistoryOrders, '2024-06-01', [
        row(2, 'L0001', '2019-03-04', '10.00'),
        row(3, 'L0001', '2019-03-04', '10.00'),
        row(4, 'L0001', '2019-03-04', '10.00', '2'), // another quantity: another purchase either way
      ]);
      await copies.runZone('stage', RUN_DATE);
      expect(await copies.read(stageRejects, RUN_DATE)).toEqual([]);
      await copies.runZone('stage', RUN_DATE, { sources: { history: { identicalRowsAreDuplicates: true } } });
      const rejects = await copies.read(stageRejects, RUN_DATE, 'record_key');
      expect(rejects.map((r) => [r.record_key, r.reason])).toEqual([['faults.csv#3', 'duplicate_id']]);
    } finally {
      copies.close();
    }
  });

  it('reads raw partitions landed before read_error existed', async () => {
    const old = join(lake.root, 'raw', rawHistoryOrders.location, 'ingest_date=2024-05-01');
    mkdirSync(old, { recursive: true });
    await lake.engine.run(
      `COPY (SELECT 'old.csv' AS source_file, 1::BIGINT AS line_number, NULL::VARCHAR AS order_ref,
                    'L0100' AS customer_ref, '2019-01-01' AS order_date, '3.00' AS amount, '1' AS quantity,
                    TIMESTAMP '2024-05-01 00:00:00' AS ingested_at)
       TO '${join(old, 'old.parquet')}' (FORMAT parquet)`,
    );
    await registerTable(lake.engine, lake.root, rawHistoryOrders);
    await lake.runZone('stage', RUN_DATE);
    const orders = (await lake.read(stageOrders, RUN_DATE, 'order_id')).filter((o) => o.source === 'history');
    expect(orders.map((o) => o.order_id)).toContain('h-old.csv#1');

    // With only old partitions the new columns are null rather than a missing-column error.
    const onlyOld = await FixtureLake.open();
    try {
      const dir = join(onlyOld.root, 'raw', rawHistoryOrders.location, 'ingest_date=2024-05-01');
      mkdirSync(dir, { recursive: true });
      await onlyOld.engine.run(
        `COPY (SELECT * FROM read_parquet('${join(old, 'old.parquet')}')) TO '${join(dir, 'old.parquet')}' (FORMAT parquet)`,
      );
      await registerTable(onlyOld.engine, onlyOld.root, rawHistoryOrders);
      const raw = (
        await onlyOld.engine.runAndReadAll('SELECT source_file, read_error FROM raw.history_orders')
      ).getRowObjectsJson();
      expect(raw).toEqual([{ source_file: 'old.csv', read_error: null }]);
    } finally {
      onlyOld.close();
    }
  });
});

describe('stage: orders dated after the run date', () => {
  // An as-of run for 2024-06-30 over sources extracted on 2024-07-05 at 03:00 (landed under the run's
  // date, as the local runner does when given --date): an order of 2024-07-03 had not happened yet on
  // the run date but is no error; an order dated after the extraction that read it cannot be right.
  let lake: FixtureLake;
  const EXTRACTED = '2024-07-05 03:00:00';

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(rawMysqlCustomers, RUN_DATE, [
      customer({ customer_id: 1, email: 'ann@example.com', ingested_at: EXTRACTED }),
    ]);
    await lake.write(rawMysqlProducts, RUN_DATE, [
      {
        product_id: 100,
        name: 'Mug',
        category: 'home',
        brand: 'Acme',
        price: 10,
        updated_at: T,
        ingested_at: T,
      },
    ]);
    await lake.write(rawMysqlOrders, RUN_DATE, [
      order(1, 1, '2024-06-30 12:00:00', { ingested_at: EXTRACTED }), // on the run date: staged
      order(2, 1, '2024-07-03 10:00:00', { ingested_at: EXTRACTED }), // after the run date, before extraction
      order(3, 1, EXTRACTED, { ingested_at: EXTRACTED }), // at the extraction's very time: not after it
      order(4, 1, '2024-07-05 03:00:01', { ingested_at: EXTRACTED }), // after its extraction: future_date
    ]);
    await lake.write(rawMysqlOrderItems, RUN_DATE, [
      { ...item(1, 1, 100, 1), ingested_at: EXTRACTED },
      { ...item(2, 1, 100, 1), ingested_at: EXTRACTED }, // the line of an out-of-scope order
      { ...item(4, 1, 100, 1), ingested_at: EXTRACTED }, // the line of a rejected order
    ]);
    await lake.write(rawHistoryOrders, RUN_DATE, [
      { ...legacy(2, 'L0009', '2024-06-30', '5.00'), ingested_at: EXTRACTED },
      { ...legacy(3, 'L0009', '2024-07-04', '5.00'), ingested_at: EXTRACTED },
      // a date is midnight: 2024-07-05 00:00 is before the 03:00 extraction of the same day
      { ...legacy(4, 'L0009', '2024-07-05', '5.00'), ingested_at: EXTRACTED },
      { ...legacy(5, 'L0009', '2024-07-06', '5.00'), ingested_at: EXTRACTED },
    ]);
    await lake.runZone('stage', RUN_DATE);
  });

  afterAll(() => lake?.close());

  it('leaves orders dated after the run date but not after their extraction out of stage, without a reject', async () => {
    const orders = await lake.read(stageOrders, RUN_DATE, 'order_id');
    expect(orders.map((o) => o.order_id)).toEqual(['h-legacy/orders.csv#2', 'm-1']);
    const items = await lake.read(stageOrderItems, RUN_DATE, 'order_id');
    expect(items.map((i) => i.order_id)).toEqual(['m-1']);
    // and no reject: orders 2 and 3, their line 2/1, and history lines 3 and 4 are nowhere in stage
    const rejected = (await lake.read(stageRejects, RUN_DATE)).map((r) => r.record_key);
    for (const key of ['2', '3', '2/1', 'legacy/orders.csv#3', 'legacy/orders.csv#4'])
      expect(rejected).not.toContain(key);
  });

  it('keeps orders dated after their own extraction as future_date rejects', async () => {
    const rejects = await lake.read(stageRejects, RUN_DATE, 'source, record_key');
    expect(rejects.map((r) => [r.source, r.record_key, r.reason])).toEqual([
      ['history.orders', 'legacy/orders.csv#5', 'future_date'],
      ['mysql.order_items', '4/1', 'unknown_order'], // its order was rejected, as before
      ['mysql.orders', '4', 'future_date'],
    ]);
  });
});
