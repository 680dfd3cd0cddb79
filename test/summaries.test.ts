import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
  ModelNotReadyException,
  ServiceUnavailableException,
  ThrottlingException,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import type {} from 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { type SegmentFigures, segmentFiguresSchema } from '../lib/summaries/figures.js';
import { costOf, DEFAULT_BEDROCK_MODEL_ID, MODEL_PRICES } from '../lib/summaries/models.js';
import {
  buildPrompt,
  findPersonalData,
  modelOutputSchema,
  summarizeSegments,
  templateSummary,
} from '../lib/summaries/summarize.js';

expect.extend(allCustomMatcher);

const bedrockMock = mockClient(BedrockRuntimeClient);
beforeEach(() => bedrockMock.reset());

const MODEL = 'amazon.nova-lite-v1:0';

const champions: SegmentFigures = {
  segmentType: 'rfm_segment',
  segment: 'Champions',
  customers: 1234,
  share: 0.1234,
  avgRecencyDays: 12.25,
  avgPurchaseDays: 8.2,
  avgLifetimeRevenue: 1234.5,
  avgLifetimeValue: 2000,
  avgChurnProbability: 0.08,
  churnRiskShare: 0.05,
  primaryChannelMix: { web: 0.4, store: 0.35, app: 0.25 },
  previous: { customers: 1200, avgLifetimeValue: 1988, avgChurnProbability: 0.09 },
};

const lapsed: SegmentFigures = {
  segmentType: 'lifecycle_stage',
  segment: 'Lapsed',
  customers: 300,
  share: 0.03,
  avgRecencyDays: 400,
  avgPurchaseDays: 1.5,
  avgLifetimeRevenue: 80,
  avgLifetimeValue: null,
  avgChurnProbability: null,
  churnRiskShare: 0.9,
  primaryChannelMix: {},
  previous: { customers: 350, avgLifetimeValue: null, avgChurnProbability: null },
};

const goodAnswer = {
  headline: 'Champions keep buying',
  description: 'A loyal, high-value group that buys often and recently.',
  recommendedActions: ['Offer early access to new collections.'],
};

function answer(text: string, usage = { inputTokens: 250, outputTokens: 90 }): ConverseCommandOutput {
  return {
    $metadata: {},
    output: { message: { role: 'assistant', content: [{ text }] } },
    stopReason: 'end_turn',
    usage: { ...usage, totalTokens: usage.inputTokens + usage.outputTokens },
    metrics: { latencyMs: 100 },
  };
}

const client = () => new BedrockRuntimeClient({ region: 'us-east-1', maxAttempts: 1 });
const noSleep = async () => {};

