/**
 * npm run generate -- --customers N [--seed S] [options]
 *
 * Generates a deterministic retail data set. Each source goes to its server when one is given and to
 * files under --out otherwise; --out always receives manifest.json and anomalies.jsonl. With --local,
 * throwaway MariaDB and DynamoDB servers are started, loaded, checked against the manifest and
 * stopped (a smoke test and a benchmark of the loaders; the data goes away with them).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  compareWithManifest,
  countLoaded,
  type DatasetTargets,
  DEFAULTS,
  type GenerateOptions,
  generateDataset,
  type MysqlConnectionInfo,
} from '../lib/generate/index.js';
import { LocalDynamoDb } from '../lib/local/dynamodb.js';
import { LocalMariaDb } from '../lib/local/mariadb.js';

const USAGE = `Usage: npm run generate -- --customers N [options]

Data set
  --customers N            people to simulate (required)
  --seed S                 seed, any text or number (default 1)
  --start YYYY-MM-DD       first day of the MySQL era (default ${DEFAULTS.start})
  --end YYYY-MM-DD         last day of the range, inclusive (default ${DEFAULTS.end})
  --history-years N        years of legacy history before --start (default ${DEFAULTS.historyYears})
  --products N             catalog size (default ${DEFAULTS.products})
  --legacy-share X         share of people who signed up before --start (default ${DEFAULTS.legacyShare})
  --dirty-share X          probability that a row is planted dirty (default ${DEFAULTS.dirtyShare})
  --fraud-share X          probability that a customer is a planted fraud case (default ${DEFAULTS.fraudShare})
  --history-key K          legacy_id or email: what history files hold in customer_id (default ${DEFAULTS.historyCustomerKey})
  --profile P              retail (occasional buyers, the published CDNOW BG/NBD fit) or grocery
                           (frequent buyers, about 11.5 purchases a year) (default ${DEFAULTS.purchaseProfile})

Targets (a source without a target is written as files under --out)
  --out DIR                files, manifest.json, anomalies.jsonl (default .c360/generated)
  --mysql-host H --mysql-port P --mysql-user U --mysql-password W --mysql-database D
                           load MySQL (password also from MYSQL_PASSWORD)
  --mysql-method M         load-data (LOAD DATA LOCAL INFILE, default) or insert
  --mysql-reset            drop and recreate the four tables first
  --dynamodb-endpoint URL  DynamoDB endpoint (a local one); without it, AWS's for the region
  --dynamodb-table T       load this interactions table (created if missing)
  --dynamodb-region R      (default AWS_REGION or us-east-1)
  --dynamodb-reset         delete and recreate the table first
  --dynamodb-concurrency N BatchWriteItem requests in flight (default 8)
  --dynamodb-export DIR    write the interactions as a DynamoDB table export folder instead
                           (manifest-summary.json, manifest-files.json, data/*.json.gz), which
                           the local extraction reads without a DynamoDB server
  --history-dir DIR        write the history CSV files here (default DIR/history under --out)
  --local                  start throwaway MariaDB and DynamoDB, load them, check them, stop them
  --help`;

function fail(message: string): never {
  console.error(`generate: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string' },
      seed: { type: 'string', default: '1' },
      start: { type: 'string' },
      end: { type: 'string' },
      'history-years': { type: 'string' },
      products: { type: 'string' },
      'legacy-share': { type: 'string' },
      'dirty-share': { type: 'string' },
      'fraud-share': { type: 'string' },
      'history-key': { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string', default: '.c360/generated' },
      'mysql-host': { type: 'string' },
      'mysql-port': { type: 'string', default: '3306' },
      'mysql-user': { type: 'string' },
      'mysql-password': { type: 'string' },
      'mysql-database': { type: 'string', default: 'retail' },
      'mysql-method': { type: 'string', default: 'load-data' },
      'mysql-reset': { type: 'boolean', default: false },
      'dynamodb-endpoint': { type: 'string' },
      'dynamodb-table': { type: 'string' },
      'dynamodb-region': { type: 'string' },
      'dynamodb-reset': { type: 'boolean', default: false },
      'dynamodb-concurrency': { type: 'string', default: '8' },
      'dynamodb-export': { type: 'string' },
      'history-dir': { type: 'string' },
      local: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return Promise.resolve();
  }
  const number = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || Number.isNaN(n)) fail(`--${name}: got "${text}"; expected a number`);
    return n;
  };
  if (values.customers === undefined) fail('--customers is required');
  const historyKey = values['history-key'];
  if (historyKey !== undefined && historyKey !== 'legacy_id' && historyKey !== 'email') {
    fail(`--history-key: got "${historyKey}"; expected legacy_id or email`);
  }
  const profile = values.profile;
  if (profile !== undefined && profile !== 'retail' && profile !== 'grocery') {
    fail(`--profile: got "${profile}"; expected retail or grocery`);
  }
  const method = values['mysql-method'];
  if (method !== 'load-data' && method !== 'insert') fail(`--mysql-method: got "${method}"`);
  const options: GenerateOptions = {
    customers: number('customers', values.customers) as number,
    seed: values.seed,
    start: values.start,
    end: values.end,
    historyYears: number('history-years', values['history-years']),
    products: number('products', values.products),
    legacyShare: number('legacy-share', values['legacy-share']),
    dirtyShare: number('dirty-share', values['dirty-share']),
    fraudShare: number('fraud-share', values['fraud-share']),
    historyCustomerKey: historyKey,
    purchaseProfile: profile,
  };
  let mysqlInfo: MysqlConnectionInfo | undefined;
  if (values['mysql-host']) {
    const password = values['mysql-password'] ?? process.env.MYSQL_PASSWORD;
    if (!values['mysql-user'] || password === undefined)
      fail('--mysql-host needs --mysql-user and a password');
    mysqlInfo = {
      host: values['mysql-host'],
      port: number('mysql-port', values['mysql-port']) as number,
      user: values['mysql-user'],
      password,
      database: values['mysql-database'],
    };
  }
  if (values['dynamodb-export'] !== undefined && (values['dynamodb-endpoint'] || values.local))
    fail('--dynamodb-export writes files; it does not go with --dynamodb-endpoint or --local');
  const tableName =
    values['dynamodb-table'] ?? (values['dynamodb-endpoint'] ? 'customer-interactions' : undefined);
  return run(options, {
    out: resolve(values.out),
    historyDir: values['history-dir'] ? resolve(values['history-dir']) : undefined,
    mysql: mysqlInfo,
    mysqlMethod: method,
    mysqlReset: values['mysql-reset'],
    // With --dynamodb-export, --dynamodb-table only names the table in the export's ARNs.
    dynamodb:
      tableName && !values['dynamodb-export']
        ? { endpoint: values['dynamodb-endpoint'], region: values['dynamodb-region'], tableName }
        : undefined,
    dynamodbReset: values['dynamodb-reset'],
    dynamodbConcurrency: number('dynamodb-concurrency', values['dynamodb-concurrency']) as number,
    dynamodbExport: values['dynamodb-export']
      ? { dir: resolve(values['dynamodb-export']), tableName }
      : undefined,
    local: values.local,
  });
}

interface CliTargets {
  out: string;
  historyDir: string | undefined;
  mysql: MysqlConnectionInfo | undefined;
  mysqlMethod: 'load-data' | 'insert';
  mysqlReset: boolean;
  dynamodb: { endpoint: string | undefined; region: string | undefined; tableName: string } | undefined;
  dynamodbReset: boolean;
  dynamodbConcurrency: number;
  dynamodbExport: { dir: string; tableName: string | undefined } | undefined;
  local: boolean;
}

async function run(options: GenerateOptions, cli: CliTargets): Promise<void> {
  let localDb: LocalMariaDb | undefined;
  let localDynamo: LocalDynamoDb | undefined;
  try {
    let mysqlInfo = cli.mysql;
    let dynamo: { client: DynamoDBClient; tableName: string } | undefined;
    if (cli.local) {
      localDb = await LocalMariaDb.start();
      localDynamo = await LocalDynamoDb.start();
      mysqlInfo = localDb.connection;
      dynamo = {
        client: localDynamo.client(),
        tableName: cli.dynamodb?.tableName ?? 'customer-interactions',
      };
      console.error(`local MariaDB on port ${localDb.connection.port}, DynamoDB at ${localDynamo.endpoint}`);
    } else if (cli.dynamodb) {
      const local =
        cli.dynamodb.endpoint !== undefined &&
        /^https?:\/\/(127\.|localhost|\[::1\])/.test(cli.dynamodb.endpoint);
      dynamo = {
        client: new DynamoDBClient({
          region: cli.dynamodb.region ?? process.env.AWS_REGION ?? 'us-east-1',
          ...(cli.dynamodb.endpoint ? { endpoint: cli.dynamodb.endpoint } : {}),
          // A local endpoint ignores credentials; placeholders spare the caller from setting any.
          ...(local && !process.env.AWS_ACCESS_KEY_ID
            ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
            : {}),
        }),
        tableName: cli.dynamodb.tableName,
      };
    }
    const historyDir = cli.historyDir ?? resolve(cli.out, 'history');
    const targets: DatasetTargets = {
      ...(mysqlInfo
        ? { mysql: { connection: mysqlInfo, method: cli.mysqlMethod, reset: cli.mysqlReset } }
        : {}),
      ...(dynamo
        ? { dynamodb: { ...dynamo, reset: cli.dynamodbReset, concurrency: cli.dynamodbConcurrency } }
        : {}),
      ...(cli.dynamodbExport ? { dynamodbExport: cli.dynamodbExport } : {}),
      historyDir,
      files: {
        dir: cli.out,
        mysql: !mysqlInfo,
        dynamodb: !dynamo && !cli.dynamodbExport,
        history: false,
      },
      progressEvery: 10_000,
      onProgress: (n) => console.error(`${n} people...`),
    };
    const started = performance.now();
    const { manifest } = await generateDataset(options, targets);
    const seconds = (performance.now() - started) / 1000;
    const rows =
      manifest.counts.mysql.customers +
      manifest.counts.mysql.products +
      manifest.counts.mysql.orders +
      manifest.counts.mysql.order_items +
      manifest.counts.dynamodb.items +
      manifest.counts.history.rows;
    console.log(
      JSON.stringify(
        {
          people: manifest.people.total,
          rows: {
            ...manifest.counts.mysql,
            interactions: manifest.counts.dynamodb.items,
            history: manifest.counts.history.rows,
          },
          purchases: {
            profile: manifest.options.purchaseProfile,
            buyers: manifest.purchases.buyers,
            oneTimeBuyerShare: manifest.purchases.oneTimeBuyerShare,
            medianOrdersPerBuyer: manifest.purchases.medianOrdersPerBuyer,
            meanPurchasesPerYearWhileActive: manifest.purchases.meanPurchasesPerYearWhileActive,
          },
          fraudCustomers: manifest.anomalies.fraud.customers,
          dirtyRecords: manifest.anomalies.dirtyTotal,
          mysql: mysqlInfo ? `${mysqlInfo.host}:${mysqlInfo.port}/${mysqlInfo.database}` : `${cli.out}/mysql`,
          dynamodb: dynamo ? dynamo.tableName : (cli.dynamodbExport?.dir ?? `${cli.out}/dynamodb`),
          history: historyDir,
          manifest: resolve(cli.out, 'manifest.json'),
          seconds: Math.round(seconds * 10) / 10,
          rowsPerSecond: Math.round(rows / seconds),
          peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        },
        null,
        2,
      ),
    );
    if (cli.local) {
      const counts = await countLoaded({ mysql: mysqlInfo, dynamodb: dynamo, historyDir });
      const problems = compareWithManifest(manifest, counts);
      if (problems.length > 0)
        throw new Error(`loaded data disagrees with the manifest:\n  ${problems.join('\n  ')}`);
      console.error('loaded counts match the manifest');
    }
  } finally {
    await localDb?.stop();
    await localDynamo?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`generate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
