import { martTables } from './marts/index.js';
import { type Column, ingestDate, runPartitionKeys, type TableSchema } from './types.js';

/*
 * Every table of every zone, declared once. Glue tables, local DuckDB DDL, zod validators and
 * docs/schema.md are derived from this module; nothing else spells a column type.
 *
 * Raw tables are faithful copies: source timestamps are kept as the text the source gave (so a zero
 * date or a garbled value survives to be quarantined at stage), and DynamoDB items keep their full
 * JSON beside the extracted attributes.
 */

const col = (
  name: string,
  type: Column['type'],
  description: string,
  extra: Pick<Column, 'pii' | 'nullable'> = {},
): Column => ({ name, type, description, ...extra });

const ingestedAt = col('ingested_at', 'timestamp', 'When the extract read the row (UTC).', {
  nullable: false,
});

// ---------------------------------------------------------------- raw zone

export const rawMysqlCustomers: TableSchema = {
  name: 'mysql_customers',
  zone: 'raw',
  location: 'mysql/customers/',
  description: 'Rows of MySQL `customers` changed since the previous extract.',
  columns: [
    col('customer_id', 'bigint', 'MySQL primary key.'),
    col('email', 'string', 'Email address as entered.', { pii: true }),
    col('first_name', 'string', 'Given name.', { pii: true }),
    col('last_name', 'string', 'Family name.', { pii: true }),
    col('phone', 'string', 'Phone number.', { pii: true }),
    col('gender', 'string', 'Self-declared gender code.'),
    col('birth_date', 'string', 'Birth date as stored (YYYY-MM-DD).', { pii: true }),
    col('city', 'string', 'City.'),
    col('state', 'string', 'State or region.'),
    col('country', 'string', 'ISO country code.'),
    col('signup_at', 'string', 'Account creation time as stored.'),
    col('loyalty_tier', 'string', 'Loyalty tier (bronze, silver, gold, platinum).'),
    col('marketing_opt_in', 'boolean', 'Consent to marketing email.'),
    col('updated_at', 'string', 'Last modification time as stored; the extraction watermark.'),
    ingestedAt,
  ],
  partitionKeys: [ingestDate],
};

export const rawMysqlProducts: TableSchema = {
  name: 'mysql_products',
  zone: 'raw',
  location: 'mysql/products/',
  description: 'Rows of MySQL `products` changed since the previous extract.',
  columns: [
    col('product_id', 'bigint', 'MySQL primary key.'),
    col('name', 'string', 'Product name.'),
    col('category', 'string', 'Category.'),
    col('brand', 'string', 'Brand.'),
    col('price', 'decimal(12,2)', 'List price.'),
    col('updated_at', 'string', 'Last modification time as stored; the extraction watermark.'),
    ingestedAt,
  ],
  partitionKeys: [ingestDate],
};

export const rawMysqlOrders: TableSchema = {
  name: 'mysql_orders',
  zone: 'raw',
  location: 'mysql/orders/',
  description: 'Rows of MySQL `orders` changed since the previous extract.',
  columns: [
    col('order_id', 'bigint', 'MySQL primary key.'),
    col('customer_id', 'bigint', 'Ordering customer.'),
    col('order_at', 'string', 'Order time as stored.'),
    col('status', 'string', 'placed, shipped, delivered, cancelled or refunded.'),
    col('channel', 'string', 'web, mobile or store.'),
    col('payment_method', 'string', 'card, paypal, gift_card, cash...'),
    col('currency', 'string', 'ISO currency code.'),
    col('total_amount', 'decimal(12,2)', 'Order total after discount.'),
    col('discount_amount', 'decimal(12,2)', 'Discount applied to the order.'),
    col('updated_at', 'string', 'Last modification time as stored; the extraction watermark.'),
    ingestedAt,
  ],
  partitionKeys: [ingestDate],
};

export const rawMysqlOrderItems: TableSchema = {
  name: 'mysql_order_items',
  zone: 'raw',
  location: 'mysql/order_items/',
  description: 'Rows of MySQL `order_items` changed since the previous extract.',
  columns: [
    col('order_id', 'bigint', 'Order the line belongs to.'),
    col('line_number', 'int', 'Line number within the order.'),
    col('product_id', 'bigint', 'Product sold.'),
    col('quantity', 'int', 'Units sold.'),
    col('unit_price', 'decimal(12,2)', 'Price per unit.'),
    col('discount_amount', 'decimal(12,2)', 'Discount on the line.'),
    col('updated_at', 'string', 'Last modification time as stored; the extraction watermark.'),
    ingestedAt,
  ],
  partitionKeys: [ingestDate],
};

