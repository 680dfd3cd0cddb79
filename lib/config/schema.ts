import { z } from 'zod';
import { DEFAULT_BEDROCK_MODEL_ID, MODEL_PRICES } from '../summaries/models.js';
import { dateFormatProblem, isCalendarDate, scheduleExpressionProblem, timeZoneProblem } from './checks.js';

/** A QuickSight user or group: `arn:aws:quicksight:<region>:<account>:user|group/<namespace>/<name>`. */
export const QUICKSIGHT_PRINCIPAL_ARN = /^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:(user|group)\/.+/;

/**
 * The one typed configuration of a Customer 360 deployment.
 *
 * Every key has a default so that local runs and `cdk synth -c allowPlaceholders=true` work on a
 * fresh clone with no account and no credentials; a deployment overrides what it needs in
 * `customer360.config.json` (or the file named by the `config` context key), and must replace the
 * MySQL placeholders (lib/config/deployable.ts). Objects are strict: a misspelt key is an error, not
 * a silent default.
 */

const glueName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_]{0,40}$/,
    'expected lowercase letters, digits and underscores, starting with a letter',
  );

const positiveInt = z.number().int().positive();

/** Largest value of the SQL `int` (and Java int) that counts and caps are compared with. */
export const SQL_INT_MAX = 2_147_483_647;

/** A count or cap compared with a SQL count: a positive whole number that fits an `int`. */
const countLimit = positiveInt.max(SQL_INT_MAX, `expected a whole number from 1 to ${SQL_INT_MAX} (SQL int)`);

/**
 * A money amount compared with `decimal(12, 2)` in SQL (`cast(x as decimal(12, 2))` in
 * sql/marts/fraud_flags.sql): at most 10 digits before the point and 2 after, at least one cent.
 */
const moneyAmount = z
  .number()
  .min(0.01, 'expected at least 0.01')
  .max(9_999_999_999.99, 'expected at most 9999999999.99 (SQL decimal(12, 2))')
  .refine(
    (value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-6,
    'expected at most two decimal places (SQL decimal(12, 2))',
  );

/** A day window or age in days: `interval '1' day * n` and date arithmetic stay sane below ten years. */
const dayCount = positiveInt.max(3650, 'expected a whole number of days from 1 to 3650');

/** Issues of a zod refinement from a check that returns its problem as text. */
function checkedBy(problem: (value: string) => string | undefined) {
  return (value: string, ctx: z.core.$RefinementCtx<string>) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, input: value });
  };
}

/**
 * Placeholders that let `cdk synth` run on a fresh clone. They cannot reach a database: a deployment
 * sets them (see lib/config/deployable.ts, which refuses them for `cdk deploy`).
 */
export const MYSQL_PLACEHOLDERS = {
  host: 'customer360-db.cluster-example.us-east-1.rds.amazonaws.com',
  subnetId: 'subnet-00000000',
  securityGroupIds: ['sg-00000000'],
  availabilityZone: 'us-east-1a',
} as const;

/** A control character (C0, DEL or C1): never part of an address, and a NUL breaks the SQL. */
const CONTROL_CHARACTER = /\p{Cc}/u;

const emailAddress = z.email({ message: 'expected an email address' });

/**
 * Whether a source is extracted and checked. A retailer starting from an order history alone turns
 * MySQL and DynamoDB off: a disabled source has no connection, job or extract state in the stack and
 * no freshness check, rather than failing every run as a source that stopped.
 */
const sourceEnabled = z.boolean().default(true);

