import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  type LifecycleRule,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { rawTables, stageRejects } from '../schema/tables.js';
import type { Zone } from '../schema/types.js';

export interface DataLakeStorageProps {
  /**
   * Days after which raw objects move to S3 Standard-IA (at least 30, as S3 requires).
   * @default 90
   */
  readonly rawInfrequentAccessAfterDays?: number;
  /**
   * Days after which raw objects move to S3 Glacier Instant Retrieval. Instant, not Flexible
   * Retrieval: a rebuild reads all of raw, and Glacier Instant Retrieval serves reads in milliseconds
   * with no restore step, so a rebuild keeps working however old the data is.
   * @default 365
   */
  readonly rawGlacierAfterDays?: number;
  /**
   * Days after which noncurrent versions in the raw bucket expire (raw is versioned so an overwrite or
   * a delete can be undone).
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days after which noncurrent versions in the stage and analytics buckets expire. Every run replaces
   * their partitions and both zones can be rebuilt from raw, so old versions are only a short undo buffer.
   * @default 7
   */
  readonly replacedVersionExpirationDays?: number;
  /**
   * Days after which raw table objects (every raw table's prefix; not the history landing prefix, the
   * extraction state or the DynamoDB exports) expire. Raw is written once, on the day it lands, so an
   * object's age is its partition's. A rebuild from raw then only sees the last `rawExpirationDays`
   * days, and an incremental run needs the raw landed since its snapshot base: see
   * `storage.retention.rawDays` in lib/config/schema.ts for the rule the configuration enforces.
   * @default never: raw is kept, and a rebuild from all of raw stays possible
   */
  readonly rawExpirationDays?: number;
  /**
   * Days after which the quarantined records of a run (`stage.rejects`, which hold personal data)
   * expire. No later run reads an earlier run's rejects: each run restates them from its snapshots.
   * @default never: rejects go with their run (see lib/retention/retention.ts)
   */
  readonly rejectsExpirationDays?: number;
  /**
   * Days after which Athena query results expire.
   * @default 30
   */
  readonly athenaResultsExpirationDays?: number;
  /**
   * Days after which server access logs expire.
   * @default 365
   */
  readonly accessLogsExpirationDays?: number;
  /**
   * What happens to the buckets and the key when the stack is deleted. `DESTROY` also empties the
   * buckets; use it only for throwaway development stacks.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The data lake's storage: one KMS-encrypted bucket per zone (raw, stage, analytics), a bucket for
 * Athena query results, and a bucket for the server access logs of all four.
 */
export class DataLakeStorage extends Construct {
  /** Customer-managed key (rotated yearly) that encrypts every data bucket, Glue logs and Athena results. */
  public readonly key: IKey;
  public readonly rawBucket: IBucket;
  public readonly stageBucket: IBucket;
  public readonly analyticsBucket: IBucket;
  public readonly athenaResultsBucket: IBucket;
  public readonly accessLogsBucket: IBucket;

  constructor(scope: Construct, id: string, props: DataLakeStorageProps = {}) {
    super(scope, id);
    const rawIaDays = props.rawInfrequentAccessAfterDays ?? 90;
    const rawGlacierDays = props.rawGlacierAfterDays ?? 365;
    if (rawIaDays < 30) {
      throw new Error(`rawInfrequentAccessAfterDays must be at least 30 (S3 minimum), got ${rawIaDays}`);
    }
    if (rawGlacierDays <= rawIaDays) {
      throw new Error(
        `rawGlacierAfterDays (${rawGlacierDays}) must be greater than rawInfrequentAccessAfterDays (${rawIaDays})`,
      );
    }
    for (const [name, days] of [
      ['rawExpirationDays', props.rawExpirationDays],
      ['rejectsExpirationDays', props.rejectsExpirationDays],
    ] as const) {
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) {
        throw new Error(`${name} must be a whole number of days, at least 1, got ${days}`);
      }
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;
    const noncurrentExpiration = Duration.days(props.noncurrentVersionExpirationDays ?? 90);
    const replacedExpiration = Duration.days(props.replacedVersionExpirationDays ?? 7);
    // S3 server access logs are delivered under a bucket policy, not the legacy log-delivery ACL, so
    // the log bucket can disable ACLs (cfn-lint W3045); set here so it holds whatever the app's context.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    const key = new Key(this, 'Key', {
      description: 'Customer 360 data lake: S3 zones, Athena results, Glue logs and bookmarks',
      enableKeyRotation: true,
      removalPolicy,
    });
    // Glue writes its job logs to CloudWatch Logs encrypted with this key (security configuration).
    key.grantEncryptDecrypt(new ServicePrincipal(`logs.${Stack.of(this).region}.amazonaws.com`));
    this.key = key;

