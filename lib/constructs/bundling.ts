import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * How every function of the stack is bundled: ESM for Node 24, minified with source maps, and a
 * `require` for the CommonJS dependencies (the AWS SDK's) that esbuild leaves as `require` calls.
 */
export const ESM_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  sourceMap: true,
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const satisfies BundlingOptions;
