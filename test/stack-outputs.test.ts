import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthStack } from './helpers/stack.js';

/*
 * The outputs a BI client is configured from (docs/power-bi.md). Each is checked against the resource it
 * describes in the same template, not against a copy of the expression that builds it, so an output
 * that drifts from the workgroup or the buckets fails here.
 */
describe('Customer360Stack outputs for BI clients', () => {
  const { template } = synthStack();
  const json = template.toJSON();
  const workGroups = Object.values(template.findResources('AWS::Athena::WorkGroup'));
  const workGroupConfiguration = workGroups[0]?.Properties.WorkGroupConfiguration;
  const resultConfiguration = workGroupConfiguration?.ResultConfiguration;

  it('has one workgroup, and it enforces its result configuration', () => {
    expect(workGroups).toHaveLength(1);
    expect(workGroupConfiguration.EnforceWorkGroupConfiguration).toBe(true);
  });

  it('outputs the workgroup and the analytics database by name', () => {
    template.hasOutput('AthenaWorkGroup', { Value: 'customer360-pipeline' });
    template.hasOutput('AnalyticsDatabase', { Value: 'customer360_analytics' });
  });

  it('outputs exactly the result location the workgroup enforces', () => {
    template.hasOutput('AthenaResultsLocation', {
      Value: resultConfiguration.OutputLocation,
      Description: Match.stringLikeRegexp('S3OutputLocation'),
    });
  });

  it('outputs the bucket that location is in, and the location is its results/ prefix', () => {
    // s3://<bucket>/results/ as CloudFormation joins it: ['s3://', {Ref: bucket}, '/results/'].
    const [separator, parts] = resultConfiguration.OutputLocation['Fn::Join'];
    expect(separator).toBe('');
    expect(parts).toHaveLength(3);
    expect(parts[0]).toBe('s3://');
    expect(parts[2]).toBe('/results/');
    template.hasOutput('AthenaResultsBucketName', { Value: parts[1] });
    expect(json.Resources[parts[1].Ref].Type).toBe('AWS::S3::Bucket');
  });

  it('outputs the key that encrypts the query results and the analytics bucket', () => {
    const keyArn = resultConfiguration.EncryptionConfiguration.KmsKey;
    expect(keyArn).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    expect(json.Resources[keyArn['Fn::GetAtt'][0]].Type).toBe('AWS::KMS::Key');
    template.hasOutput('LakeKeyArn', { Value: keyArn, Description: Match.stringLikeRegexp('kms:Decrypt') });

    const analyticsBucket = json.Resources[json.Outputs.AnalyticsBucketName.Value.Ref];
    expect(analyticsBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      expect.objectContaining({
        ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
      }),
    ]);
  });

  it('names the workgroup and the database after catalogPrefix', () => {
    const { template: prefixed } = synthStack({ catalogPrefix: 'acme_c360' });
    prefixed.hasOutput('AthenaWorkGroup', { Value: 'acme-c360-pipeline' });
    prefixed.hasOutput('AnalyticsDatabase', { Value: 'acme_c360_analytics' });
    prefixed.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'acme-c360-pipeline' });
    prefixed.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: Match.objectLike({ Name: 'acme_c360_analytics' }),
    });
  });
});
