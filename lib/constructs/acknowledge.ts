import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges cdk-nag findings on a construct, one finding id at a time, each with its reason (an
 * acknowledged finding without a reason is how a real problem hides).
 */
export function acknowledge(scope: IConstruct, findings: Readonly<Record<string, string>>): void {
  for (const [id, reason] of Object.entries(findings)) {
    if (reason.trim().length < 40)
      throw new Error(`Acknowledgement of ${id} needs a real reason, got "${reason}"`);
    Validations.of(scope).acknowledge({ id, reason });
  }
}

/** The logical id of a construct's CloudFormation resource, as cdk-nag writes it in a finding. */
export function logicalIdOf(construct: IConstruct): string {
  const child = construct.node.defaultChild ?? construct;
  return Stack.of(construct).getLogicalId(child as unknown as import('aws-cdk-lib').CfnElement);
}

/** The IAM5 findings of the S3 and KMS L2 grants' action wildcards, with their reasons. */
export const GRANT_ACTION_WILDCARDS: Readonly<Record<string, string>> = {
  'AwsSolutions-IAM5[Action::s3:GetObject*]':
    'Action wildcard of the S3 L2 read grant (object reads and their versions, tags and ACLs), limited to the buckets named in the same statement.',
  'AwsSolutions-IAM5[Action::s3:GetBucket*]':
    'Action wildcard of the S3 L2 read grant (bucket location and settings Athena checks), limited to the buckets named in the same statement.',
  'AwsSolutions-IAM5[Action::s3:List*]':
    'Action wildcard of the S3 L2 read grant (listing a prefix Athena reads), limited to the buckets named in the same statement.',
  'AwsSolutions-IAM5[Action::kms:ReEncrypt*]':
    'Action wildcard of the KMS L2 encrypt/decrypt grant, on the lake key only (Athena results and the lake are encrypted with it).',
  'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]':
    'Action wildcard of the KMS L2 encrypt/decrypt grant, on the lake key only (Athena results and the lake are encrypted with it).',
};