export const rawDynamodbInteractions: TableSchema = {
  name: 'dynamodb_interactions',
  zone: 'raw',
  location: 'dynamodb/interactions/',
  description:
    'Items of the DynamoDB interactions table, one row per event; attributes as text (DynamoDB is schemaless, so types are applied at stage).',
  columns: [
    col('customer_key', 'string', 'Partition key: customer id, visitor id or email the event arrived with.', {
      pii: true,
    }),
    col('event_key', 'string', 'Sort key: ISO event time and event id.'),
    col('event_id', 'string', 'Unique event id.'),
    col(
      'event_type',
      'string',
      'email_sent, email_open, email_click, ad_view, ad_click, web_visit, login, ...',
    ),
    col('event_at', 'string', 'Event time as sent (ISO 8601).'),
    col('customer_id', 'string', 'Customer id, when the event carries one.'),
    col('visitor_id', 'string', 'Anonymous visitor id, when the event carries one.'),
    col('email', 'string', 'Email address, when the event carries only that.', { pii: true }),
    col('campaign_id', 'string', 'Marketing or ad campaign.'),
    col('device', 'string', 'Device class (desktop, mobile, tablet).'),
    col('traffic_source', 'string', 'Web visit source (organic, paid, email, social, direct).'),
    col('ip_address', 'string', 'Client IP address of a login or visit.', { pii: true }),
    col('success', 'string', 'Login succeeded.'),
    col('ticket_category', 'string', 'Support ticket category.'),
    col('resolution_minutes', 'string', 'Minutes to resolve a support ticket.'),
    col('satisfaction', 'string', 'Support satisfaction score, 1-5.'),
    col('product_id', 'string', 'Reviewed product.'),
    col('rating', 'string', 'Review rating, 1-5.'),
    col('points', 'string', 'Loyalty points earned (positive) or redeemed (negative).'),
    col('cost', 'string', 'Ad cost of an ad view or click.'),
    col('item_json', 'string', 'The whole item as DynamoDB JSON, so no attribute is lost.', { pii: true }),
    ingestedAt,
    col(
      'is_deleted',
      'boolean',
      'True for an item removed from the table (an incremental export record without NewImage): only its keys are set, and item_json holds its Keys. Null in partitions landed before deletions were kept, which hold no deletions.',
    ),
  ],
  partitionKeys: [ingestDate],
};

export const rawMysqlKeys: TableSchema = {
  name: 'mysql_keys',
  zone: 'raw',
  location: 'mysql/keys/',
  description:
    'Every primary key of each extracted MySQL table at a key scan (taken after the row extraction, every sources.mysql.deleteDetection.everyDays days): a key the snapshot holds and the latest scan lacks was deleted at the source.',
  columns: [
    col('source_table', 'string', 'The MySQL table scanned: customers, products, orders or order_items.', {
      nullable: false,
    }),
    col('customer_id', 'bigint', 'Primary key of a customers row; null for other tables.'),
    col('product_id', 'bigint', 'Primary key of a products row; null for other tables.'),
    col('order_id', 'bigint', 'Primary key of an orders row, first key column of an order_items row.'),
    col('line_number', 'int', 'Second key column of an order_items row; null for other tables.'),
    col(
      'ingested_at',
      'timestamp',
      "When the key scan started (UTC), after the same extraction's row reads: the scan shows deletions of versions read before it.",
      { nullable: false },
    ),
  ],
  partitionKeys: [ingestDate],
};

export const rawHistoryOrders: TableSchema = {
  name: 'history_orders',
  zone: 'raw',
  location: 'history/orders/',
  description:
    'Legacy order files converted to Parquet with the configured column mapping; values kept as text.',
  columns: [
    col('source_file', 'string', 'File the row came from, relative to the history prefix.'),
    col(
      'line_number',
      'bigint',
      'Line of the row in the file (CSV: the header is line 1; JSON lines: the physical line; Parquet: row number from 1). Partitions landed before read_error existed count data rows from 1.',
    ),
    col('order_ref', 'string', 'Legacy order id, when the file has one.'),
    col('customer_ref', 'string', 'Legacy customer id or email, per configuration.', { pii: true }),
    col('order_date', 'string', 'Order date as written in the file.'),
    col('amount', 'string', 'Order amount as written in the file.'),
    col('quantity', 'string', 'Units as written in the file.'),
    ingestedAt,
    col(
      'read_error',
      'string',
      'Why the line (or, with no line_number, the whole file) could not be read; null when it was. Quarantined at stage with this reason.',
    ),
    col(
      'read_error_detail',
      'string',
      'What was wrong, without the line\'s content (for example "5 fields where the header has 4").',
    ),
  ],
  partitionKeys: [ingestDate],
};

