import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import type { SegmentFigures } from './figures.js';
import { costOf } from './models.js';

/** One summary per segment, as `segment_summaries` stores it. */
export interface SegmentSummary {
  readonly segmentType: SegmentFigures['segmentType'];
  readonly segment: string;
  readonly headline: string;
  readonly description: string;
  readonly recommendedActions: string[];
  /** `template` is deterministic text from the figures: locally without Bedrock, or a fallback. */
  readonly source: 'bedrock' | 'template';
  /** Why a template stands where Bedrock was asked; null when Bedrock answered or was not asked. */
  readonly fallbackReason: string | null;
  /** The model asked (also on a fallback, to say which model failed); null when none was asked. */
  readonly modelId: string | null;
  /** Tokens billed for this segment, including a rejected answer's. */
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** Bounds on what the model may write; the template stays inside them too. */
export const HEADLINE_MAX = 120;
export const DESCRIPTION_MAX = 800;
export const ACTION_MAX = 200;
export const ACTIONS_MAX = 4;

export const modelOutputSchema = z.strictObject({
  headline: z.string().trim().min(1).max(HEADLINE_MAX),
  description: z.string().trim().min(1).max(DESCRIPTION_MAX),
  recommendedActions: z.array(z.string().trim().min(1).max(ACTION_MAX)).min(1).max(ACTIONS_MAX),
});
export type ModelOutput = z.infer<typeof modelOutputSchema>;

// ---------------------------------------------------------------------------------------------------
// Personal data in free text.
//
// The prompt carries aggregates only, so a personal value in the answer means the model invented or
// recalled one; either way it must not reach a table people read. The patterns are deliberately
// broad: a false positive costs a template summary, a false negative leaks a contact detail.
// - email: local@domain.tld (RFC 5322 is wider, but this is the shape that is ever written in prose);
// - IPv4: four dotted octets 0..255; IPv6: eight colon-separated hex groups, or a `::` compression
//   after at least one group (so clock times such as 12:30 do not match);
// - phone number: an optional +country code and (area) code, then digit groups joined by a space,
//   dot or hyphen, or one unbroken run, holding 9 to 15 digits in all (E.164 allows at most 15). Nine
//   is the floor so that ISO dates (8 digits) and figures such as 12.5 or 1,234.56 do not match; it
//   misses 7-digit local numbers, which the email and IP checks do not cover either: accepted.
// ---------------------------------------------------------------------------------------------------

const EMAIL = /[A-Z0-9._%+-]+@[A-Z0-9-]+(?:\.[A-Z0-9-]+)*\.[A-Z]{2,}/i;
const IPV4 = /\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b/;
const IPV6 = /\b(?:[0-9A-F]{1,4}:){7}[0-9A-F]{1,4}\b|\b(?:[0-9A-F]{1,4}:){1,6}:(?:[0-9A-F]{1,4}\b)?/i;
const PHONE_CANDIDATE = /(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,5}){1,5}|\+?\d{9,15}/g;

export type PersonalDataKind = 'email' | 'IP address' | 'phone number';