describe('the Converse request', () => {
  it('is exactly the model, the system text, the figures and maxTokens/temperature 0', async () => {
    bedrockMock.on(ConverseCommand).resolves(answer(JSON.stringify(goodAnswer)));
    const result = await summarizeSegments([champions], {
      bedrock: client(),
      modelId: MODEL,
      maxOutputTokens: 700,
      sleep: noSleep,
    });

    // Written out by hand from the figures: 0.1234 -> 12.3%, 12.25 days -> 12.3 (half away from zero),
    // +34 customers, ltv 2000 - 1988 = +12.00, churn (0.08 - 0.09) x 100 = -1.0 points.
    const system = [
      'You write short summaries of customer segments for the marketing team of a retailer.',
      'You receive aggregate figures for one segment. There is no data about individual customers: never',
      'write a name, email address, phone number, postal address, IP address or customer id.',
      'Base every statement on the figures given; where a figure is unknown, do not guess it.',
      'Answer with one JSON object and nothing else (no prose, no code fence), of exactly this shape:',
      '{"headline": string of at most 120 characters,',
      ' "description": string of at most 800 characters,',
      ' "recommendedActions": array of 1 to 4 strings of at most 200 characters each}',
    ].join('\n');
    const user = [
      'Segment: Champions',
      'Segmentation: RFM segment',
      'Customers: 1,234 (12.3% of all customers)',
      'Average days since last order: 12.3',
      'Average number of purchase days: 8.2',
      'Average lifetime revenue: 1,234.50',
      'Average modelled customer lifetime value: 2,000.00',
      'Average churn probability: 8.0%',
      'Share of the segment at churn risk: 5.0%',
      'Primary channel mix: web 40.0%, store 35.0%, app 25.0%',
      'Change since the last run: customers +34; average lifetime value +12.00; average churn probability -1.0 points',
    ].join('\n');
    expect(bedrockMock).toHaveReceivedCommandTimes(ConverseCommand, 1);
    expect(bedrockMock).toHaveReceivedCommandWith(ConverseCommand, {
      modelId: 'amazon.nova-lite-v1:0',
      system: [{ text: system }],
      messages: [{ role: 'user', content: [{ text: user }] }],
      inferenceConfig: { maxTokens: 700, temperature: 0 },
    });
    // Nothing else rides along (no tool config, no extra fields).
    expect(Object.keys(bedrockMock.commandCalls(ConverseCommand)[0]?.args[0].input ?? {}).sort()).toEqual([
      'inferenceConfig',
      'messages',
      'modelId',
      'system',
    ]);
    expect(result.summaries).toEqual([
      {
        segmentType: 'rfm_segment',
        segment: 'Champions',
        ...goodAnswer,
        source: 'bedrock',
        fallbackReason: null,
        modelId: MODEL,
        inputTokens: 250,
        outputTokens: 90,
      },
    ]);
  });

  it('defaults to 800 output tokens and the default model is Nova Lite', async () => {
    bedrockMock.on(ConverseCommand).resolves(answer(JSON.stringify(goodAnswer)));
    await summarizeSegments([champions], { bedrock: client(), modelId: DEFAULT_BEDROCK_MODEL_ID });
    expect(bedrockMock).toHaveReceivedCommandWith(ConverseCommand, {
      modelId: 'amazon.nova-lite-v1:0',
      inferenceConfig: { maxTokens: 800, temperature: 0 },
    });
  });
});

