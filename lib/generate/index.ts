/**
 * The deterministic data generator: a retailer's MySQL tables, DynamoDB interactions and legacy
 * history files, with planted fraud and dirty records and a ground-truth manifest. See README
 * ("Generating data").
 */
export { Catalog } from './catalog.js';
export { DatasetGenerator, type DatasetResult, type DatasetTargets, generateDataset } from './dataset.js';
export {
  type BatchWriteClient,
  batchWriteWithRetry,
  DynamoDbSink,
  type DynamoDbTarget,
  ensureInteractionsTable,
  type RetryOptions,
} from './dynamodb.js';
export { type DataFileEntry, DynamoDbExportSink, type DynamoDbExportTarget } from './dynamodb-export.js';
export { type DatasetSink, FileSink, HistorySink } from './files.js';
export { LEGACY_RULE, type Manifest, ManifestBuilder, PURCHASES_DEFINITION } from './manifest.js';
export {
  type Anomaly,
  CDNOW_BGNBD_FIT,
  DIRTY_KINDS,
  type FraudCase,
  legacyIdFor,
  MODEL,
  type PersonBatch,
  type PersonFacts,
  PURCHASE_PROFILES,
  type PurchaseProfile,
  UNKNOWN_CUSTOMER_BASE,
  WEEKS_PER_YEAR,
} from './model.js';
export { applyChanges, type ChangeOptions, type ChangeSet, type ChangeTargets } from './mutations.js';
export {
  connectMysql,
  createMysqlTables,
  type MysqlConnectionInfo,
  MysqlSink,
  type MysqlTarget,
  mysqlSchemaStatements,
  prepareLoadSession,
} from './mysql.js';
export {
  DEFAULTS,
  type GenerateOptions,
  type PurchaseProfileName,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
export { Rng } from './rng.js';
export { HISTORY_COLUMNS, MYSQL_COLUMNS } from './rows.js';
export { compareWithManifest, countLoaded, type LoadedCounts } from './verify.js';
