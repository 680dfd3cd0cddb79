import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { ObjectStore } from '../../lib/models/parquet.js';
import { configFile, listKeyPages, s3LakeStore } from '../prepare-query/handler.js';

/** The run's model inputs and outputs in S3; the bucket's default KMS key encrypts what is put. */
export function s3ObjectStore(s3: S3Client): ObjectStore {
  const lake = s3LakeStore(s3);
  return {
    async list(bucket, prefix) {
      const keys: string[] = [];
      for await (const page of listKeyPages(s3, bucket, prefix)) keys.push(...page);
      return keys;
    },
    async get(bucket, key) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!object.Body) throw new Error(`s3://${bucket}/${key} has no body`);
      return object.Body.transformToByteArray();
    },
    async put(bucket, key, body) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    deletePrefix: (bucket, prefix) => lake.deletePrefix(bucket, prefix),
  };
}

/** The Lambda's environment, checked once at start-up: a missing variable fails the cold start. */
export const environmentSchema = z.object({
  CONFIG_FILE: configFile,
  ANALYTICS_BUCKET: z.string().min(1),
});
