/**
 * Every AWS price the cost estimate uses, in one place: us-east-1, on-demand, list prices without
 * free tiers (a deployment shares free tiers with everything else in its account).
 *
 * Each price says where it was read and when. The figures were looked up on 2026-12-02 with the
 * project's search tool; `source` is the AWS pricing page, and `seenIn` names the copy that gave the
 * figure when the tool returned a third-party page quoting it rather than the AWS page itself. When
 * AWS changes a price, change it here (and its date); nothing else spells a price.
 */
export interface Price {
  /** US dollars per `unit`. */
  readonly usd: number;
  readonly unit: string;
  readonly region: 'us-east-1';
  /** The day the figure was read. */
  readonly readOn: string;
  /** The AWS pricing page. */
  readonly source: string;
  /** Where the figure was actually read, when not on `source`, and any caveat. */
  readonly seenIn?: string;
}

const READ_ON = '2026-12-02';
const region = 'us-east-1' as const;

export const PRICES = {
  athenaPerTb: {
    usd: 5,
    unit: 'TB scanned (10 MB minimum per query, rounded up to the MB)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/athena/pricing/',
    seenIn:
      'https://athena.guide/articles/athena-basics-pricing-model (flat $5 per TB, rounded to the MB, 10 MB minimum); DDL is free',
  },
  glueDpuHour: {
    usd: 0.44,
    unit: 'DPU-hour (Glue 4.0/5.0 Spark: billed per second, 1-minute minimum)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/glue/pricing/',
    seenIn:
      'the Glue pricing page example (6 DPU x 0.25 h x $0.44); 1-minute minimum: https://awsnegotiations.com/glue-job-cost-optimization.html',
  },
  dynamodbFullExportPerGb: {
    usd: 0.1,
    unit: 'GB of table size (full export to S3)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    seenIn:
      'not returned by the search tool; the figure is the pricing page as known to the author: check it',
  },
  dynamodbIncrementalExportPerGb: {
    usd: 0.1,
    unit: 'GB of changed data processed (incremental export to S3)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    seenIn:
      'not returned by the search tool; the figure is the pricing page as known to the author: check it',
  },
  cloudwatchLogsIngestPerGb: {
    usd: 0.5,
    unit: 'GB ingested (Standard log class)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    seenIn: 'https://c3x.dev/blog/cloudwatch-logs-cost-optimization (us-east-1, June 2026)',
  },
  s3PutPer1000: {
    usd: 0.005,
    unit: '1,000 PUT, COPY, POST or LIST requests (S3 Standard)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/s3/pricing/',
    seenIn: 'https://athena.guide/articles/athena-basics-pricing-model (LIST $5 per million)',
  },
  s3GetPer1000: {
    usd: 0.0004,
    unit: '1,000 GET or SELECT requests (S3 Standard)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/s3/pricing/',
    seenIn: 'https://athena.guide/articles/athena-basics-pricing-model (GET $0.4 per million)',
  },
  s3StoragePerGbMonth: {
    usd: 0.023,
    unit: 'GB-month (S3 Standard, first 50 TB)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/s3/pricing/',
    seenIn: 'https://deepeshsoni.com/archives/256 (about $0.023 per GB-month, first 50 TB, N. Virginia)',
  },
  kmsPer10000: {
    usd: 0.03,
    unit: '10,000 symmetric-key requests',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/kms/pricing/',
    seenIn: 'https://www.wring.co/blog/aws-kms-pricing-guide',
  },
  lambdaArmPerGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second (arm64, first 7.5 billion GB-s a month)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/lambda/pricing/',
    seenIn: 'https://cloudchipr.com/blog/aws-lambda-pricing (US East (N. Virginia) ARM tier)',
  },
  lambdaPerMillionRequests: {
    usd: 0.2,
    unit: 'million requests',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/lambda/pricing/',
    seenIn: 'https://git.mcrn.ar/mariano/lambda_local_runner (x86 and arm64 both $0.20 per 1M)',
  },
  stepFunctionsPer1000Transitions: {
    usd: 0.025,
    unit: '1,000 state transitions (Standard workflows, retries included)',
    region,
    readOn: READ_ON,
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
} as const satisfies Record<string, Price>;

export type Prices = { readonly [K in keyof typeof PRICES]: Price };

/** Athena's billing floor and granularity (binary megabytes, as the estimate counts all sizes). */
export const ATHENA_MIN_BYTES_PER_QUERY = 10 * 2 ** 20;
export const ATHENA_BYTES_ROUNDED_TO = 2 ** 20;
/** Glue 4.0/5.0 Spark jobs are billed per second with a 1-minute minimum per run. */
export const GLUE_MIN_BILLED_SECONDS = 60;
/** DPUs per worker of each Glue worker type. */
export const GLUE_DPUS_PER_WORKER: Readonly<Record<string, number>> = {
  'G.025X': 0.25,
  'G.1X': 1,
  'G.2X': 2,
  'G.4X': 4,
  'G.8X': 8,
};