export const mysqlSourceSchema = z.strictObject({
  enabled: sourceEnabled,
  /** Hostname of the RDS MySQL endpoint (or any MySQL-compatible server reachable from the VPC). */
  host: z.string().min(1).default(MYSQL_PLACEHOLDERS.host),
  port: z.number().int().min(1).max(65535).default(3306),
  database: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,64}$/, 'expected a MySQL database name')
    .default('retail'),
  /**
   * Name or ARN of the Secrets Manager secret holding `username` and `password`. Credentials never
   * live in this file.
   */
  secretName: z.string().min(1).default('customer360/mysql'),
  /** Network placement of the Glue connection: a private subnet that can reach the database. */
  network: z
    .strictObject({
      subnetId: z
        .string()
        .regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet id such as subnet-0123abcd')
        .default(MYSQL_PLACEHOLDERS.subnetId),
      securityGroupIds: z
        .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group id such as sg-0123abcd'))
        .min(1)
        .default([...MYSQL_PLACEHOLDERS.securityGroupIds]),
      availabilityZone: z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'expected an availability zone such as us-east-1a')
        .default(MYSQL_PLACEHOLDERS.availabilityZone),
    })
    .prefault({}),
  /** Tables extracted incrementally on `updated_at`. */
  tables: z
    .array(z.enum(['customers', 'products', 'orders', 'order_items']))
    .min(1)
    .default(['customers', 'products', 'orders', 'order_items']),
  /**
   * Hard deletes: a row deleted at the source leaves nothing for the incremental extraction to read,
   * so on the days it runs the extraction also lands every current primary key of each table
   * (`raw.mysql_keys`) and stage drops the rows the latest key scan lacks.
   */
  deleteDetection: z
    .strictObject({
      /**
       * Days between key scans; `0` turns them off (deleted rows then stay in the lake). A scan reads
       * only the primary keys (MySQL answers it from the smallest index, each of which holds them).
       */
      everyDays: z.number().int().min(0).default(1),
      /**
       * Largest share of a table's rows one run may remove; above it the run's `source_deletes` check
       * is blocking, so a wrong key scan (the wrong database, a filtered view) never wipes a table.
       */
      maxDeletedShare: z.number().min(0).max(1).default(0.05),
    })
    .prefault({}),
});

export const dynamoDbSourceSchema = z.strictObject({
  enabled: sourceEnabled,
  interactionsTableName: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'expected a DynamoDB table name')
    .default('customer-interactions'),
});

const historyColumnsSchema = z.strictObject({
  orderId: z.string().min(1).optional(),
  customer: z.string().min(1).default('customer_id'),
  orderDate: z.string().min(1).default('date'),
  amount: z.string().min(1).default('amount'),
  /** `null` when the export has no quantity column (each row then counts as one unit). */
  quantity: z.string().min(1).nullable().default('quantity'),
});

export const historySourceSchema = z.strictObject({
  /** Prefix under the raw bucket (or a local folder) where legacy order exports are dropped. */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_\-/]+\/$/, 'expected a key prefix ending in "/"')
    .default('landing/history/'),
  format: z.enum(['csv', 'jsonl', 'parquet']).default('csv'),
  /** Which file column means what, so an export can be dropped in as it is. */
  columns: historyColumnsSchema.prefault({}),
  /** Whether the customer column holds a legacy customer id or an email address. */
  customerKey: z.enum(['legacy_id', 'email']).default('legacy_id'),
  /**
   * How a legacy customer id encodes the MySQL id of a customer who was migrated: a regular expression
   * whose one capture group is that id (for example `L0000042` is customer 42). Legacy ids that do not
   * match, or match no MySQL customer, become customers of their own. `null` when legacy ids carry no
   * such link. RE2 syntax; checked with a real RE2 when the configuration file is loaded (lib/config/re2.ts).
   */
  legacyIdPattern: z.string().min(1).nullable().default('^L0*([0-9]+)$'),
  /**
   * Format of the date column for `date_parse` (Athena) and `strptime` (DuckDB): only the specifiers
   * both read alike (lib/config/checks.ts).
   */
  dateFormat: z.string().min(1).superRefine(checkedBy(dateFormatProblem)).default('%Y-%m-%d'),
  /**
   * Whether rows identical in customer, date, amount and quantity are one purchase delivered twice.
   * Only for exports without an order id column (with one, a repeated order id is the duplicate) and
   * only for sources known to re-deliver rows: in a transaction log two identical rows are two real
   * purchases (two copies of one CD bought the same day), so by default they are kept.
   */
  identicalRowsAreDuplicates: z.boolean().default(false),
});

/** A key that moved: any value is an error naming the new key. */
function movedKey(to: string) {
  return z.never({ message: `expected ${to} instead (the key moved there)` }).optional();
}

/**
 * Retention (docs/operations.md, "Retention"). Runs are expired by the `Apply retention` step after each
 * publish (lib/retention/); raw and rejects by S3 lifecycle rules (lib/constructs/data-lake-storage.ts).
 */
