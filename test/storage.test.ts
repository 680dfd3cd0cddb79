import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DataLakeStorage } from '../lib/constructs/data-lake-storage.js';
import { synthStack } from './helpers/stack.js';

const kmsEncrypted = {
  BucketEncryption: {
    ServerSideEncryptionConfiguration: [
      Match.objectLike({
        ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() },
        BucketKeyEnabled: true,
      }),
    ],
  },
};

describe('DataLakeStorage with defaults', () => {
  const { template } = synthStack();

  it('creates a rotated customer-managed key', () => {
    // The stack's other key is the monitoring dead-letter queue's own.
    const lakeKeys = template.findResources('AWS::KMS::Key', {
      Properties: { Description: Match.stringLikeRegexp('data lake'), EnableKeyRotation: true },
    });
    expect(Object.keys(lakeKeys)).toHaveLength(1);
  });

  it('creates four KMS-encrypted data buckets and one access-log bucket', () => {
    template.resourceCountIs('AWS::S3::Bucket', 5);
    expect(Object.keys(template.findResources('AWS::S3::Bucket', { Properties: kmsEncrypted }))).toHaveLength(
      4,
    );
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });

  it('blocks public access on every bucket', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    for (const bucket of Object.values(buckets)) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
  });

  it('denies non-TLS requests on every bucket', () => {
    template.resourceCountIs('AWS::S3::BucketPolicy', 5);
    const policies = template.findResources('AWS::S3::BucketPolicy', {
      Properties: {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      },
    });
    expect(Object.keys(policies)).toHaveLength(5);
  });

  it('versions the raw bucket and tiers it to infrequent access, then Glacier Instant Retrieval', () => {
    // Instant Retrieval (GLACIER_IR), not Flexible Retrieval (GLACIER): a rebuild reads all of raw.
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'tier-raw-data',
            Status: 'Enabled',
            Transitions: [
              { StorageClass: 'STANDARD_IA', TransitionInDays: 90 },
              { StorageClass: 'GLACIER_IR', TransitionInDays: 365 },
            ],
          }),
        ]),
      },
      LoggingConfiguration: { LogFilePrefix: 'raw/', DestinationBucketName: Match.anyValue() },
    });
    const glacierFlexible = Object.values(template.findResources('AWS::S3::Bucket')).filter((bucket) =>
      JSON.stringify(bucket.Properties.LifecycleConfiguration ?? {}).includes('"GLACIER"'),
    );
    expect(glacierFlexible).toEqual([]);
  });

  it('cleans up old versions, delete markers and multipart uploads on every versioned bucket', () => {
    // Raw keeps overwritten versions for storage.noncurrentVersionExpirationDays (90); stage and
    // analytics, rewritten by every run and rebuildable from raw, for 7 days.
    const cleanup = (prefix: string, days: number) =>
      template.hasResourceProperties('AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { LogFilePrefix: prefix },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              Status: 'Enabled',
              NoncurrentVersionExpiration: { NoncurrentDays: days },
              ExpiredObjectDeleteMarker: true,
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            }),
          ]),
        },
      });
    cleanup('raw/', 90);
    cleanup('stage/', 7);
    cleanup('analytics/', 7);
    const versioned = template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
    expect(Object.keys(versioned)).toHaveLength(3);
  });

  it('takes the raw noncurrent version expiry from storage.noncurrentVersionExpirationDays', () => {
    const { template: custom } = synthStack({ storage: { noncurrentVersionExpirationDays: 400 } });
    custom.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'raw/' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            NoncurrentVersionExpiration: { NoncurrentDays: 400 },
            ExpiredObjectDeleteMarker: true,
          }),
        ]),
      },
    });
  });

  it('delivers access logs under a bucket policy, with ACLs disabled on the log bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    for (const bucket of Object.values(template.findResources('AWS::S3::Bucket'))) {
      expect(bucket.Properties.AccessControl).toBeUndefined();
    }
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
          }),
        ]),
      },
    });
  });

  it('expires Athena query results', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Id: 'expire-query-results', ExpirationInDays: 30 })],
      },
      LoggingConfiguration: { LogFilePrefix: 'athena-results/' },
    });
  });

  it('sends server access logs of every data bucket to the log bucket', () => {
    const logged = template.findResources('AWS::S3::Bucket', {
      Properties: { LoggingConfiguration: { DestinationBucketName: Match.anyValue() } },
    });
    expect(Object.keys(logged)).toHaveLength(4);
  });

  it('retains buckets and the key when the stack is deleted', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key']) {
      for (const resource of Object.values(template.findResources(type))) {
        expect(resource.DeletionPolicy).toBe('Retain');
        expect(resource.UpdateReplacePolicy).toBe('Retain');
      }
    }
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('DataLakeStorage for a throwaway dev stack', () => {
  const { template } = synthStack({ destroyDataOnRemoval: true });

  it('deletes and empties buckets only behind the explicit flag', () => {
    for (const resource of Object.values(template.findResources('AWS::S3::Bucket'))) {
      expect(resource.DeletionPolicy).toBe('Delete');
    }
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 5);
  });
});

describe('DataLakeStorage props', () => {
  it('takes lifecycle days from props', () => {
    const stack = new Stack(new App(), 'Props');
    new DataLakeStorage(stack, 'Storage', { rawInfrequentAccessAfterDays: 45, rawGlacierAfterDays: 200 });

    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Transitions: [
              { StorageClass: 'STANDARD_IA', TransitionInDays: 45 },
              { StorageClass: 'GLACIER_IR', TransitionInDays: 200 },
            ],
          }),
        ]),
      },
    });
  });

  it('takes the stage and analytics version expiry from props', () => {
    const stack = new Stack(new App(), 'Replaced');
    new DataLakeStorage(stack, 'Storage', { replacedVersionExpirationDays: 3 });
    const matching = Template.fromStack(stack).findResources('AWS::S3::Bucket', {
      Properties: {
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({
              Id: 'expire-replaced-partitions',
              NoncurrentVersionExpiration: { NoncurrentDays: 3 },
            }),
          ],
        },
      },
    });
    expect(Object.keys(matching)).toHaveLength(2);
  });

  it('rejects Glacier before infrequent access in one clear error', () => {
    const stack = new Stack(new App(), 'Conflict');
    expect(
      () =>
        new DataLakeStorage(stack, 'Storage', {
          rawInfrequentAccessAfterDays: 100,
          rawGlacierAfterDays: 50,
          removalPolicy: RemovalPolicy.RETAIN,
        }),
    ).toThrow('rawGlacierAfterDays (50) must be greater than rawInfrequentAccessAfterDays (100)');
  });

  it('rejects infrequent access sooner than S3 allows', () => {
    const stack = new Stack(new App(), 'TooSoon');
    expect(() => new DataLakeStorage(stack, 'Storage', { rawInfrequentAccessAfterDays: 10 })).toThrow(
      'rawInfrequentAccessAfterDays must be at least 30',
    );
  });
});
