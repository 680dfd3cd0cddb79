import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { z } from 'zod';
import type { ControlStore, Executions } from '../../lib/pipeline/run-control.js';
import { listKeyPages, zoneNames } from '../prepare-query/handler.js';

/** The run-control objects in S3, written with conditional requests (If-Match / If-None-Match). */
export function s3ControlStore(s3: S3Client, bucket: string): ControlStore {
  return {
    async read(key) {
      try {
        const found = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = (await found.Body?.transformToString('utf-8')) ?? '';
        return { body, etag: found.ETag ?? '' };
      } catch (error) {
        if (error instanceof S3ServiceException && error.name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    async write(key, body, expectedEtag) {
      try {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentType: 'application/json',
            ...(expectedEtag === undefined ? { IfNoneMatch: '*' } : { IfMatch: expectedEtag }),
          }),
        );
        return true;
      } catch (error) {
        // 412: another writer changed it; 409: a concurrent conditional write is in flight.
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 412 || status === 409) return false;
        throw error;
      }
    },
    async list(prefix) {
      const keys: string[] = [];
      for await (const page of listKeyPages(s3, bucket, prefix)) keys.push(...page);
      return keys;
    },
    async delete(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
  };
}

/** This state machine's executions, from Step Functions. */
export function stepFunctionsExecutions(sfn: SFNClient, stateMachineArn: string): Executions {
  return {
    async listRunning() {
      const running: { executionId: string; startTime: string; input: unknown }[] = [];
      let token: string | undefined;
      do {
        const page = await sfn.send(
          new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken: token }),
        );
        for (const execution of page.executions ?? []) {
          if (!execution.executionArn) continue;
          const described = await sfn.send(
            new DescribeExecutionCommand({ executionArn: execution.executionArn }),
          );
          running.push({
            executionId: execution.executionArn,
            startTime: (execution.startDate ?? new Date(0)).toISOString(),
            input: JSON.parse(described.input ?? '{}'),
          });
        }
        token = page.nextToken;
      } while (token);
      return running;
    },
    async isRunning(executionId) {
      try {
        const described = await sfn.send(new DescribeExecutionCommand({ executionArn: executionId }));
        return described.status === 'RUNNING';
      } catch (error) {
        if (error instanceof ExecutionDoesNotExist) return false;
        throw error;
      }
    },
  };
}

/** The Lambda's environment, checked once at start-up: a missing variable fails the cold start. */
export const environmentSchema = z.object({
  BUCKETS: z.string().transform((text) => zoneNames.parse(JSON.parse(text))),
  STATE_MACHINE_ARN: z.string().startsWith('arn:'),
  CONFIG_FILE: z.string().min(1),
  PIPELINE_NAME: z.string().min(1),
});