export const retentionSchema = z.strictObject({
  /**
   * Days raw objects are kept after they landed; `null` keeps raw for ever. Set, a rebuild from raw only
   * sees what landed in the last `rawDays` days, and incremental runs depend on their snapshot base
   * (the published run they start from, which retention never deletes): see RAW_MARGIN_DAYS.
   */
  rawDays: positiveInt
    .max(36_500, 'expected a whole number of days from 1 to 36500')
    .nullable()
    .default(null),
  /**
   * Days the quarantined records (`stage.rejects`, which hold personal data in `record_json`) are kept
   * after their run wrote them; `null` keeps them as long as their run.
   */
  rejectsDays: dayCount.nullable().default(null),
  /**
   * Days the files of a run that never published (failed, stopped by the quality gate, refused, a
   * backfill or rebuild) are kept for diagnosis, counted from its start. 0: deleted at the next publish.
   */
  unpublishedRunsDays: z
    .number()
    .int('expected a whole number of days')
    .min(0, 'expected 0 or more days')
    .max(3650, 'expected at most 3650 days')
    .default(7),
  /**
   * Days a published run's stage and analytics files are kept after it started, for comparing and
   * backfilling from; the run readers see and the snapshot the next run builds on are never deleted.
   */
  publishedRunsDays: dayCount.default(30),
});

/**
 * Days raw must outlive the published runs kept: any kept published run can be the base of a backfill
 * (which reads raw from the base's date), and after the last publish the pipeline must get a run
 * published (the "no run published" alarm fires within alerts.maxHoursWithoutPublish) before the raw
 * its snapshot base needs expires.
 */
export const RAW_MARGIN_DAYS = 14;

