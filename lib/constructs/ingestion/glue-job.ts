import { fileURLToPath } from 'node:url';
import { ArnFormat, Aws, Stack, Validations } from 'aws-cdk-lib';
import { CfnJob } from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import type { DataCatalog } from '../data-catalog.js';
import type { DataLakeStorage } from '../data-lake-storage.js';

/** The folder of the PySpark job scripts, shipped as CDK assets. */
export const GLUE_SCRIPTS = fileURLToPath(new URL('../../../glue-scripts/', import.meta.url));

/**
 * Spark settings (the `--conf` job parameter) that keep Spark's S3 writes inside each role's own
 * prefixes. Glue 5.0 writes `s3://` paths through EMRFS, which by default marks directories with
 * `<dir>_$folder$` objects and inserts or deletes such markers for the parents of what it writes or
 * deletes: `_tmp/mysql/orders_$folder$` or `_tmp/mysql_$folder$` lie outside the
 * `_tmp/mysql/orders/*` a role may write. With these two settings (the ones AWS documents for Glue
 * jobs writing Lake Formation locations) a directory is marked by `<dir>/`, which is inside the
 * written prefix, and EMRFS no longer creates or removes parent markers on its own. Everything else
 * the committer writes (`_temporary/`, `_SUCCESS`, the Parquet parts) is under the output path, the
 * run's staging folder.
 */
export const EMRFS_FOLDER_MARKERS_OFF = [
  'spark.hadoop.fs.s3.useDirectoryHeaderAsFolderObject=true',
  'spark.hadoop.fs.s3.folderObject.autoAction.disabled=true',
].join(' --conf ');

/** What every ingestion job shares: the lake, the catalog, the shared module and the worker sizing. */
export interface GlueJobBaseProps {
  /** The lake the job writes to (raw bucket) and whose key it encrypts with. */
  readonly storage: DataLakeStorage;
  /** The catalog whose Glue security configuration the job runs with. */
  readonly catalog: DataCatalog;
  /** `glue-scripts/common` as an asset, passed to the job with `--extra-py-files`. */
  readonly commonModule: Asset;
  /** The Glue job name. */
  readonly jobName: string;
  /**
   * Glue worker type.
   * @default 'G.1X'
   */
  readonly workerType?: string;
  /**
   * Workers per job run (2 is the Spark minimum: a driver and one executor).
   * @default 2
   */
  readonly numberOfWorkers?: number;
}

/** The script asset of one job, from `glue-scripts/`. */
export function jobScript(scope: Construct, id: string, file: string): Asset {
  return new Asset(scope, id, { path: `${GLUE_SCRIPTS}${file}` });
}

/** A job's role: its scripts, CloudWatch logs and metrics, and the lake key. */
export function glueJobRole(
  scope: Construct,
  id: string,
  description: string,
  assets: readonly Asset[],
  storage: DataLakeStorage,
): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
    description,
  });
  addStatement(
    role,
    new iam.PolicyStatement({
      sid: 'ReadScripts',
      actions: ['s3:GetObject'],
      resources: assets.map((asset) => asset.bucket.arnForObjects(asset.s3ObjectKey)),
    }),
  );
  grantGlueLogs(role, 'jobs/*');
  addStatement(
    role,
    new iam.PolicyStatement({
      sid: 'PublishMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
    }),
    'cloudwatch:PutMetricData supports no resource-level permissions; it is limited to the Glue namespace by condition (--enable-metrics).',
  );
  addStatement(
    role,
    new iam.PolicyStatement({
      sid: 'UseLakeKey',
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      resources: [storage.key.keyArn],
    }),
  );
  return role;
}

/** The worker type and count every ingestion job runs with unless its props say otherwise. */
export const GLUE_DEFAULT_WORKER_TYPE = 'G.1X';
export const GLUE_DEFAULT_NUMBER_OF_WORKERS = 2;

/**
 * A Glue 5.0 PySpark job with the arguments every ingestion job shares. Retries are left to the
 * orchestrator (`MaxRetries` 0) and the job runs once at a time, as its state object is not safe to
 * share; job bookmarks are disabled as the jobs keep explicit state objects under `_state/`.
 */
