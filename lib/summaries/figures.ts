import { z } from 'zod';

/**
 * The figures a segment summary is written from: aggregates over a segment's customers, never a row.
 *
 * The schema is strict so that a field nobody reviewed (a sample of ids, a name, an email) cannot ride
 * along into a prompt: anything not listed here is rejected when the Lambda parses its input. Every
 * field is a count, a share, an average or a channel mix; the only free text is the segment's label,
 * which comes from the segment definitions (RFM map, K-Means names, lifecycle stages), not from a
 * customer.
 */
const share = z
  .number()
  .min(0, 'expected a share between 0 and 1')
  .max(1, 'expected a share between 0 and 1');
const nonNegative = z.number().min(0, 'expected a number >= 0');
const count = z.number().int('expected a whole number of customers').min(0, 'expected a count >= 0');

export const segmentTypes = ['rfm_segment', 'kmeans_segment', 'lifecycle_stage'] as const;

export const segmentFiguresSchema = z.strictObject({
  segmentType: z.enum(segmentTypes),
  /** e.g. 'Champions', 'frequent high spenders, recently active', 'Lapsed'. */
  segment: z.string().min(1).max(120),
  customers: count,
  /** Share of all customers in this segment, 0..1. */
  share,
  /** Average days since the last order. */
  avgRecencyDays: nonNegative.nullable(),
  /** Average number of distinct days with a purchase (the RFM frequency). */
  avgPurchaseDays: nonNegative.nullable(),
  avgLifetimeRevenue: nonNegative.nullable(),
  /** Average modelled customer lifetime value (clv mart). */
  avgLifetimeValue: nonNegative.nullable(),
  /** Average churn model probability, 0..1. */
  avgChurnProbability: share.nullable(),
  /** Share of the segment flagged at churn risk, 0..1. */
  churnRiskShare: share.nullable(),
  /** Share of the segment's customers by primary channel, e.g. { web: 0.4, store: 0.6 }. */
  primaryChannelMix: z.record(z.string().min(1).max(40), share),
  /** The same segment in the last published run, or null when it is new (or this is the first run). */
  previous: z
    .strictObject({
      customers: count,
      avgLifetimeValue: nonNegative.nullable(),
      avgChurnProbability: share.nullable(),
    })
    .nullable(),
});

export type SegmentFigures = z.infer<typeof segmentFiguresSchema>;
export type SegmentType = SegmentFigures['segmentType'];
