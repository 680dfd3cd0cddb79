import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertingProps {
  /** Encrypts the alerts topic and the dedupe table (the lake key). */
  readonly key: kms.IKey;
  /**
   * Email addresses subscribed to the alerts and failure topics; each must confirm its subscription
   * from the email AWS sends.
   * @default none
   */
  readonly emailRecipients?: readonly string[];
  /**
   * What happens to the dedupe table when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where alerts go, and what remembers them: an encrypted, TLS-only SNS topic for fraud and churn-risk
 * alerts (subscriptions filter on the `kind` and `severity` message attributes), email subscriptions
 * for the configured recipients, and a DynamoDB table of the alerts sent (with a TTL), so a rerun or a
 * retry never alerts the same customer for the same reason twice within the window.
 */
export class Alerting extends Construct {
  public readonly alertsTopic: sns.ITopic;
  public readonly dedupeTable: dynamodb.ITable;
  private readonly emailRecipients: readonly string[];

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);
    const topic = new sns.Topic(this, 'Alerts', {
      displayName: 'Customer 360 alerts',
      masterKey: props.key,
      enforceSSL: true,
    });
    this.alertsTopic = topic;
    this.emailRecipients = props.emailRecipients ?? [];
    this.subscribeRecipients(topic);
    // Table, not TableV2: TableV2 with a customer-managed key needs a region-specific stack.
    this.dedupeTable = new dynamodb.Table(this, 'SentAlerts', {
      partitionKey: { name: 'alert_key', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expires_at',
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** Subscribes every email recipient to a topic (the alerts topic; the stack adds the failure topic). */
  subscribeRecipients(topic: sns.ITopic): void {
    for (const address of this.emailRecipients) {
      const subscription = topic.addSubscription(new subscriptions.EmailSubscription(address));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'An email subscription to a person: SNS retries delivery itself, and a dead-letter queue would hold alerts nobody reads; what was alerted stays in the sent-alerts table.',
      });
    }
  }

  /** Publish to the alerts topic (and use its key). */
  grantPublishAlerts(grantee: iam.IGrantable): iam.Grant {
    return this.alertsTopic.grantPublish(grantee);
  }

  /** Read and conditionally write the sent-alerts table. */
  grantDedupe(grantee: iam.IGrantable): iam.Grant {
    return this.dedupeTable.grantReadWriteData(grantee);
  }
}