export function glueSparkJob(
  scope: Construct,
  id: string,
  props: GlueJobBaseProps & {
    readonly description: string;
    readonly role: iam.IRole;
    readonly script: Asset;
    readonly timeoutMinutes: number;
    readonly arguments: Readonly<Record<string, string>>;
    readonly connections?: readonly string[];
  },
): CfnJob {
  const { catalog, storage } = props;
  const job = new CfnJob(scope, id, {
    name: props.jobName,
    description: props.description,
    role: props.role.roleArn,
    command: { name: 'glueetl', pythonVersion: '3', scriptLocation: props.script.s3ObjectUrl },
    glueVersion: '5.0',
    workerType: props.workerType ?? GLUE_DEFAULT_WORKER_TYPE,
    numberOfWorkers: props.numberOfWorkers ?? GLUE_DEFAULT_NUMBER_OF_WORKERS,
    timeout: props.timeoutMinutes,
    maxRetries: 0,
    executionProperty: { maxConcurrentRuns: 1 },
    securityConfiguration: catalog.securityConfigurationName,
    defaultArguments: {
      '--job-language': 'python',
      // The jobs keep explicit watermarks, export times and manifests in _state/.
      '--job-bookmark-option': 'job-bookmark-disable',
      '--enable-continuous-cloudwatch-log': 'true',
      '--enable-metrics': 'true',
      '--extra-py-files': props.commonModule.s3ObjectUrl,
      '--raw_bucket': storage.rawBucket.bucketName,
      '--conf': EMRFS_FOLDER_MARKERS_OFF,
      ...props.arguments,
    },
    ...(props.connections ? { connections: { connections: [...props.connections] } } : {}),
  });
  job.addResourceDependency(catalog.securityConfiguration);
  return job;
}

/** Glue's CloudWatch log groups (`/aws-glue/<logGroups>`), encrypted with the lake key. */
export function grantGlueLogs(role: iam.Role, logGroups: string): void {
  addStatement(
    role,
    new iam.PolicyStatement({
      sid: 'WriteGlueLogs',
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'],
      resources: [
        `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:/aws-glue/${logGroups}`,
      ],
    }),
    'Glue names its log groups and streams after the security configuration, the role and the run id; access is limited to the /aws-glue/ groups Glue writes.',
  );
}

/**
 * Object access under raw-bucket prefixes (`read`, `readWrite`) and to exact keys (`objects`,
 * read and written), with listing limited to those prefixes.
 */
export function grantRawPrefixes(
  role: iam.Role,
  bucket: IBucket,
  access: { read?: readonly string[]; readWrite?: readonly string[]; objects?: readonly string[] },
): void {
  const read = access.read ?? [];
  const readWrite = access.readWrite ?? [];
  const objects = access.objects ?? [];
  const reason =
    'Objects under this raw-bucket prefix are named per run and partition (ingest_date, run id, file name), so they cannot be listed in advance.';
  addStatement(
    role,
    new iam.PolicyStatement({
      sid: 'LocateRawBucket',
      actions: ['s3:GetBucketLocation'],
      resources: [bucket.bucketArn],
    }),
  );
  addStatement(
    role,
    new iam.PolicyStatement({
      sid: 'ListRawPrefixes',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: {
        StringLike: { 's3:prefix': [...read, ...readWrite, ...objects].map((prefix) => `${prefix}*`) },
      },
    }),
  );
  if (read.length > 0) {
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'ReadRawPrefixes',
        actions: ['s3:GetObject'],
        resources: read.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      }),
      reason,
    );
  }
  if (readWrite.length > 0) {
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'WriteRawPrefixes',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: readWrite.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      }),
      reason,
    );
  }
  if (objects.length > 0) {
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'ReadWriteState',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: objects.map((key) => bucket.arnForObjects(key)),
      }),
    );
  }
}

/** ARNs of a Secrets Manager secret given by name (or ARN), with the random suffix AWS appends. */
export function secretArns(stack: Stack, nameOrArn: string): string[] {
  if (nameOrArn.startsWith('arn:')) {
    // A complete ARN already ends in the suffix; a partial one (without it) needs `-??????`.
    return [nameOrArn, `${nameOrArn}-??????`];
  }
  return [
    stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${nameOrArn}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  ];
}

/**
 * Adds a statement to a role's policy. Resources with a `*` must come with a reason, which is
 * recorded as a cdk-nag acknowledgement (AwsSolutions-IAM5) of exactly those resources on that role.
 */
export function addStatement(role: iam.Role, statement: iam.PolicyStatement, wildcardReason?: string): void {
  role.addToPrincipalPolicy(statement);
  const stack = Stack.of(role);
  const wildcards = statement.resources.map((resource) => nagResourceName(stack.resolve(resource)));
  for (const resource of wildcards.filter((name) => name.includes('*'))) {
    if (wildcardReason === undefined) {
      throw new Error(
        `Statement ${statement.sid ?? ''} of ${role.node.path} has a wildcard resource ${resource}`,
      );
    }
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${resource}]`,
      reason: wildcardReason,
    });
  }
}

/**
 * A resolved resource as cdk-nag names it in a finding: references flattened to `<Logical.Attr>`
 * and `<Ref>`, joins concatenated (cdk-nag's flattenCfnReference).
 */
function nagResourceName(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(nagResourceName).join(delimiter);
    }
    if ('Fn::Sub' in record) return nagResourceName(record['Fn::Sub']);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${nagResourceName(getAtt[0])}.${nagResourceName(getAtt[1])}>`;
    if ('Fn::ImportValue' in record) return nagResourceName(record['Fn::ImportValue']);
    if ('Ref' in record) return `<${nagResourceName(record.Ref)}>`;
  }
  return JSON.stringify(node);
}