// ---------------------------------------------------------------- stage zone

export const stageCustomers: TableSchema = {
  name: 'customers',
  zone: 'stage',
  location: 'customers/',
  description: 'One row per unified customer: MySQL profile where known, typed and deduplicated.',
  columns: [
    col('customer_id', 'bigint', 'Unified customer id.', { nullable: false }),
    col('email_normalized', 'string', 'Trimmed, lower-cased email.', { pii: true }),
    col('first_name', 'string', 'Given name.', { pii: true }),
    col('last_name', 'string', 'Family name.', { pii: true }),
    col('phone', 'string', 'Phone number.', { pii: true }),
    col('gender', 'string', 'Gender code.'),
    col('birth_date', 'date', 'Birth date.', { pii: true }),
    col('city', 'string', 'City.'),
    col('state', 'string', 'State or region.'),
    col('country', 'string', 'ISO country code.'),
    col('signup_at', 'timestamp', 'Account creation time.'),
    col('loyalty_tier', 'string', 'Loyalty tier.'),
    col('is_marketing_opt_in', 'boolean', 'Consent to marketing email.'),
    col('source', 'string', 'Source that first introduced the customer (mysql, dynamodb, history).'),
    col('updated_at', 'timestamp', 'Last modification time.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageProducts: TableSchema = {
  name: 'products',
  zone: 'stage',
  location: 'products/',
  description: 'Product catalog, latest version of each product.',
  columns: [
    col('product_id', 'bigint', 'Product id.', { nullable: false }),
    col('product_name', 'string', 'Product name.'),
    col('category', 'string', 'Category.'),
    col('brand', 'string', 'Brand.'),
    col('list_price', 'decimal(12,2)', 'List price.'),
    col('updated_at', 'timestamp', 'Last modification time.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageOrders: TableSchema = {
  name: 'orders',
  zone: 'stage',
  location: 'orders/',
  description: 'Orders from MySQL and legacy history, unified onto customer ids.',
  columns: [
    col('order_id', 'string', 'Order id, prefixed by source (m-123, h-abc).', { nullable: false }),
    col('customer_id', 'bigint', 'Unified customer id.', { nullable: false }),
    col('ordered_at', 'timestamp', 'Order time.', { nullable: false }),
    col('status', 'string', 'placed, shipped, delivered, cancelled or refunded.'),
    col('channel', 'string', 'web, mobile, store or legacy.'),
    col('payment_method', 'string', 'Payment method.'),
    col('currency', 'string', 'ISO currency code.'),
    col('total_amount', 'decimal(12,2)', 'Order total after discount.'),
    col('discount_amount', 'decimal(12,2)', 'Discount applied.'),
    col('item_quantity', 'int', 'Units in the order.'),
    col('is_revenue', 'boolean', 'False for cancelled and refunded orders, which count in no spend.'),
    col('source', 'string', 'mysql or history.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageOrderItems: TableSchema = {
  name: 'order_items',
  zone: 'stage',
  location: 'order_items/',
  description: 'Order lines of MySQL orders, latest version of each line.',
  columns: [
    col('order_id', 'string', 'Order id (m-123).', { nullable: false }),
    col('line_number', 'int', 'Line number.', { nullable: false }),
    col('product_id', 'bigint', 'Product sold.'),
    col('quantity', 'int', 'Units.'),
    col('unit_price', 'decimal(12,2)', 'Price per unit.'),
    col('discount_amount', 'decimal(12,2)', 'Discount on the line.'),
    col('line_amount', 'decimal(14,2)', 'quantity * unit_price - discount_amount.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageInteractions: TableSchema = {
  name: 'interactions',
  zone: 'stage',
  location: 'interactions/',
  description: 'Typed interaction events resolved to customer ids.',
  columns: [
    col('event_id', 'string', 'Unique event id.', { nullable: false }),
    col('customer_id', 'bigint', 'Unified customer id.', { nullable: false }),
    col('event_type', 'string', 'Event type.', { nullable: false }),
    col('event_at', 'timestamp', 'Event time.', { nullable: false }),
    col('campaign_id', 'string', 'Campaign.'),
    col('device', 'string', 'Device class.'),
    col('traffic_source', 'string', 'Web visit source.'),
    col('ip_address', 'string', 'Client IP address.', { pii: true }),
    col('is_success', 'boolean', 'Login succeeded.'),
    col('ticket_category', 'string', 'Support ticket category.'),
    col('resolution_minutes', 'double', 'Minutes to resolve a ticket.'),
    col('satisfaction', 'double', 'Satisfaction score, 1-5.'),
    col('product_id', 'bigint', 'Reviewed product.'),
    col('rating', 'double', 'Review rating, 1-5.'),
    col('points', 'double', 'Loyalty points, earned positive, redeemed negative.'),
    col('cost', 'double', 'Ad cost.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageIdentityMap: TableSchema = {
  name: 'identity_map',
  zone: 'stage',
  location: 'identity_map/',
  description: 'Every source identifier, the customer id it resolved to, and the rule that matched.',
  columns: [
    col('source', 'string', 'mysql, dynamodb or history.', { nullable: false }),
    col('source_key_type', 'string', 'customer_id, email, visitor_id or legacy_id.', { nullable: false }),
    col('source_key', 'string', 'The identifier as it appears in the source.', {
      pii: true,
      nullable: false,
    }),
    col('customer_id', 'bigint', 'Resolved customer id.', { nullable: false }),
    col('match_rule', 'string', 'mysql_id, normalized_email, visitor_map or legacy_id.', { nullable: false }),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageIdentityResolution: TableSchema = {
  name: 'identity_resolution',
  zone: 'stage',
  location: 'identity_resolution/',
  description:
    'Every source identifier with the customer it resolved to and the rule, or why it could not be resolved; built once per run and read by the other stage tables.',
  columns: [
    col('source', 'string', 'mysql, dynamodb or history.', { nullable: false }),
    col('source_key_type', 'string', 'customer_id, email, visitor_id, legacy_id or unknown.', {
      nullable: false,
    }),
    col('source_key', 'string', 'The identifier as it appears in the source.', { pii: true }),
    col('customer_id', 'bigint', 'Resolved customer id; null when unresolved.'),
    col('match_rule', 'string', 'mysql_id, normalized_email, visitor_map or legacy_id.'),
    col(
      'unresolved_reason',
      'string',
      'unknown_customer, anonymous_visitor, blocked_identifier, missing_key, identity_hash_collision or identity_group_too_large; null when resolved.',
    ),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageRejects: TableSchema = {
  name: 'rejects',
  zone: 'stage',
  location: 'rejects/',
  description: 'Quarantined source records with the reason they were kept out of the marts.',
  columns: [
    col('source', 'string', 'Source table, for example mysql.orders.', { nullable: false }),
    col('record_key', 'string', 'Key of the rejected record, as text.'),
    col(
      'reason',
      'string',
      'missing_key, negative_amount, unparseable_date, duplicate_id, unknown_customer...',
      {
        nullable: false,
      },
    ),
    col('detail', 'string', 'The offending value or context.'),
    col(
      'record_json',
      'string',
      "The rejected record's identifying fields as JSON; for a DynamoDB item its keys and the raw ingest_date whose item_json holds the whole item.",
      { pii: true },
    ),
  ],
  partitionKeys: runPartitionKeys,
};

/**
 * Source keys of erased customers (`c360 erase`, the erase-customers state machine). Not partitioned by
 * run: every run's staging models read all of it and drop a matching source row through an equi
 * anti-join, so a later extraction of a row the source still holds never brings an erased customer
 * back. One file per erasure (`suppressed_keys/<erasure id>.parquet`); emails only as hashes.
 */
export const stageSuppressedKeys: TableSchema = {
  name: 'suppressed_keys',
  zone: 'stage',
  location: 'suppressed_keys/',
  description:
    'Source keys of erased customers, which staging drops from every later run (counted as erased_rows_suppressed in data_quality).',
  columns: [
    col(
      'key_type',
      'string',
      'customer_id (unified), mysql_customer_id, mysql_order_id, dynamodb_customer_key (customer# and visitor# keys), legacy_id or email_sha256.',
      { nullable: false },
    ),
    col(
      'key_value',
      'string',
      'The key as text; for email_sha256 the lower-case hex SHA-256 of the trimmed, lower-cased address, never the address.',
      { nullable: false },
    ),
    col('erasure_id', 'string', 'The erasure that added the key (see the erasure log).', { nullable: false }),
    col('erased_at', 'timestamp', 'When the erasure ran (UTC).', { nullable: false }),
  ],
  partitionKeys: [],
};

// ---------------------------------------------------------------- stage snapshots

/**
 * The latest version of each source row as of a run date, in the raw table's own columns and types
 * plus the raw partition it came from. The next run starts from it and reads only the raw partitions
 * landed since (see the snapshot models in sql/stage/), so a daily run does not re-read all of raw.
 */
function snapshotOf(raw: TableSchema, latest: string, omit: readonly string[] = []): TableSchema {
  return {
    name: `snapshot_${raw.name}`,
    zone: 'stage',
    location: `snapshots/${raw.name}/`,
    description: `${latest} as of the run date: the snapshot of raw.${raw.name} the next run starts from.`,
    columns: [
      ...raw.columns.filter((c) => !omit.includes(c.name)),
      { ...ingestDate, description: 'The raw partition (extraction day) the row was read from.' },
    ],
    partitionKeys: runPartitionKeys,
  };
}

export const snapshotMysqlCustomers = snapshotOf(
  rawMysqlCustomers,
  'The latest extracted version of each MySQL customer (and every row without a key)',
);
export const snapshotMysqlProducts = snapshotOf(
  rawMysqlProducts,
  'The latest extracted version of each MySQL product (and every row without a key)',
);
export const snapshotMysqlOrders = snapshotOf(
  rawMysqlOrders,
  'The latest extracted version of each MySQL order (and every row without a key)',
);
export const snapshotMysqlOrderItems = snapshotOf(
  rawMysqlOrderItems,
  'The latest extracted version of each MySQL order line (and every row without a key)',
);
// Without item_json, half of raw's bytes: every run would write and read it again, for the few items
// that are quarantined. The whole item stays in raw, found by ingest_date and the item's keys.
export const snapshotDynamodbInteractions = snapshotOf(
  rawDynamodbInteractions,
  'The latest write of each DynamoDB interaction item (per customer_key and event_key), without item_json',
  ['item_json', 'is_deleted'],
);
export const snapshotHistoryOrders = snapshotOf(
  rawHistoryOrders,
  'Every row of the latest landing of each history file',
);

export const rawTables = [
  rawMysqlCustomers,
  rawMysqlProducts,
  rawMysqlOrders,
  rawMysqlOrderItems,
  rawMysqlKeys,
  rawDynamodbInteractions,
  rawHistoryOrders,
] as const;

export const stageSourceDeletes: TableSchema = {
  name: 'source_deletes',
  zone: 'stage',
  location: 'source_deletes/',
  description:
    "Source rows the base run's snapshot held and this run's snapshot does not: deleted at the source (MySQL rows missing from the latest key scan, DynamoDB items removed). Empty for a run without a base (a rebuild or the first run).",
  columns: [
    col(
      'source_table',
      'string',
      'mysql.customers, mysql.products, mysql.orders, mysql.order_items or dynamodb.interactions.',
      {
        nullable: false,
      },
    ),
    col(
      'record_key',
      'string',
      "The removed row's key as text: the id, order_id|line_number, or customer_key|event_key.",
      { pii: true, nullable: false },
    ),
    col('ingested_at', 'timestamp', 'When the removed version had been read from the source.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const stageTables = [
  snapshotMysqlCustomers,
  snapshotMysqlProducts,
  snapshotMysqlOrders,
  snapshotMysqlOrderItems,
  snapshotDynamodbInteractions,
  snapshotHistoryOrders,
  stageSourceDeletes,
  stageCustomers,
  stageProducts,
  stageOrders,
  stageOrderItems,
  stageInteractions,
  stageIdentityMap,
  stageIdentityResolution,
  stageRejects,
  stageSuppressedKeys,
] as const;

export const analyticsTables: readonly TableSchema[] = martTables;

export const allTables: readonly TableSchema[] = [...rawTables, ...stageTables, ...analyticsTables];

/** The table stored at `location` (as in `TableSchema.location`, `snapshots/mysql_orders/`) of a zone. */
export function tableAtLocation(zone: string, location: string): TableSchema | undefined {
  return allTables.find((t) => t.zone === zone && t.location === location);
}

/** The table of a zone by name; an unknown name is an error. */
export function tableNamed(zone: string, name: string): TableSchema {
  const table = allTables.find((t) => t.zone === zone && t.name === name);
  if (!table) throw new Error(`No ${zone} table named ${name} in lib/schema`);
  return table;
}

/** The tables each run writes a `run_date=D/run_id=R/` partition of (what expiring a run deletes). */
export const stageAndAnalyticsRunTables: readonly TableSchema[] = [...stageTables, ...analyticsTables].filter(
  (t) => t.partitionKeys.some((k) => k.name === 'run_id'),
);