describe('no personal data reaches the prompt', () => {
  interface CustomerRow {
    id: string;
    name: string;
    email: string;
    phone: string;
    ip: string;
    recencyDays: number;
    purchaseDays: number;
    revenue: number;
    clv: number;
    churnProbability: number;
    churnRisk: boolean;
    channel: string;
  }
  const rows: CustomerRow[] = [
    {
      id: 'cust-000417',
      name: 'Ada Lovelace',
      email: 'ada.lovelace@example.com',
      phone: '+44 20 7946 0958',
      ip: '203.0.113.7',
      recencyDays: 10,
      purchaseDays: 9,
      revenue: 1500,
      clv: 2400,
      churnProbability: 0.05,
      churnRisk: false,
      channel: 'web',
    },
    {
      id: 'cust-000933',
      name: 'Grace Hopper',
      email: 'grace@navy.example.org',
      phone: '(415) 555-0199',
      ip: '2001:db8::8a2e:370:7334',
      recencyDays: 20,
      purchaseDays: 7,
      revenue: 900,
      clv: 1600,
      churnProbability: 0.15,
      churnRisk: true,
      channel: 'store',
    },
    {
      id: 'cust-001200',
      name: 'Alan Turing',
      email: 'alan.turing@example.net',
      phone: '+1-212-555-0147',
      ip: '198.51.100.23',
      recencyDays: 30,
      purchaseDays: 5,
      revenue: 600,
      clv: 1100,
      churnProbability: 0.1,
      churnRisk: false,
      channel: 'web',
    },
  ];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  /** What the segment-figures query computes, done here from customer rows that carry personal data. */
  function aggregate(segment: string, members: CustomerRow[], allCustomers: number): SegmentFigures {
    const mix: Record<string, number> = {};
    for (const r of members) mix[r.channel] = (mix[r.channel] ?? 0) + 1 / members.length;
    return segmentFiguresSchema.parse({
      segmentType: 'rfm_segment',
      segment,
      customers: members.length,
      share: members.length / allCustomers,
      avgRecencyDays: mean(members.map((r) => r.recencyDays)),
      avgPurchaseDays: mean(members.map((r) => r.purchaseDays)),
      avgLifetimeRevenue: mean(members.map((r) => r.revenue)),
      avgLifetimeValue: mean(members.map((r) => r.clv)),
      avgChurnProbability: mean(members.map((r) => r.churnProbability)),
      churnRiskShare: members.filter((r) => r.churnRisk).length / members.length,
      primaryChannelMix: mix,
      previous: null,
    });
  }

  it('sends none of the names, emails, phones, IPs or ids, and no id list', async () => {
    bedrockMock.on(ConverseCommand).resolves(answer(JSON.stringify(goodAnswer)));
    const figures = aggregate('Champions', rows, 10);
    await summarizeSegments([figures], { bedrock: client(), modelId: MODEL, sleep: noSleep });

    const calls = bedrockMock.commandCalls(ConverseCommand);
    expect(calls).toHaveLength(1);
    const sent = JSON.stringify(calls.map((c) => c.args[0].input));
    // The aggregate did arrive (3 customers, 30.0%; mean recency (10+20+30)/3 = 20.0; mean CLV 1,700.00).
    expect(sent).toContain('Customers: 3 (30.0% of all customers)');
    expect(sent).toContain('Average days since last order: 20.0');
    expect(sent).toContain('Average modelled customer lifetime value: 1,700.00');
    for (const r of rows) {
      for (const value of [r.id, r.name, r.email, r.phone, r.ip, r.name.split(' ')[1] ?? r.name]) {
        expect(sent).not.toContain(value);
      }
      expect(sent.replace(/\D/g, '')).not.toContain(r.phone.replace(/\D/g, ''));
    }
    expect(sent).not.toMatch(/cust-\d+/);
    expect(findPersonalData(sent)).toBeNull();
  });

  it('cannot be handed an id list or a row field: the figures schema is strict', () => {
    const withIds = { ...champions, sampleCustomerIds: ['cust-000417', 'cust-000933'] };
    const withEmail = {
      ...champions,
      previous: { ...champions.previous, topEmail: 'ada.lovelace@example.com' },
    };
    expect(segmentFiguresSchema.safeParse(withIds).success).toBe(false);
    expect(segmentFiguresSchema.safeParse(withEmail).success).toBe(false);
    expect(segmentFiguresSchema.safeParse(champions).success).toBe(true);
  });

  it('does not call Bedrock when a free-text label carries personal data', async () => {
    const leaky = { ...champions, primaryChannelMix: { 'ada.lovelace@example.com': 1 } };
    const result = await summarizeSegments([leaky], { bedrock: client(), modelId: MODEL, sleep: noSleep });
    expect(bedrockMock).toHaveReceivedCommandTimes(ConverseCommand, 0);
    expect(result.summaries[0]?.source).toBe('template');
    expect(result.summaries[0]?.fallbackReason).toBe(
      'personal data in the figures: email; Bedrock not called',
    );
  });
});