    const accessLogs = new Bucket(this, 'AccessLogsBucket', {
      // S3 server access logging can only deliver to a bucket encrypted with S3-managed keys.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'expire-logs', expiration: Duration.days(props.accessLogsExpirationDays ?? 365) },
      ],
      removalPolicy,
      autoDeleteObjects,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log bucket itself; logging it to itself would loop and to another bucket would only move the finding.',
    });
    this.accessLogsBucket = accessLogs;

    const dataBucket = (
      bucketId: string,
      logPrefix: string,
      extra: Partial<ConstructorParameters<typeof Bucket>[2]>,
    ) =>
      new Bucket(this, bucketId, {
        encryption: BucketEncryption.KMS,
        encryptionKey: key,
        bucketKeyEnabled: true,
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: logPrefix,
        removalPolicy,
        autoDeleteObjects,
        ...extra,
      });

    // Every versioned bucket gets the same clean-up: noncurrent versions expire, and the delete
    // marker left once a key's last noncurrent version has gone is removed (otherwise every emptied
    // partition leaves a marker behind that slows LIST and is never cleaned up), and abandoned
    // multipart uploads stop being billed.
    const versionCleanup = (noncurrentVersionExpiration: Duration): LifecycleRule => ({
      noncurrentVersionExpiration,
      expiredObjectDeleteMarker: true,
      abortIncompleteMultipartUploadAfter: Duration.days(7),
    });

    this.rawBucket = dataBucket('RawBucket', 'raw/', {
      versioned: true,
      lifecycleRules: [
        {
          id: 'tier-raw-data',
          transitions: [
            { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(rawIaDays) },
            {
              storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(rawGlacierDays),
            },
          ],
        },
        { id: 'expire-old-versions', ...versionCleanup(noncurrentExpiration) },
        // An expired object becomes a noncurrent version, which the rule above removes later (erasure
        // deletes the versions it rewrites itself; see docs/operations.md, "Retention").
        ...(props.rawExpirationDays === undefined
          ? []
          : rawTables.map(
              (table): LifecycleRule => ({
                id: `expire-raw-${table.location.replace(/\/$/, '').replaceAll('/', '-').replaceAll('_', '-')}`,
                prefix: table.location,
                expiration: Duration.days(props.rawExpirationDays ?? 0),
              }),
            )),
      ],
    });
    const rewriteZoneRules = [{ id: 'expire-replaced-partitions', ...versionCleanup(replacedExpiration) }];
    this.stageBucket = dataBucket('StageBucket', 'stage/', {
      versioned: true,
      lifecycleRules: [
        ...rewriteZoneRules,
        ...(props.rejectsExpirationDays === undefined
          ? []
          : [
              {
                id: 'expire-rejects',
                prefix: stageRejects.location,
                expiration: Duration.days(props.rejectsExpirationDays),
              },
            ]),
      ],
    });
    this.analyticsBucket = dataBucket('AnalyticsBucket', 'analytics/', {
      versioned: true,
      lifecycleRules: rewriteZoneRules,
    });
    this.athenaResultsBucket = dataBucket('AthenaResultsBucket', 'athena-results/', {
      lifecycleRules: [
        {
          id: 'expire-query-results',
          expiration: Duration.days(props.athenaResultsExpirationDays ?? 30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
  }

  /** The bucket that holds a zone's tables. */
  public bucketFor(zone: Zone): IBucket {
    switch (zone) {
      case 'raw':
        return this.rawBucket;
      case 'stage':
        return this.stageBucket;
      case 'analytics':
        return this.analyticsBucket;
    }
  }

  /** Read access to a zone's objects, including decryption with the lake key. */
  public grantReadZone(grantee: IGrantable, zone: Zone) {
    return this.bucketFor(zone).grantRead(grantee);
  }

  /** Read and write access to a zone's objects, including encryption with the lake key. */
  public grantReadWriteZone(grantee: IGrantable, zone: Zone) {
    return this.bucketFor(zone).grantReadWrite(grantee);
  }
}
