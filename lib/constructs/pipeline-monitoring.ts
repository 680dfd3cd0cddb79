import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  PUBLISHED_METRIC_DIMENSION,
  PUBLISHED_METRIC_NAME,
  PUBLISHED_METRIC_NAMESPACE,
} from '../pipeline/metrics.js';

/**
 * The custom metric a run emits when it has published: value 1, unit Count, namespace
 * {@link PUBLISHED_METRIC_NAMESPACE}, name {@link PUBLISHED_METRIC_NAME}, and exactly one dimension,
 * {@link PUBLISHED_METRIC_DIMENSION} = the state machine's name. CloudWatch matches the whole
 * dimension set: a data point that also carries Powertools' default `service` dimension is another
 * metric and never reaches the alarm, so emit it as plain EMF or drop the default dimensions.
 */
export { PUBLISHED_METRIC_DIMENSION, PUBLISHED_METRIC_NAME, PUBLISHED_METRIC_NAMESPACE };

/** The Step Functions statuses that end an execution without success. */
export const ABNORMAL_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export interface PipelineMonitoringProps {
  /** The pipeline's state machine: its status changes are watched and its name is the metric dimension. */
  readonly stateMachine: sfn.IStateMachine;
  /**
   * The topic every alert goes to. When it is KMS-encrypted, its key must be one whose policy this
   * stack can change (a key defined in the app), so EventBridge and CloudWatch can be let in.
   */
  readonly topic: sns.ITopic;
  /**
   * Hours without a published run after which the "no run published" alarm fires (1 to 168).
   * @default 30
   */
  readonly maxHoursWithoutPublish?: number;
  /**
   * What happens to the dead-letter queue's key when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Alerts for what the state machine's own catch never sees, all sent to the pipeline's topic:
 *
 * - An execution that ends FAILED, TIMED_OUT or ABORTED: an EventBridge rule on the execution status
 *   change of this state machine. The execution's own timeout and an abort never reach a catch; a
 *   failure inside the notification step itself, or a States.Runtime error in a Pass or Choice, ends
 *   the run without the definition's message. A failure the catch did handle gives two messages:
 *   the step's (state, cause, run date) and this one (status, execution).
 * - No run published for `maxHoursWithoutPublish` hours: an alarm on the custom metric
 *   {@link PUBLISHED_METRIC_NAME} that the publish step emits, with missing data counted as breaching,
 *   so a pipeline that stopped running at all (schedule disabled or deleted, executions that never
 *   start, the quality gate stopping every day) is noticed too.
 * - Something that could not be delivered: {@link deadLetterQueue} receives the failure notices
 *   EventBridge could not publish, and is meant as the schedule's dead-letter queue too, so a scheduled
 *   start that EventBridge Scheduler could not make (missing permission, state machine deleted,
 *   throttling past the retries) lands there; an alarm fires on its first message. Its state shows in
 *   the CloudWatch console even when the topic itself is what could not be reached. The schedule lives
 *   in the Pipeline construct, which builds it before this construct exists; it is wired by passing
 *   this queue as `deadLetterQueue` of its Scheduler target. Until it is, a schedule that cannot start
 *   a run is still caught by the no-publish alarm, only later (after `maxHoursWithoutPublish` hours)
 *   and without the reason, which the queue's messages carry.
 */
export class PipelineMonitoring extends Construct {
  /** The rule that reports executions ending FAILED, TIMED_OUT or ABORTED. */
  public readonly executionEndedRule: events.Rule;
  /** Fires when no run has published for `maxHoursWithoutPublish` hours. */
  public readonly noPublishAlarm: cloudwatch.Alarm;
  /** Dead-letter queue for failure notices and scheduled starts that could not be delivered. */
  public readonly deadLetterQueue: sqs.Queue;
  /** Fires as soon as the dead-letter queue holds a message. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    const { stateMachine, topic } = props;
    const maxHours = props.maxHoursWithoutPublish ?? 30;
    if (!Number.isInteger(maxHours) || maxHours < 1 || maxHours > 168) {
      throw new Error(
        `maxHoursWithoutPublish: got ${maxHours}; expected a whole number of hours from 1 to 168 (CloudWatch evaluates an alarm over at most 7 days)`,
      );
    }
    allowServicesToPublish(topic);

    // A key of its own: EventBridge needs the key policy to let events.amazonaws.com encrypt into an
    // encrypted dead-letter queue, and that grant should not reach the lake's data key.
    const deadLetterKey = new kms.Key(this, 'DeadLetterKey', {
      description: 'Customer 360: undelivered pipeline alerts and scheduled starts',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    deadLetterKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeDeadLetterDelivery',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    const deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: deadLetterKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queueNotice =
      'It is itself the dead-letter queue of the execution-status rule and of the pipeline schedule; a message here is the alert (its depth alarm notifies the topic), and a queue behind it would only move the finding.';
    Validations.of(deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `cdk-nag counts only queues and Lambda functions as users of a dead-letter queue. ${queueNotice}`,
    });
    Validations.of(deadLetterQueue).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: queueNotice });
    this.deadLetterQueue = deadLetterQueue;

    const rule = new events.Rule(this, 'ExecutionEndedRule', {
      description: 'Customer 360: a pipeline execution ended FAILED, TIMED_OUT or ABORTED',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...ABNORMAL_EXECUTION_STATUSES],
          stateMachineArn: [stateMachine.stateMachineArn],
        },
      },
    });
    // Not events-targets' SnsTopic: its grant puts an unconditioned events.amazonaws.com statement on
    // the topic's key. The permissions this target needs are granted below and in allowServicesToPublish.
    rule.addTarget({
      bind: () => ({
        arn: topic.topicArn,
        targetResource: topic,
        input: events.RuleTargetInput.fromObject({
          event: 'pipeline_execution_ended',
          status: events.EventField.fromPath('$.detail.status'),
          execution: events.EventField.fromPath('$.detail.executionArn'),
          startedAtEpochMillis: events.EventField.fromPath('$.detail.startDate'),
          endedAt: events.EventField.fromPath('$.time'),
          retry:
            // No angle brackets here: EventBridge would read them as placeholders of the template.
            'Fix the cause, then start a new execution with the same input (aws stepfunctions describe-execution on the execution above shows it). Do not redrive: a redrive would resume at the final Fail state, not at the step that failed.',
        }),
        deadLetterConfig: { arn: deadLetterQueue.queueArn },
        retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: Duration.hours(6).toSeconds() },
      }),
    });
    const fromThisRule = { ArnEquals: { 'aws:SourceArn': rule.ruleArn } };
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ExecutionEndedRulePublish',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: fromThisRule,
      }),
    );
    deadLetterQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ExecutionEndedRuleDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [deadLetterQueue.queueArn],
        conditions: fromThisRule,
      }),
    );
    this.executionEndedRule = rule;

    const published = new cloudwatch.Metric({
      namespace: PUBLISHED_METRIC_NAMESPACE,
      metricName: PUBLISHED_METRIC_NAME,
      dimensionsMap: { [PUBLISHED_METRIC_DIMENSION]: stateMachineName(stateMachine) },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.hours(1),
    });
    // Hourly periods, all N must breach: the alarm fires N hours after the last hour with a publish.
    this.noPublishAlarm = new cloudwatch.Alarm(this, 'NoPublishAlarm', {
      alarmDescription: `Customer 360: no pipeline run has published for ${maxHours} hours. Check the schedule, the last executions of the state machine and the dead-letter queue; then start an execution with {} (today) or {"runDate": D, "full": true} for a missed day.`,
      metric: published,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      threshold: 1,
      evaluationPeriods: maxHours,
      datapointsToAlarm: maxHours,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription:
        'Customer 360: an alert or a scheduled pipeline start could not be delivered. Read the messages in the dead-letter queue (their attributes carry the error), fix the permission or target, then start the missed execution.',
      metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 1,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const notify = new cwActions.SnsAction(topic);
    for (const alarm of [this.noPublishAlarm, this.deadLetterAlarm]) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }
  }
}

/**
 * Lets EventBridge (the rule's target) and CloudWatch (the alarms' actions) publish to the topic.
 * Both publish as service principals, so an encrypted topic's key policy must grant them
 * kms:GenerateDataKey* and kms:Decrypt (Amazon SNS developer guide, "Enable compatibility between
 * event sources from AWS services and encrypted topics"); an IAM grant cannot, and the key's other
 * statements (CloudWatch Logs, S3) do not cover these principals. The grants are held to SNS topics of
 * this account and region by the encryption context SNS sends with every data key request, so they
 * open none of the lake's S3 data. aws:SourceArn is not used: KMS requests made for EventBridge delivery do
 * not carry it.
 */
function allowServicesToPublish(topic: sns.ITopic): void {
  const key = topic.masterKey;
  if (key !== undefined) {
    const { statementAdded } = key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PipelineAlertsPublishToEncryptedTopic',
        principals: [
          new iam.ServicePrincipal('events.amazonaws.com'),
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
        ],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        // The topic's own ARN cannot be named here (the topic refers to the key: a cycle), so the
        // grant is held to SNS topics of this account and region.
        conditions: {
          StringLike: {
            'kms:EncryptionContext:aws:sns:topicArn': Stack.of(topic).formatArn({
              service: 'sns',
              resource: '*',
              arnFormat: ArnFormat.NO_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    if (!statementAdded) {
      throw new Error(
        `The topic ${topic.node.path} is encrypted with a key whose policy this stack cannot change (${key.node.path}); expected a key defined in the app, so that EventBridge and CloudWatch can be allowed to publish alerts.`,
      );
    }
  }
  // Same-account alarms publish as cloudwatch.amazonaws.com; the topic's own policy (it enforces TLS)
  // must then allow them, scoped to this account's alarms.
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': topic.env.account },
      },
    }),
  );
}

/** The state machine's name, read from its ARN (`arn:...:states:region:account:stateMachine:NAME`). */
function stateMachineName(stateMachine: sfn.IStateMachine): string {
  const name = Arn.split(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  if (name === undefined) throw new Error(`No name in the ARN of ${stateMachine.node.path}`);
  return name;
}
