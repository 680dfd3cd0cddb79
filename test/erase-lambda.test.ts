import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  eraseCustomersInputSchema,
  runningPipelines,
  s3ErasureStore,
  stateMachineInputSchema,
} from '../lambdas/erase-customers/handler.js';

/*
 * The S3 side of the erase-customers function, which cannot run locally: listing every version page by
 * page, deleting by version id (a plain DELETE would only add a delete marker), putting a rewritten file.
 */
describe('the S3 erasure store', () => {
  it('lists every version and delete marker across pages, with the markers of the next page', async () => {
    const s3 = mockClient(S3Client);
    s3.on(ListObjectVersionsCommand, { Bucket: 'lake', Prefix: 'orders/' })
      .resolves({
        IsTruncated: true,
        NextKeyMarker: 'orders/a',
        NextVersionIdMarker: 'v2',
        Versions: [
          { Key: 'orders/a', VersionId: 'v1', IsLatest: false },
          { Key: 'orders/a', VersionId: 'v2', IsLatest: true },
        ],
      })
      .on(ListObjectVersionsCommand, {
        Bucket: 'lake',
        Prefix: 'orders/',
        KeyMarker: 'orders/a',
        VersionIdMarker: 'v2',
      })
      .resolves({
        IsTruncated: false,
        DeleteMarkers: [{ Key: 'orders/b', VersionId: 'm1', IsLatest: true }],
        Versions: [{ Key: 'orders/b', VersionId: 'v3', IsLatest: false }],
      });
    const store = s3ErasureStore(s3 as unknown as S3Client, mkdtempSync(join(tmpdir(), 'c360-erase-s3-')));
    expect(await store.listVersions('lake', 'orders/')).toEqual([
      { key: 'orders/a', versionId: 'v1', isLatest: false, isDeleteMarker: false },
      { key: 'orders/a', versionId: 'v2', isLatest: true, isDeleteMarker: false },
      { key: 'orders/b', versionId: 'v3', isLatest: false, isDeleteMarker: false },
      { key: 'orders/b', versionId: 'm1', isLatest: true, isDeleteMarker: true },
    ]);
    expect(s3.commandCalls(ListObjectVersionsCommand)).toHaveLength(2);
  });

  it('deletes a version by its id and returns the id of a version it puts', async () => {
    const s3 = mockClient(S3Client);
    s3.on(DeleteObjectCommand).resolves({});
    s3.on(PutObjectCommand).resolves({ VersionId: 'v9' });
    const dir = mkdtempSync(join(tmpdir(), 'c360-erase-s3-'));
    const store = s3ErasureStore(s3 as unknown as S3Client, dir);
    await store.deleteVersion('lake', 'orders/a', 'v1');
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'lake',
      Key: 'orders/a',
      VersionId: 'v1',
    });
    const path = store.scratchPath('lake', 'orders/a');
    (await import('node:fs')).writeFileSync(path, 'PAR1');
    expect(await store.upload('lake', 'orders/a', path)).toBe('v9');
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'lake',
      Key: 'orders/a',
    });
  });
});

describe('the function input', () => {
  it('takes ids, who and why from the state machine input, never an email', () => {
    expect(stateMachineInputSchema.safeParse({ customerIds: ['263'], requestedBy: 'dpo' }).success).toBe(
      true,
    );
    expect(stateMachineInputSchema.safeParse({ customerIds: ['263'], emails: ['a@b.c'] }).success).toBe(
      false,
    );
    expect(stateMachineInputSchema.safeParse({ customerIds: [] }).success).toBe(false);
    expect(
      eraseCustomersInputSchema.safeParse({
        action: 'erase_table',
        erasureId: 'erasure-1',
        table: 'stage.orders; drop',
      }).success,
    ).toBe(false);
  });

  it('sees running pipeline executions across pages', async () => {
    const sfn = mockClient(SFNClient);
    sfn
      .on(ListExecutionsCommand, { stateMachineArn: 'arn:p', statusFilter: 'RUNNING' })
      .resolves({ executions: [{ executionArn: 'arn:e1', startDate: new Date(0) } as never], nextToken: 't' })
      .on(ListExecutionsCommand, { stateMachineArn: 'arn:p', statusFilter: 'RUNNING', nextToken: 't' })
      .resolves({ executions: [] });
    const running = await runningPipelines(sfn as unknown as SFNClient, 'arn:p').listRunning();
    expect(running.map((r) => r.executionId)).toEqual(['arn:e1']);
  });
});