describe('malformed answers fall back to the template, with the reason', () => {
  const cases: [string, ConverseCommandOutput, string][] = [
    ['invalid JSON', answer('Here is the summary: {"headline": "Champions'), 'invalid JSON'],
    [
      'missing field',
      answer(JSON.stringify({ headline: 'h', description: 'd' })),
      'missing or invalid fields: recommendedActions',
    ],
    [
      'extra field',
      answer(JSON.stringify({ ...goodAnswer, customerIds: ['cust-1'] })),
      'missing or invalid fields: (root)',
    ],
    [
      'too long',
      answer(JSON.stringify({ ...goodAnswer, description: 'x'.repeat(801) })),
      'too long: description',
    ],
    [
      'too many actions',
      answer(JSON.stringify({ ...goodAnswer, recommendedActions: ['a', 'b', 'c', 'd', 'e'] })),
      'too long: recommendedActions',
    ],
    [
      'email echoed',
      answer(JSON.stringify({ ...goodAnswer, description: 'Write to ada.lovelace@example.com today.' })),
      'personal data echoed: email',
    ],
    [
      'phone echoed',
      answer(JSON.stringify({ ...goodAnswer, recommendedActions: ['Call +44 20 7946 0958 to follow up.'] })),
      'personal data echoed: phone number',
    ],
    [
      'IP echoed',
      answer(JSON.stringify({ ...goodAnswer, headline: 'Visits from 203.0.113.7' })),
      'personal data echoed: IP address',
    ],
    [
      'cut off',
      { ...answer('{"headline": "Champ'), stopReason: 'max_tokens' },
      'output cut off at maxTokens',
    ],
  ];

  it.each(cases)('%s', async (_name, response, reason) => {
    bedrockMock.on(ConverseCommand).resolves(response);
    const result = await summarizeSegments([champions], {
      bedrock: client(),
      modelId: MODEL,
      sleep: noSleep,
    });
    expect(result.summaries).toEqual([
      { ...templateSummary(champions, reason), modelId: MODEL, inputTokens: 250, outputTokens: 90 },
    ]);
    // The rejected answer was still billed, so it still counts.
    expect(result.usage.inputTokens).toBe(250);
    expect(result.usage.outputTokens).toBe(90);
  });

  it('accepts JSON inside a ```json fence', async () => {
    bedrockMock.on(ConverseCommand).resolves(answer(`\`\`\`json\n${JSON.stringify(goodAnswer)}\n\`\`\``));
    const result = await summarizeSegments([champions], {
      bedrock: client(),
      modelId: MODEL,
      sleep: noSleep,
    });
    expect(result.summaries[0]).toMatchObject({ ...goodAnswer, source: 'bedrock', fallbackReason: null });
  });

  it('does not flag ordinary figures, dates or times as personal data', () => {
    for (const text of [
      '2026-12-02',
      '1,234.56 and 2,000.00',
      '12.5 days',
      'at 12:30',
      '40.0% web',
      '1.5-2.5',
    ]) {
      expect(findPersonalData(text)).toBeNull();
    }
    expect(findPersonalData('call 4155550100')).toBe('phone number');
    expect(findPersonalData('from fe80::1ff:fe23:4567:890a')).toBe('IP address');
  });
});

