/**
 * The Bedrock model segment summaries use by default, and the token prices the run's cost is worked
 * from. Looked up on 2026-12-02 with the project's search tool; each entry says where.
 *
 * Why Amazon Nova Lite (`amazon.nova-lite-v1:0`):
 * - The former default, `anthropic.claude-3-haiku-20240307-v1:0`, reached end of life on Bedrock on
 *   2026-09-10 (its model card: "Model EOL date: 2026-09-10", lifecycle Legacy); calls to it fail.
 * - Nova Lite's Bedrock model card reads "Model lifecycle: Active", Converse supported, and lists an
 *   in-Region model id on bedrock-runtime, so no inference profile is needed (`us.amazon.nova-lite-v1:0`
 *   is the optional US cross-Region profile):
 *   https://docs.aws.eu/bedrock/latest/userguide/model-card-amazon-nova-lite.html
 * - "Supported models and model features" lists Amazon Nova Lite with Converse and system prompts:
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-supported-models-features.html
 * - It is among the cheapest text models on Bedrock ($0.06 / $0.24 per million tokens). Nova Micro is
 *   cheaper still, but we could read its Active state only second-hand (a 2026-09-01 digest of the AWS
 *   lifecycle page), not on its card; Nova 2 Lite is the newer family but only through cross-Region
 *   profiles and at about five times the price. A summary run makes one call per segment (a few dozen),
 *   so the difference is fractions of a cent; we chose the model whose state we read first-hand.
 *
 * A model's state changes over time: check it with `aws bedrock get-foundation-model
 * --model-identifier amazon.nova-lite-v1:0 --query modelDetails.modelLifecycle.status` (see
 * docs/summaries.md) and change `bedrock.modelId` before its EOL date.
 */
export const DEFAULT_BEDROCK_MODEL_ID = 'amazon.nova-lite-v1:0';

export interface ModelPrice {
  /** US dollars per 1,000 input tokens, on-demand, us-east-1. */
  readonly inputPer1k: number;
  /** US dollars per 1,000 output tokens, on-demand, us-east-1. */
  readonly outputPer1k: number;
  /** The day the figure was read. */
  readonly readOn: string;
  /** Where the figure was read. */
  readonly source: string;
}

const READ_ON = '2026-12-02';
const BEDROCK_PRICING = 'https://aws.amazon.com/bedrock/pricing/';

const novaLite: ModelPrice = {
  inputPer1k: 0.00006,
  outputPer1k: 0.00024,
  readOn: READ_ON,
  source: `${BEDROCK_PRICING} as quoted by https://pristren.com/blog/amazon-nova-micro-ultra-fast and https://vercel.com/ai-gateway/models/nova-micro (Nova Lite $0.06 / $0.24 per 1M tokens)`,
};

const novaMicro: ModelPrice = {
  inputPer1k: 0.000035,
  outputPer1k: 0.00014,
  readOn: READ_ON,
  source: `${BEDROCK_PRICING} as quoted by https://techdailyfeed.com/understanding-amazon-bedrock-pricing-from-on-demand-to-fine-tuning ($0.000035 / $0.00014 per 1K tokens)`,
};

/**
 * Prices by the exact model id the Converse call names. Cross-Region inference costs what the source
 * Region charges ("There's no additional charge for using cross-region inference", Bedrock pricing
 * page), so a Nova geo profile carries the in-Region price. Claude 4.5 models are not listed: their
 * Regional and global endpoints are priced differently (10%), which a single figure would hide; add
 * the id you use, with its source, before pointing `bedrock.modelId` at it.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'amazon.nova-lite-v1:0': novaLite,
  'us.amazon.nova-lite-v1:0': novaLite,
  'amazon.nova-micro-v1:0': novaMicro,
  'us.amazon.nova-micro-v1:0': novaMicro,
};

/** The price of `modelId`, or undefined when this file does not know it. */
export function priceOf(modelId: string): ModelPrice | undefined {
  return Object.hasOwn(MODEL_PRICES, modelId) ? MODEL_PRICES[modelId] : undefined;
}

/**
 * US dollars for `usage` on `modelId`. Throws for a model without a price rather than report a cost of
 * zero: a run's recorded cost must not be silently wrong.
 */
export function costOf(modelId: string, usage: { inputTokens: number; outputTokens: number }): number {
  const price = priceOf(modelId);
  if (price === undefined) {
    throw new Error(
      `bedrock.modelId: no price for "${modelId}" in lib/summaries/models.ts MODEL_PRICES; expected one of ${Object.keys(MODEL_PRICES).join(', ')} (add the model's price and its source there)`,
    );
  }
  return (usage.inputTokens / 1000) * price.inputPer1k + (usage.outputTokens / 1000) * price.outputPer1k;
}
