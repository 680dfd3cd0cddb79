import { readFileSync } from 'node:fs';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { parseConfig } from '../../lib/config/load.js';
import type { LakeStore } from '../../lib/pipeline/queries.js';

/** The keys under an S3 prefix, a page (up to a thousand) at a time. */
export async function* listKeyPages(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<string[]> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    yield (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Empties an S3 prefix, a thousand keys per request. */
export function s3LakeStore(s3: S3Client): LakeStore {
  return {
    async deletePrefix(bucket, prefix) {
      let deleted = 0;
      for await (const page of listKeyPages(s3, bucket, prefix)) {
        const keys = page.map((Key) => ({ Key }));
        if (keys.length > 0) {
          const result = await s3.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }),
          );
          if (result.Errors && result.Errors.length > 0) {
            const first = result.Errors[0];
            throw new Error(
              `Could not delete s3://${bucket}/${first?.Key}: ${first?.Code} ${first?.Message}`,
            );
          }
          deleted += keys.length;
        }
      }
      return deleted;
    },
  };
}

/** A name per zone (bucket or Glue database), as the functions' environment carries them. */
export const zoneNames = z.strictObject({
  raw: z.string().min(1),
  stage: z.string().min(1),
  analytics: z.string().min(1),
});

/** The configuration file bundled with a function, parsed and validated at start-up. */
export const configFile = z
  .string()
  .transform((path) => parseConfig(JSON.parse(readFileSync(path, 'utf8')), path));

/** The Lambda's environment, checked once at start-up: a missing variable fails the cold start. */
export const environmentSchema = z.object({
  // A file bundled with the function, not a variable: Lambda caps all variables at 4 KB together, and a
  // real block list of emails alone passes that.
  CONFIG_FILE: configFile,
  DATABASES: z.string().transform((text) => zoneNames.parse(JSON.parse(text))),
  BUCKETS: z.string().transform((text) => zoneNames.parse(JSON.parse(text))),
  SQL_ROOT: z.string().min(1),
});