export const configSchema = z
  .strictObject({
    /** Short name of the deployment; prefixes stack, bucket and catalog names. */
    environment: z
      .string()
      .regex(
        /^[a-z][a-z0-9-]{1,19}$/,
        'expected 2-20 lowercase letters, digits or hyphens, starting with a letter',
      )
      .default('dev'),
    /** AWS account and region; left out, the stack is environment-agnostic and synthesizes offline. */
    account: z
      .string()
      .regex(/^\d{12}$/, 'expected a 12-digit AWS account id')
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as eu-west-1')
      .optional(),
    /** Catalog database prefix: databases are `<prefix>_raw`, `<prefix>_stage`, `<prefix>_analytics`. */
    catalogPrefix: glueName.default('customer360'),
    /**
     * Deletes buckets and their objects on `cdk destroy`. For throwaway dev stacks only; refused when
     * `environment` is `prod`.
     */
    destroyDataOnRemoval: z.boolean().default(false),
    sources: z
      .strictObject({
        mysql: mysqlSourceSchema.prefault({}),
        dynamodb: dynamoDbSourceSchema.prefault({}),
        history: historySourceSchema.prefault({}),
      })
      .prefault({}),
    schedule: z
      .strictObject({
        /** EventBridge Scheduler expression: `cron(...)` or `rate(...)`. */
        expression: z.string().superRefine(checkedBy(scheduleExpressionProblem)).default('cron(0 3 * * ? *)'),
        /** IANA time zone the expression is evaluated in. */
        timezone: z.string().superRefine(checkedBy(timeZoneProblem)).default('UTC'),
        enabled: z.boolean().default(true),
      })
      .prefault({}),
    analysis: z
      .strictObject({
        /** A customer is at risk when days since last purchase day exceed k times their mean gap. */
        churnGapMultiplier: z.number().min(1).max(10).default(2),
        /**
         * A one-time buyer is overdue when days since their purchase exceed this times the customer
         * base's median gap from first to second purchase day.
         */
        oneTimeBuyerGapMultiplier: z.number().min(1).max(10).default(2),
        /**
         * RFM's "New" (R 5, F 1) only for a customer whose first purchase is at most this many days
         * old: an R 5, F 1 customer who first bought earlier is "Returning" (bought before the window)
         * or "Promising".
         */
        newCustomerMaxDays: dayCount.default(90),
        /** Look-back windows in days. */
        rfmWindowDays: dayCount.default(365),
        engagementWindowDays: dayCount.default(90),
        fraudWindowDays: positiveInt.max(365).default(30),
        fraud: z
          .strictObject({
            maxDistinctIps: countLimit.default(5),
            maxLoginAttempts: countLimit.default(20),
            maxFailedLogins: countLimit.default(10),
            /** Compared with order totals as decimal(12, 2). */
            highValueOrderTotal: moneyAmount.default(1000),
            maxOrdersInWindow: countLimit.default(10),
          })
          .prefault({}),
        topN: positiveInt.max(1000).default(10),
        /** A run stops before publishing when a source's newest record is older than this. */
        maxSourceStalenessDays: dayCount.default(3),
        /** A run stops before publishing when rejects exceed this share of a source's rows. */
        maxRejectShare: z.number().min(0).max(1).default(0.05),
      })
      .prefault({}),
    models: z
      .strictObject({
        clv: z
          .strictObject({
            /**
             * Unit of recency and age in the (x, t_x, T) triples the BG/NBD fit groups customers by: `day`
             * keeps the paper's days / 7; `week` rounds to whole weeks, so a large base has fewer distinct
             * triples (a cheaper fit and scoring table) at the cost of up to 6 days' precision.
             */
            timeResolution: z.enum(['day', 'week']).default('day'),
            /** Expected purchases are reported over these two horizons. */
            shortHorizonDays: dayCount.default(90),
            longHorizonDays: dayCount.default(365),
            /** Lifetime value: expected spend x purchases over this horizon, each discounted to today. */
            lifetimeHorizonDays: dayCount.default(365),
            /** Annual rate the lifetime value's future purchases are discounted at. */
            annualDiscountRate: z.number().min(0).max(1).default(0.1),
            /**
             * BG/NBD is fitted on the triples of at most this many customers per cutoff (a hashed
             * sample): distinct triples grow with the customer count, the fit's cost must not.
             */
            fitSampleSize: positiveInt.min(1000).max(1_000_000).default(50_000),
            /** Gamma-Gamma is fitted on at most this many repeat buyers (a hashed sample). */
            spendSampleSize: positiveInt.max(1_000_000).default(50_000),
          })
          .prefault({}),
        churn: z
          .strictObject({
            /** H: churned = no revenue order in the H days after the cutoff. */
            horizonDays: positiveInt.min(7).max(730).default(90),
            /** Training and evaluation each use at most this many customers (a hashed sample). */
            sampleSize: positiveInt.min(100).max(1_000_000).default(50_000),
            /** L2 penalty of the logistic regression, on standardized features. */
            l2: z.number().min(0).max(1_000_000).default(1),
            /** A customer is predicted to churn when the probability reaches this. */
            threshold: z.number().gt(0).lt(1).default(0.5),
          })
          .prefault({}),
        kmeans: z
          .strictObject({
            /** A fixed number of clusters; without it k is chosen by silhouette within kRange. */
            k: positiveInt.min(2).max(12).optional(),
            kRange: z
              .tuple([positiveInt.min(2).max(12), positiveInt.min(2).max(12)])
              .refine(([low, high]) => low <= high, 'expected [low, high] with low <= high')
              .default([3, 6]),
            restarts: positiveInt.max(50).default(5),
            seed: z.number().int().min(0).default(42),
            /** K-Means is fitted on at most this many customers (a hashed sample). */
            sampleSize: positiveInt.min(100).max(1_000_000).default(50_000),
          })
          .prefault({}),
      })
      .prefault({}),
    identity: z
      .strictObject({
        /**
         * Placeholder addresses many people share (a store's walk-in or test address): never used to
         * merge customers. Compared after trimming and lower-casing.
         */
        blockedEmails: z
          .array(
            z
              .string()
              .min(3)
              .refine(
                (email) => !CONTROL_CHARACTER.test(email),
                'expected an address without control characters (NUL, tab, newline...)',
              ),
          )
          .default(['test@test.com', 'noemail@example.com', 'none@none.com', 'walkin@store.local']),
        /** A customer that would gather more source ids than this is flagged in data quality, not merged. */
        maxSourceIdsPerCustomer: countLimit.default(25),
      })
      .prefault({}),
    storage: z
      .strictObject({
        rawInfrequentAccessAfterDays: z.number().int().min(30).default(90),
        rawGlacierAfterDays: positiveInt.default(365),
        noncurrentVersionExpirationDays: positiveInt.default(90),
        athenaResultsExpirationDays: positiveInt.default(30),
        accessLogsExpirationDays: positiveInt.default(365),
        /** What is deleted when (docs/operations.md, "Retention"; enforced by lib/retention/). */
        retention: retentionSchema.prefault({}),
        // Moved under storage.retention: named, so an old configuration says where the key went.
        publishedRunRetentionDays: movedKey('storage.retention.publishedRunsDays'),
        unpublishedRunRetentionDays: movedKey('storage.retention.unpublishedRunsDays'),
      })
      .prefault({}),
    athena: z
      .strictObject({
        /** Per-query cutoff; Athena cancels a query that would scan more. Minimum 10 MB. */
        bytesScannedCutoffPerQuery: z
          .number()
          .int()
          .min(10_000_000)
          .default(100 * 1024 ** 3),
        /**
         * First date of the projected date partitions (`ingest_date`, `run_date`) of every Glue table:
         * Athena sees no partition before it, so set it no later than the oldest history.
         */
        partitionProjectionStart: z
          .string()
          .refine(isCalendarDate, 'expected a date written yyyy-MM-dd')
          .default('2020-01-01'),
      })
      .prefault({}),
    alerts: z
      .strictObject({
        emailRecipients: z.array(emailAddress).default([]),
        /** Verified SES identity that sends alert and summary emails. */
        senderEmail: emailAddress.optional(),
        /**
         * Hours without a published run before the "no run published" alarm fires. Leave room for one
         * missed schedule plus a run's length. At most 168: CloudWatch evaluates an alarm over at most
         * seven days of hourly periods.
         */
        /** The same customer is never alerted for the same reason twice within this many days. */
        dedupeWindowDays: positiveInt.max(365).default(30),
        /** Up to this many new fraud flags a run are one message each; more are one batched message. */
        fraudBatchThreshold: positiveInt.max(1000).default(10),
        /** High-value churn risk: customers at or above both thresholds, the most valuable first. */
        highValue: z
          .strictObject({
            minChurnProbability: z.number().gt(0).lt(1).default(0.5),
            minLifetimeValue: z.number().min(0).max(1e9).default(100),
            /** At most this many in a run's alert and digest. */
            maxCustomers: positiveInt.max(10_000).default(100),
          })
          .prefault({}),
        /** Link in the digest email to the dashboards (QuickSight, or your BI tool). */
        dashboardUrl: z.url({ message: 'expected an https URL' }).optional(),
        maxHoursWithoutPublish: z
          .number()
          .int('expected a whole number of hours')
          .min(1, 'expected at least 1 hour')
          .max(168, 'expected at most 168 hours (CloudWatch evaluates an alarm over at most 7 days)')
          .default(30),
      })
      .prefault({}),
    bedrock: z
      .strictObject({
        enabled: z.boolean().default(true),
        /**
         * A model (or inference profile) that is Active on Bedrock and supports Converse, with its price
         * in lib/summaries/models.ts so each run's cost is recorded (docs/summaries.md says how to check
         * a model's lifecycle state and change it).
         */
        modelId: z
          .string()
          .min(1)
          .refine((id) => MODEL_PRICES[id] !== undefined, {
            message: `expected a model priced in lib/summaries/models.ts (${Object.keys(MODEL_PRICES).join(', ')}); to use another, add its price per 1,000 tokens to MODEL_PRICES there`,
          })
          .default(DEFAULT_BEDROCK_MODEL_ID),
      })
      .prefault({}),
    quicksight: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** ARN of the QuickSight user or group granted the data sets; required when enabled. */
        principalArn: z
          .string()
          .regex(QUICKSIGHT_PRINCIPAL_ARN, {
            message:
              'expected a QuickSight user or group ARN: arn:aws:quicksight:<region>:<account>:user/<namespace>/<name> (or group/...)',
          })
          .optional(),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.destroyDataOnRemoval && config.environment === 'prod') {
      ctx.addIssue({
        code: 'custom',
        path: ['destroyDataOnRemoval'],
        message: 'expected false when environment is "prod": production data is always retained',
        input: config.destroyDataOnRemoval,
      });
    }
    if (config.quicksight.enabled && config.quicksight.principalArn === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['quicksight', 'principalArn'],
        message: 'expected a QuickSight user or group ARN when quicksight.enabled is true',
        input: undefined,
      });
    }
    if (config.storage.rawGlacierAfterDays <= config.storage.rawInfrequentAccessAfterDays) {
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 'rawGlacierAfterDays'],
        message: `expected more than storage.rawInfrequentAccessAfterDays (${config.storage.rawInfrequentAccessAfterDays})`,
        input: config.storage.rawGlacierAfterDays,
      });
    }
    const { rawDays, publishedRunsDays } = config.storage.retention;
    const rawNeeds = publishedRunsDays + RAW_MARGIN_DAYS;
    if (rawDays !== null && rawDays <= rawNeeds) {
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 'retention', 'rawDays'],
        message: `expected more than storage.retention.publishedRunsDays + ${RAW_MARGIN_DAYS} (${rawNeeds}), or null: an incremental run reads raw from the date of the published run it builds on, so raw must outlive every published run kept plus ${RAW_MARGIN_DAYS} days to repair a stopped pipeline`,
        input: rawDays,
      });
    }
    if (config.alerts.emailRecipients.length > 0 && config.alerts.senderEmail === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'senderEmail'],
        message: 'expected a verified SES sender address when alerts.emailRecipients is not empty',
        input: undefined,
      });
    }
  });

export type Customer360Config = z.output<typeof configSchema>;
export type Customer360ConfigInput = z.input<typeof configSchema>;