/** The first kind of personal data found in `text`, or null. */
export function findPersonalData(text: string): PersonalDataKind | null {
  if (EMAIL.test(text)) return 'email';
  if (IPV4.test(text) || IPV6.test(text)) return 'IP address';
  for (const match of text.matchAll(PHONE_CANDIDATE)) {
    const digits = match[0].replace(/\D/g, '').length;
    if (digits >= 9 && digits <= 15) return 'phone number';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Figures as text, shared by the prompt and the template so both read the same numbers.
// ---------------------------------------------------------------------------------------------------

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const money = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat('en-US', {
  style: 'percent',
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});
const signed = (formatted: string, value: number) => (value > 0 ? `+${formatted}` : formatted);

const segmentTypeLabel: Record<SegmentFigures['segmentType'], string> = {
  rfm_segment: 'RFM segment',
  kmeans_segment: 'K-Means cluster',
  lifecycle_stage: 'lifecycle stage',
};

/** Channels by share, largest first, ties by name, so the order never depends on the input's. */
function channelsByShare(mix: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(mix).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
}

function changeLines(f: SegmentFigures): string[] {
  const p = f.previous;
  if (p === null) return [];
  const lines = [`customers ${signed(integer.format(f.customers - p.customers), f.customers - p.customers)}`];
  if (f.avgLifetimeValue !== null && p.avgLifetimeValue !== null) {
    const d = f.avgLifetimeValue - p.avgLifetimeValue;
    lines.push(`average lifetime value ${signed(money.format(d), d)}`);
  }
  if (f.avgChurnProbability !== null && p.avgChurnProbability !== null) {
    const d = (f.avgChurnProbability - p.avgChurnProbability) * 100;
    lines.push(`average churn probability ${signed(oneDecimal.format(d), d)} points`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------
// Prompt
// ---------------------------------------------------------------------------------------------------

const SYSTEM_PROMPT = [
  'You write short summaries of customer segments for the marketing team of a retailer.',
  'You receive aggregate figures for one segment. There is no data about individual customers: never',
  'write a name, email address, phone number, postal address, IP address or customer id.',
  'Base every statement on the figures given; where a figure is unknown, do not guess it.',
  'Answer with one JSON object and nothing else (no prose, no code fence), of exactly this shape:',
  `{"headline": string of at most ${HEADLINE_MAX} characters,`,
  ` "description": string of at most ${DESCRIPTION_MAX} characters,`,
  ` "recommendedActions": array of 1 to ${ACTIONS_MAX} strings of at most ${ACTION_MAX} characters each}`,
].join('\n');

/**
 * The Converse system and user text for one segment: the figures as labelled lines, nothing else. The
 * figures are aggregates by construction (see `segmentFiguresSchema`); no row, id or sample is ever
 * passed in, so none can be written out.
 */
export function buildPrompt(f: SegmentFigures): { system: string; user: string } {
  const unknown = 'unknown';
  const channels = channelsByShare(f.primaryChannelMix);
  const change = changeLines(f);
  const lines = [
    `Segment: ${f.segment}`,
    `Segmentation: ${segmentTypeLabel[f.segmentType]}`,
    `Customers: ${integer.format(f.customers)} (${percent.format(f.share)} of all customers)`,
    `Average days since last order: ${f.avgRecencyDays === null ? unknown : oneDecimal.format(f.avgRecencyDays)}`,
    `Average number of purchase days: ${f.avgPurchaseDays === null ? unknown : oneDecimal.format(f.avgPurchaseDays)}`,
    `Average lifetime revenue: ${f.avgLifetimeRevenue === null ? unknown : money.format(f.avgLifetimeRevenue)}`,
    `Average modelled customer lifetime value: ${f.avgLifetimeValue === null ? unknown : money.format(f.avgLifetimeValue)}`,
    `Average churn probability: ${f.avgChurnProbability === null ? unknown : percent.format(f.avgChurnProbability)}`,
    `Share of the segment at churn risk: ${f.churnRiskShare === null ? unknown : percent.format(f.churnRiskShare)}`,
    `Primary channel mix: ${channels.length === 0 ? unknown : channels.map(([c, s]) => `${c} ${percent.format(s)}`).join(', ')}`,
    `Change since the last run: ${f.previous === null ? 'no previous run to compare with' : change.join('; ')}`,
  ];
  return { system: SYSTEM_PROMPT, user: lines.join('\n') };
}

// ---------------------------------------------------------------------------------------------------
// Template
// ---------------------------------------------------------------------------------------------------

/** Churn levels above which the template recommends retention first. */
const HIGH_CHURN_RISK_SHARE = 0.25;
const HIGH_CHURN_PROBABILITY = 0.5;

/**
 * A summary written from the figures alone: the same figures always give the same text. Used locally
 * without Bedrock (`fallbackReason` null) and wherever Bedrock's answer is refused.
 */
export function templateSummary(f: SegmentFigures, fallbackReason: string | null): SegmentSummary {
  // Labels are free text; one that looks like personal data is withheld, not written into a summary.
  const safe = (label: string) => (findPersonalData(label) === null ? label : '(label withheld)');
  const channels = channelsByShare(f.primaryChannelMix).map(([c, s]): [string, number] => [safe(c), s]);
  const averages = [
    f.avgRecencyDays === null ? null : `last order ${oneDecimal.format(f.avgRecencyDays)} days ago`,
    f.avgPurchaseDays === null ? null : `${oneDecimal.format(f.avgPurchaseDays)} purchase days`,
    f.avgLifetimeRevenue === null ? null : `lifetime revenue ${money.format(f.avgLifetimeRevenue)}`,
    f.avgLifetimeValue === null ? null : `modelled lifetime value ${money.format(f.avgLifetimeValue)}`,
    f.avgChurnProbability === null ? null : `churn probability ${percent.format(f.avgChurnProbability)}`,
  ].filter((s): s is string => s !== null);
  const change = changeLines(f);
  const sentences = [
    `${integer.format(f.customers)} customers, ${percent.format(f.share)} of all customers.`,
    averages.length === 0 ? null : `On average: ${averages.join(', ')}.`,
    f.churnRiskShare === null
      ? null
      : `${percent.format(f.churnRiskShare)} of the segment is flagged by the purchase-gap churn rule.`,
    channels.length === 0
      ? null
      : `Main channels: ${channels
          .slice(0, 3)
          .map(([c, s]) => `${c} ${percent.format(s)}`)
          .join(', ')}.`,
    f.previous === null
      ? 'No previous run to compare with.'
      : `Since the last run: ${change.join(', ')} (from ${integer.format(f.previous.customers)} customers).`,
  ].filter((s): s is string => s !== null);

  const atRisk =
    (f.churnRiskShare !== null && f.churnRiskShare >= HIGH_CHURN_RISK_SHARE) ||
    (f.avgChurnProbability !== null && f.avgChurnProbability >= HIGH_CHURN_PROBABILITY);
  const top = channels[0];
  const actions = [
    atRisk
      ? `Prioritise retention: contact this segment with a win-back offer before it lapses (${retentionReason(f)}).`
      : `Keep this segment engaged with regular, relevant offers${top === undefined ? '' : ` through ${top[0]}, its main channel (${percent.format(top[1])})`}.`,
  ];
  if (f.previous !== null && f.customers < f.previous.customers) {
    actions.push(
      `Find out why the segment shrank by ${integer.format(f.previous.customers - f.customers)} customers since the last run.`,
    );
  }

  return {
    segmentType: f.segmentType,
    segment: f.segment,
    headline: clip(
      `${safe(f.segment)}: ${integer.format(f.customers)} customers (${percent.format(f.share)})`,
      HEADLINE_MAX,
    ),
    description: clip(sentences.join(' '), DESCRIPTION_MAX),
    recommendedActions: actions.map((a) => clip(a, ACTION_MAX)),
    source: 'template',
    fallbackReason,
    modelId: null,
    inputTokens: 0,
    outputTokens: 0,
  };
}

/** Cuts text to `max` characters with an ellipsis; only a very long segment label ever needs it. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------------
// Reading the answer
// ---------------------------------------------------------------------------------------------------

type Parsed = { ok: true; output: ModelOutput } | { ok: false; reason: string };

/** The first text block of a Converse answer, checked: JSON, the shape, the bounds, no personal data. */
export function parseModelAnswer(response: ConverseCommandOutput): Parsed {
  if (response.stopReason === 'max_tokens') return { ok: false, reason: 'output cut off at maxTokens' };
  const block = response.output?.message?.content?.find((c) => typeof c.text === 'string');
  if (block?.text === undefined) return { ok: false, reason: 'no text in the answer' };
  // Models often wrap JSON in a Markdown fence despite being told not to; that much is tolerated.
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(block.text.trim());
  let json: unknown;
  try {
    json = JSON.parse(fenced?.[1] ?? block.text);
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
  const result = modelOutputSchema.safeParse(json);
  if (!result.success) {
    const tooLong = result.error.issues.filter((i) => i.code === 'too_big');
    const issues = tooLong.length > 0 ? tooLong : result.error.issues;
    const fields = [...new Set(issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
    return {
      ok: false,
      reason: tooLong.length > 0 ? `too long: ${fields}` : `missing or invalid fields: ${fields}`,
    };
  }
  const kind = findPersonalData(
    [result.data.headline, result.data.description, ...result.data.recommendedActions].join('\n'),
  );
  if (kind !== null) return { ok: false, reason: `personal data echoed: ${kind}` };
  return { ok: true, output: result.data };
}

// ---------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------

/** Errors Bedrock returns when it is busy rather than wrong: worth another try after a pause. */
export const RETRYABLE_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'ServiceUnavailableException',
  'ModelNotReadyException',
]);

export interface SummarizeDeps {
  /**
   * The Bedrock Runtime client; undefined means no Bedrock (the local default): every segment gets the
   * template with `fallbackReason` null. Build it with `maxAttempts: 1` so that retries (and their
   * count in the fallback reason) are this module's, not the SDK's on top of them.
   */
  readonly bedrock: BedrockRuntimeClient | undefined;
  /** Model or inference profile id, from `bedrock.modelId`. */
  readonly modelId: string;
  /**
   * Ceiling on the tokens one answer may use; the bounded JSON needs about 500.
   * @default 800
   */
  readonly maxOutputTokens?: number;
  /**
   * Calls per segment in all, the first included, before throttling gives way to the template.
   * @default 4
   */
  readonly maxAttempts?: number;
  /**
   * Delay before the first retry; each retry doubles it, with full jitter.
   * @default 500
   */
  readonly baseDelayMs?: number;
  /** Injected for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected for tests, for exact backoff delays. */
  readonly random?: () => number;
  /** Where fallbacks are reported; nothing is logged without one. */
  readonly logger?: Pick<Logger, 'warn'>;
}

export interface SummarizeResult {
  readonly summaries: SegmentSummary[];
  readonly usage: { inputTokens: number; outputTokens: number; estimatedCostUsd: number };
}

/** Backoff ceiling, so a long retry budget does not end in minute-long pauses. */
const MAX_DELAY_MS = 20_000;

/**
 * One summary per segment, in the order given. Each segment is one Converse call (sequential, so a
 * run does not throttle itself); any answer that fails the checks, a call throttled `maxAttempts`
 * times, or any other error gives that segment the template with the reason, and the run goes on.
 */
export async function summarizeSegments(
  figures: readonly SegmentFigures[],
  deps: SummarizeDeps,
): Promise<SummarizeResult> {
  const { bedrock } = deps;
  if (bedrock === undefined) {
    return {
      summaries: figures.map((f) => templateSummary(f, null)),
      usage: { inputTokens: 0, outputTokens: 0, estimatedCostUsd: 0 },
    };
  }
  // Throws for a model without a price: fail before spending anything whose cost could not be recorded.
  costOf(deps.modelId, { inputTokens: 0, outputTokens: 0 });

  const maxAttempts = deps.maxAttempts ?? 4;
  const baseDelay = deps.baseDelayMs ?? 500;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  const summaries: SegmentSummary[] = [];
  let inputTokens = 0;
  let outputTokens = 0;

  for (const f of figures) {
    const fallback = (reason: string, tokensIn: number, tokensOut: number): SegmentSummary => {
      deps.logger?.warn('Segment summary falls back to the template', {
        segmentType: f.segmentType,
        segment: f.segment,
        reason,
      });
      return {
        ...templateSummary(f, reason),
        modelId: deps.modelId,
        inputTokens: tokensIn,
        outputTokens: tokensOut,
      };
    };
    const prompt = buildPrompt(f);
    // The figures are aggregates by type, but a segment label or channel name is free text: check it.
    const inPrompt = findPersonalData(prompt.user);
    if (inPrompt !== null) {
      summaries.push(fallback(`personal data in the figures: ${inPrompt}; Bedrock not called`, 0, 0));
      continue;
    }
    const input: ConverseCommandInput = {
      modelId: deps.modelId,
      system: [{ text: prompt.system }],
      messages: [{ role: 'user', content: [{ text: prompt.user }] }],
      inferenceConfig: { maxTokens: deps.maxOutputTokens ?? 800, temperature: 0 },
    };

    let response: ConverseCommandOutput | undefined;
    let failure: string | undefined;
    for (let attempt = 1; failure === undefined; attempt += 1) {
      try {
        response = await bedrock.send(new ConverseCommand(input));
        break;
      } catch (error) {
        const name = error instanceof Error ? error.name : 'UnknownError';
        if (!RETRYABLE_ERRORS.has(name)) {
          failure = name;
        } else if (attempt >= maxAttempts) {
          failure = `throttled after ${attempt} attempts (${name})`;
        } else {
          // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): spread out the
          // retries of callers that were throttled together.
          await sleep(Math.round(random() * Math.min(MAX_DELAY_MS, baseDelay * 2 ** (attempt - 1))));
        }
      }
    }
    if (response === undefined) {
      summaries.push(fallback(failure ?? 'no answer from Bedrock', 0, 0));
      continue;
    }

    const tokensIn = response.usage?.inputTokens ?? 0;
    const tokensOut = response.usage?.outputTokens ?? 0;
    inputTokens += tokensIn;
    outputTokens += tokensOut;
    const parsed = parseModelAnswer(response);
    if (!parsed.ok) {
      summaries.push(fallback(parsed.reason, tokensIn, tokensOut));
      continue;
    }
    summaries.push({
      segmentType: f.segmentType,
      segment: f.segment,
      headline: parsed.output.headline,
      description: parsed.output.description,
      recommendedActions: parsed.output.recommendedActions,
      source: 'bedrock',
      fallbackReason: null,
      modelId: deps.modelId,
      inputTokens: tokensIn,
      outputTokens: tokensOut,
    });
  }

  return {
    summaries,
    usage: {
      inputTokens,
      outputTokens,
      estimatedCostUsd: costOf(deps.modelId, { inputTokens, outputTokens }),
    },
  };
}

/**
 * Why retention comes first, in the figure that decided it: the churn model's mean probability when it
 * is high (the rule's share can be 0% while the model expects most to leave), else the rule's share.
 */
function retentionReason(f: SegmentFigures): string {
  if (f.avgChurnProbability !== null && f.avgChurnProbability >= HIGH_CHURN_PROBABILITY)
    return `mean churn probability ${percent.format(f.avgChurnProbability)}`;
  return `${percent.format(f.churnRiskShare ?? 0)} flagged by the churn rule`;
}
