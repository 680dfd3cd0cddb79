import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { SNSClient } from '@aws-sdk/client-sns';
import { ALERTS_TABLE } from '../alerts/dedupe.js';

/*
 * Local stand-ins for the services the notification Lambdas call: SNS and SES v2 write their messages
 * to the outbox (JSON lines, as the failure notification already does); the sent-alerts table is a real
 * DynamoDB table in dynalite. The cores call `send(command)` as on AWS and never know the difference.
 */

type Sendable = { input: Record<string, unknown>; constructor: { name: string } };

function outboxClient(outboxFile: string, channel: 'sns' | 'ses', idField: string) {
  let sequence = 0;
  return {
    async send(command: Sendable) {
      mkdirSync(dirname(outboxFile), { recursive: true });
      appendFileSync(
        outboxFile,
        `${JSON.stringify({ channel, at: new Date().toISOString(), command: command.constructor.name, ...command.input })}\n`,
      );
      sequence += 1;
      return { [idField]: `local-${channel}-${Date.now()}-${sequence}` };
    },
  };
}

/** SNS `PublishCommand`s to the outbox. */
export function outboxSns(outboxFile: string): SNSClient {
  return outboxClient(outboxFile, 'sns', 'MessageId') as unknown as SNSClient;
}

/** SES v2 `SendEmailCommand`s to the outbox. */
export function outboxSes(outboxFile: string): SESv2Client {
  return outboxClient(outboxFile, 'ses', 'MessageId') as unknown as SESv2Client;
}

/** Creates the sent-alerts table as the stack declares it, unless it exists. */
export async function ensureAlertsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: ALERTS_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: ALERTS_TABLE.partitionKey, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/** The local alerts topic's ARN, as the outbox records it. */
export const LOCAL_ALERTS_TOPIC_ARN = 'arn:aws:sns:local:000000000000:customer360-alerts';
/** The local sent-alerts table. */
export const LOCAL_ALERTS_TABLE = 'customer360-sent-alerts';
