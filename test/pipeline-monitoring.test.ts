import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../lib/config/load.js';
import {
  PipelineMonitoring,
  PUBLISHED_METRIC_NAME,
  PUBLISHED_METRIC_NAMESPACE,
} from '../lib/constructs/pipeline-monitoring.js';
import { synthStack } from './helpers/stack.js';

type Statement = {
  Effect: string;
  Principal?: { Service?: string | string[] };
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
};

const services = (s: Statement): string[] => [s.Principal?.Service ?? []].flat();
describe('PipelineMonitoring in the default stack', () => {
  const { stack, template } = synthStack();
  const ref = (construct: { node: { defaultChild?: unknown } }) => ({
    Ref: stack.getLogicalId(construct.node.defaultChild as never),
  });
  const topic = ref(stack.pipeline.notificationTopic);
  const stateMachine = ref(stack.pipeline.stateMachine);
  const queueArn = {
    'Fn::GetAtt': [stack.getLogicalId(stack.monitoring.deadLetterQueue.node.defaultChild as never), 'Arn'],
  };
  const ruleArn = {
    'Fn::GetAtt': [stack.getLogicalId(stack.monitoring.executionEndedRule.node.defaultChild as never), 'Arn'],
  };

  it('notifies the topic when an execution of this state machine ends FAILED, TIMED_OUT or ABORTED', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [stateMachine] },
      },
      Targets: [
        Match.objectLike({
          Arn: topic,
          DeadLetterConfig: { Arn: queueArn },
          InputTransformer: {
            InputPathsMap: {
              'detail-status': '$.detail.status',
              'detail-executionArn': '$.detail.executionArn',
              'detail-startDate': '$.detail.startDate',
              time: '$.time',
            },
            InputTemplate: Match.stringLikeRegexp(
              '"status":<detail-status>,"execution":<detail-executionArn>,"startedAtEpochMillis":<detail-startDate>.*start a new execution with the same input.*redrive would resume at the final Fail state',
            ),
          },
        }),
      ],
    });
  });

  it('uses no placeholder in the message that the transformer does not define', () => {
    // EventBridge rejects a template naming an undefined <placeholder> at deploy time.
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0];
    const transformer = rule?.Properties.Targets[0].InputTransformer;
    const used = [...String(transformer.InputTemplate).matchAll(/<([^>]+)>/g)].map((m) => m[1]);
    expect(used.sort()).toEqual(Object.keys(transformer.InputPathsMap).sort());
  });

  it('lets EventBridge and CloudWatch use the topic key, only for SNS topics of the account', () => {
    const [key] = Object.values(
      template.findResources('AWS::KMS::Key', {
        Properties: { Description: Match.stringLikeRegexp('data lake') },
      }),
    );
    const statements = key?.Properties.KeyPolicy.Statement as Statement[];
    const publish = statements.find((s) => services(s).includes('events.amazonaws.com'));
    expect(publish).toMatchObject({
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      Condition: {
        StringLike: {
          'kms:EncryptionContext:aws:sns:topicArn': {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':sns:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':*',
              ],
            ],
          },
        },
      },
    });
    expect(services(publish as Statement).sort()).toEqual([
      'cloudwatch.amazonaws.com',
      'events.amazonaws.com',
    ]);
    // No other statement lets either service use the lake key unconditionally.
    const open = statements.filter(
      (s) =>
        s.Condition === undefined &&
        services(s).some((p) => p === 'events.amazonaws.com' || p === 'cloudwatch.amazonaws.com'),
    );
    expect(open).toEqual([]);
  });

  it('allows only this rule and this account’s alarms to publish to the topic', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topic],
      PolicyDocument: {
        // arrayWith keeps order: the alarms' statement is added before the rule's.
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
          }),
        ]),
      },
    });
  });

  it('alarms after 30 hourly periods without a publish, counting missing data as breaching', () => {
    // 30 one-hour periods, all 30 breaching: fires 30 hours after the last hour with a publish.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: PUBLISHED_METRIC_NAMESPACE,
      MetricName: PUBLISHED_METRIC_NAME,
      Dimensions: [{ Name: 'Pipeline', Value: { 'Fn::Select': [6, { 'Fn::Split': [':', stateMachine] }] } }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 30,
      DatapointsToAlarm: 30,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [topic],
      OKActions: [topic],
    });
    expect(PUBLISHED_METRIC_NAMESPACE).toBe('Customer360');
    expect(PUBLISHED_METRIC_NAME).toBe('RunsPublished');
  });

  it('keeps undeliverable alerts and starts in a KMS-encrypted, TLS-only queue and alarms on its first message', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitoringDeadLetterKey'), 'Arn'] },
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      AlarmActions: [topic],
    });
  });
});

describe('alerts.maxHoursWithoutPublish', () => {
  it('sets the number of hourly periods of the no-publish alarm', () => {
    const { template } = synthStack({ alerts: { maxHoursWithoutPublish: 50 } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: PUBLISHED_METRIC_NAME,
      EvaluationPeriods: 50,
      DatapointsToAlarm: 50,
    });
  });

  const problems = (input: unknown): readonly string[] => {
    try {
      parseConfig(input, 'test.json');
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error('expected the configuration to be rejected');
  };

  it.each([
    [0, 'alerts.maxHoursWithoutPublish: got 0; expected at least 1 hour'],
    [169, 'alerts.maxHoursWithoutPublish: got 169; expected at most 168 hours'],
    [1.5, 'alerts.maxHoursWithoutPublish: got 1.5; expected a whole number of hours'],
  ])('rejects %s', (value, message) => {
    expect(problems({ alerts: { maxHoursWithoutPublish: value } }).join('\n')).toContain(message);
  });

  it('defaults to 30 hours', () => {
    expect(parseConfig({}).alerts.maxHoursWithoutPublish).toBe(30);
  });
});

describe('PipelineMonitoring on its own', () => {
  const machine = (stack: Stack) =>
    new sfn.StateMachine(stack, 'Machine', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
    });

  it('refuses a topic whose key policy it cannot change, naming both', () => {
    const stack = new Stack(new App(), 'Imported');
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111122223333:key/abcd');
    const topic = new sns.Topic(stack, 'Topic', { masterKey: key });
    expect(
      () => new PipelineMonitoring(stack, 'Monitoring', { stateMachine: machine(stack), topic }),
    ).toThrow(/Imported\/Topic is encrypted with a key whose policy this stack cannot change/);
  });

  it('rejects an alarm window CloudWatch cannot evaluate', () => {
    const stack = new Stack(new App(), 'TooLong');
    const topic = new sns.Topic(stack, 'Topic');
    expect(
      () =>
        new PipelineMonitoring(stack, 'Monitoring', {
          stateMachine: machine(stack),
          topic,
          maxHoursWithoutPublish: 200,
        }),
    ).toThrow('maxHoursWithoutPublish: got 200; expected a whole number of hours from 1 to 168');
  });

  it('adds no key statement for an unencrypted topic', () => {
    const stack = new Stack(new App(), 'Plain');
    const topic = new sns.Topic(stack, 'Topic');
    new PipelineMonitoring(stack, 'Monitoring', { stateMachine: machine(stack), topic });
    const keys = Template.fromStack(stack).findResources('AWS::KMS::Key');
    // The one key is the dead-letter queue's own.
    expect(Object.keys(keys)).toEqual([expect.stringMatching(/^MonitoringDeadLetterKey/)]);
  });
});
