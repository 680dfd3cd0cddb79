import { ConfigError } from './load.js';
import { type Customer360Config, MYSQL_PLACEHOLDERS } from './schema.js';

/** A key whose default is a placeholder that synthesizes but cannot run. */
interface PlaceholderKey {
  /** Dotted configuration key. */
  readonly key: string;
  /** Whether the configuration still holds the placeholder. */
  readonly isPlaceholder: (config: Customer360Config) => boolean;
  /** What to set instead. */
  readonly hint: string;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((value, index) => value === b[index]);

/**
 * Placeholder keys per source, so that a source that is switched off can be skipped as a whole.
 * DynamoDB and history need nothing beyond names that are real defaults (a table name, a prefix).
 */
export const PLACEHOLDER_KEYS: Readonly<Record<'mysql' | 'dynamodb' | 'history', readonly PlaceholderKey[]>> =
  {
    mysql: [
      {
        key: 'sources.mysql.host',
        isPlaceholder: (c) => c.sources.mysql.host === MYSQL_PLACEHOLDERS.host,
        hint: 'the MySQL endpoint (RDS console, or aws rds describe-db-instances / describe-db-clusters)',
      },
      {
        key: 'sources.mysql.network.subnetId',
        isPlaceholder: (c) => c.sources.mysql.network.subnetId === MYSQL_PLACEHOLDERS.subnetId,
        hint: 'a private subnet that reaches the database (aws ec2 describe-subnets)',
      },
      {
        key: 'sources.mysql.network.securityGroupIds',
        isPlaceholder: (c) =>
          sameList(c.sources.mysql.network.securityGroupIds, MYSQL_PLACEHOLDERS.securityGroupIds),
        hint: 'security groups with the self-referencing inbound rule Glue needs (see the README, Deploying)',
      },
      {
        key: 'sources.mysql.network.availabilityZone',
        // The placeholder zone is a real zone name, so it only counts as unset while the subnet is:
        // a subnet in us-east-1a must be able to keep it.
        isPlaceholder: (c) =>
          c.sources.mysql.network.availabilityZone === MYSQL_PLACEHOLDERS.availabilityZone &&
          c.sources.mysql.network.subnetId === MYSQL_PLACEHOLDERS.subnetId,
        hint: "the subnet's availability zone (AvailabilityZone in aws ec2 describe-subnets)",
      },
    ],
    dynamodb: [],
    history: [],
  };

/** Every key that still holds its placeholder, as `key: hint` lines. */
export function placeholderProblems(config: Customer360Config): string[] {
  // A disabled source has no connection in the stack: its placeholders are never used.
  return (Object.keys(PLACEHOLDER_KEYS) as (keyof typeof PLACEHOLDER_KEYS)[])
    .filter((source) => source === 'history' || config.sources[source].enabled)
    .flatMap((source) => PLACEHOLDER_KEYS[source])
    .filter((entry) => entry.isPlaceholder(config))
    .map((entry) => `${entry.key}: set to ${entry.hint}`);
}

/** Raised by `assertDeployable`: one message listing every key still to set. */
export class NotDeployableError extends ConfigError {
  constructor(source: string, problems: readonly string[]) {
    super(source, problems);
    this.name = 'NotDeployableError';
    this.message = [
      `Not deployable: ${source} still has placeholder values, and the pipeline would fail at its first run.`,
      'Set these keys:',
      ...problems.map((p) => `  - ${p}`),
      'To look at the template offline without them: npx cdk synth -c allowPlaceholders=true',
    ].join('\n');
  }
}

/**
 * Refuses a configuration that would deploy a pipeline unable to run: the Glue connection to MySQL
 * still pointing at the placeholder host, subnet, security groups or availability zone. Called by
 * the deploying entry point (bin/customer360.ts); local runs and stack tests do not need it.
 */
export function assertDeployable(config: Customer360Config, source = 'the configuration'): void {
  const problems = placeholderProblems(config);
  if (problems.length > 0) throw new NotDeployableError(source, problems);
}
