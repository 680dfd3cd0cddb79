import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { RetentionLake } from '../../lib/retention/retention.js';
import { configFile, s3LakeStore, zoneNames } from '../prepare-query/handler.js';

/** The stage and analytics buckets as retention reads and empties them. */
export function s3RetentionLake(s3: S3Client): RetentionLake {
  const lake = s3LakeStore(s3);
  return {
    async listFolders(bucket, prefix) {
      const folders: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            Delimiter: '/',
            ContinuationToken: token,
          }),
        );
        for (const common of page.CommonPrefixes ?? []) {
          if (common.Prefix?.startsWith(prefix)) folders.push(common.Prefix.slice(prefix.length));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return folders;
    },
    deletePrefix: (bucket, prefix) => lake.deletePrefix(bucket, prefix),
  };
}

/** The Lambda's environment, checked once at start-up: a missing variable fails the cold start. */
export const environmentSchema = z.object({
  CONFIG_FILE: configFile,
  BUCKETS: z.string().transform((text) => zoneNames.parse(JSON.parse(text))),
  STATE_MACHINE_ARN: z.string().startsWith('arn:'),
});
