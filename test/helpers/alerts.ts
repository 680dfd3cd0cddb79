import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { allCustomMatcher, type BaseMatcher } from 'aws-sdk-client-mock-vitest';
import { expect } from 'vitest';
import { ALERTS_TABLE } from '../../lib/alerts/dedupe.js';

declare module 'vitest' {
  // The type parameter must match vitest's own declaration exactly, `any` included.
  // biome-ignore lint/suspicious/noExplicitAny: mirrors vitest's Matchers<T = any>
  interface Matchers<T = any> extends BaseMatcher<T> {}
}

// aws-sdk-client-mock-vitest's matchers (toHaveReceivedCommandWith...), registered as its README says.
expect.extend(allCustomMatcher);

/** The alerts dedupe table as the stack declares it: partition key `alert_key` (string), on demand. */
export async function createAlertsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: ALERTS_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: ALERTS_TABLE.partitionKey, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}