describe('throttling and errors', () => {
  const throttled = () => new ThrottlingException({ message: 'Too many requests', $metadata: {} });

  it('retries throttling with exponential backoff and full jitter, then uses the answer', async () => {
    bedrockMock
      .on(ConverseCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(new ServiceUnavailableException({ message: 'busy', $metadata: {} }))
      .rejectsOnce(new ModelNotReadyException({ message: 'warming', $metadata: {} }))
      .resolves(answer(JSON.stringify(goodAnswer)));
    const sleeps: number[] = [];
    const result = await summarizeSegments([champions], {
      bedrock: client(),
      modelId: MODEL,
      maxAttempts: 4,
      baseDelayMs: 500,
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    // Delay before retry n = round(0.5 x 500 x 2^(n-1)): 250, 500, 1000.
    expect(sleeps).toEqual([250, 500, 1000]);
    expect(bedrockMock).toHaveReceivedCommandTimes(ConverseCommand, 4);
    expect(result.summaries[0]).toMatchObject({ source: 'bedrock', fallbackReason: null });
  });

  it('caps the backoff at 20 seconds', async () => {
    bedrockMock.on(ConverseCommand).rejects(throttled());
    const sleeps: number[] = [];
    await summarizeSegments([champions], {
      bedrock: client(),
      modelId: MODEL,
      maxAttempts: 4,
      baseDelayMs: 8000,
      random: () => 1,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    // 8000, 16000, then min(20000, 32000).
    expect(sleeps).toEqual([8000, 16000, 20000]);
  });

  it('falls back after maxAttempts throttled calls', async () => {
    bedrockMock.on(ConverseCommand).rejects(throttled());
    const sleeps: number[] = [];
    const result = await summarizeSegments([champions], {
      bedrock: client(),
      modelId: MODEL,
      maxAttempts: 3,
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(bedrockMock).toHaveReceivedCommandTimes(ConverseCommand, 3);
    expect(sleeps).toEqual([250, 500]);
    expect(result.summaries).toEqual([
      {
        ...templateSummary(champions, 'throttled after 3 attempts (ThrottlingException)'),
        modelId: MODEL,
      },
    ]);
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0, estimatedCostUsd: 0 });
  });

  it('falls back at once on any other error, with its name', async () => {
    bedrockMock.on(ConverseCommand).rejects(new AccessDeniedException({ message: 'no', $metadata: {} }));
    const sleeps: number[] = [];
    const result = await summarizeSegments([champions, lapsed], {
      bedrock: client(),
      modelId: MODEL,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(bedrockMock).toHaveReceivedCommandTimes(ConverseCommand, 2);
    expect(sleeps).toEqual([]);
    expect(result.summaries.map((s) => [s.segment, s.source, s.fallbackReason])).toEqual([
      ['Champions', 'template', 'AccessDeniedException'],
      ['Lapsed', 'template', 'AccessDeniedException'],
    ]);
  });

  it('falls back, without looping, when a call resolves to nothing', async () => {
    // aws-sdk-client-mock answers an unconfigured command with undefined; the real client never does,
    // but the loop must end either way.
    const result = await summarizeSegments([champions], {
      bedrock: client(),
      modelId: MODEL,
      sleep: noSleep,
    });
    expect(bedrockMock).toHaveReceivedCommandTimes(ConverseCommand, 1);
    expect(result.summaries[0]?.fallbackReason).toBe('no answer from Bedrock');
  });

  it('without a Bedrock client writes templates with no fallback reason and no model', async () => {
    const result = await summarizeSegments([champions, lapsed], { bedrock: undefined, modelId: MODEL });
    expect(result.summaries).toEqual([templateSummary(champions, null), templateSummary(lapsed, null)]);
    expect(result.summaries.every((s) => s.source === 'template' && s.modelId === null)).toBe(true);
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0, estimatedCostUsd: 0 });
  });

  it('refuses, before any call, a model whose price it does not know', async () => {
    await expect(
      summarizeSegments([champions], {
        bedrock: client(),
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      }),
    ).rejects.toThrow(/^bedrock\.modelId: no price for "anthropic\.claude-3-haiku-20240307-v1:0"/);
    expect(bedrockMock).toHaveReceivedCommandTimes(ConverseCommand, 0);
  });
});

describe('the template', () => {
  it('is exact for Champions (worked by hand from the figures)', () => {
    expect(templateSummary(champions, null)).toEqual({
      segmentType: 'rfm_segment',
      segment: 'Champions',
      headline: 'Champions: 1,234 customers (12.3%)',
      description:
        '1,234 customers, 12.3% of all customers. On average: last order 12.3 days ago, 8.2 purchase days, ' +
        'lifetime revenue 1,234.50, modelled lifetime value 2,000.00, churn probability 8.0%. ' +
        '5.0% of the segment is flagged by the purchase-gap churn rule. Main channels: web 40.0%, store 35.0%, app 25.0%. ' +
        'Since the last run: customers +34, average lifetime value +12.00, average churn probability -1.0 points ' +
        '(from 1,200 customers).',
      recommendedActions: [
        'Keep this segment engaged with regular, relevant offers through web, its main channel (40.0%).',
      ],
      source: 'template',
      fallbackReason: null,
      modelId: null,
      inputTokens: 0,
      outputTokens: 0,
    });
  });

  it('names the churn model when it, not the rule, puts retention first', () => {
    // The rule flags nobody (0%), the model expects most to leave (86.5% >= the 50% threshold).
    const summary = templateSummary({ ...lapsed, churnRiskShare: 0, avgChurnProbability: 0.865 }, null);
    expect(summary.recommendedActions[0]).toBe(
      'Prioritise retention: contact this segment with a win-back offer before it lapses (mean churn probability 86.5%).',
    );
  });

  it('skips unknown figures and puts retention first for a shrinking, at-risk segment', () => {
    const s = templateSummary(lapsed, 'invalid JSON');
    expect(s.description).toBe(
      '300 customers, 3.0% of all customers. On average: last order 400.0 days ago, 1.5 purchase days, ' +
        'lifetime revenue 80.00. 90.0% of the segment is flagged by the purchase-gap churn rule. ' +
        'Since the last run: customers -50 (from 350 customers).',
    );
    expect(s.recommendedActions).toEqual([
      'Prioritise retention: contact this segment with a win-back offer before it lapses (90.0% flagged by the churn rule).',
      'Find out why the segment shrank by 50 customers since the last run.',
    ]);
    expect(s.fallbackReason).toBe('invalid JSON');
  });

  it('is deterministic, whatever the order of the channel mix, and within the model bounds', () => {
    const reordered = { ...champions, primaryChannelMix: { app: 0.25, web: 0.4, store: 0.35 } };
    expect(templateSummary(reordered, null)).toEqual(templateSummary(champions, null));
    expect(buildPrompt(reordered)).toEqual(buildPrompt(champions));
    for (const f of [champions, lapsed, { ...champions, segment: 'x'.repeat(120) }]) {
      const s = templateSummary(f, null);
      const { headline, description, recommendedActions } = s;
      expect(modelOutputSchema.safeParse({ headline, description, recommendedActions }).success).toBe(true);
    }
  });
});

describe('usage and cost', () => {
  it('sums the tokens of every answer, rejected ones included, and prices them', async () => {
    bedrockMock
      .on(ConverseCommand)
      .resolvesOnce(answer(JSON.stringify(goodAnswer), { inputTokens: 250, outputTokens: 90 }))
      .resolvesOnce(answer('not json', { inputTokens: 100, outputTokens: 20 }))
      .resolvesOnce(answer(JSON.stringify(goodAnswer), { inputTokens: 310, outputTokens: 120 }));
    const result = await summarizeSegments([champions, lapsed, { ...champions, segment: 'Loyal' }], {
      bedrock: client(),
      modelId: MODEL,
      sleep: noSleep,
    });
    expect(result.summaries.map((s) => [s.source, s.inputTokens, s.outputTokens])).toEqual([
      ['bedrock', 250, 90],
      ['template', 100, 20],
      ['bedrock', 310, 120],
    ]);
    // 660 input x $0.00006/1K = $0.0000396; 230 output x $0.00024/1K = $0.0000552; sum $0.0000948.
    expect(result.usage.inputTokens).toBe(660);
    expect(result.usage.outputTokens).toBe(230);
    expect(result.usage.estimatedCostUsd).toBeCloseTo(0.0000948, 12);
  });

  it('costOf works per 1,000 tokens, the same for a geo profile, and refuses unknown models', () => {
    // Nova Micro, one million each: 1000 x $0.000035 + 1000 x $0.00014 = $0.035 + $0.14 = $0.175.
    expect(costOf('amazon.nova-micro-v1:0', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBeCloseTo(
      0.175,
      12,
    );
    // Nova Lite: 2,000 in = $0.00012, 500 out = $0.00012; $0.00024.
    expect(costOf('us.amazon.nova-lite-v1:0', { inputTokens: 2000, outputTokens: 500 })).toBeCloseTo(
      0.00024,
      12,
    );
    expect(costOf(MODEL, { inputTokens: 0, outputTokens: 0 })).toBe(0);
    expect(() => costOf('toString', { inputTokens: 1, outputTokens: 1 })).toThrow(/no price for "toString"/);
    for (const price of Object.values(MODEL_PRICES)) {
      expect(price.source).toMatch(/^https:\/\/aws\.amazon\.com\/bedrock\/pricing\//);
    }
  });
});
