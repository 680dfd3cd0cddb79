/**
 * The DynamoDB interactions contract: one item per event, in one table.
 *
 * Keys: `customer_key` (partition) is the identity the event arrived with, written as
 * `customer#<id>`, `visitor#<visitor id>` or `email#<address>`; `event_key` (sort) is
 * `<ISO-8601 event time>#<event id>`, so a customer's events sort by time. `updated_at` is the
 * time the item was written (ISO-8601, UTC); the local extractor's watermark and the cloud
 * incremental export both select on write time, so late-arriving events are not missed.
 *
 * Attributes other than the keys, `event_id`, `event_type`, `event_at` and `updated_at` are present
 * only for the event types that carry them. Raw keeps the whole item as JSON besides the flattened
 * columns, so attributes outside this contract are not lost.
 */
export const INTERACTION_EVENT_TYPES = [
  'email_sent',
  'email_open',
  'email_click',
  'ad_view',
  'ad_click',
  'web_visit',
  'login',
  'support_ticket',
  'review',
  'loyalty_earn',
  'loyalty_redeem',
  /** Links an anonymous visitor id to a customer id (the visitor-to-customer map). */
  'identify',
] as const;

export type InteractionEventType = (typeof INTERACTION_EVENT_TYPES)[number];

export interface InteractionItem {
  readonly customer_key: string;
  readonly event_key: string;
  readonly event_id: string;
  readonly event_type: InteractionEventType | string;
  /** ISO-8601 event time; dirty data may hold anything here, and stage quarantines it. */
  readonly event_at: string;
  readonly updated_at: string;
  readonly customer_id?: number;
  readonly visitor_id?: string;
  readonly email?: string;
  /** email_* and ad_* events. */
  readonly campaign_id?: string;
  /** web_visit and login. */
  readonly device?: 'desktop' | 'mobile' | 'tablet' | string;
  /** web_visit: organic, paid, email, social, direct. */
  readonly traffic_source?: string;
  /** login and web_visit. */
  readonly ip_address?: string;
  /** login. */
  readonly success?: boolean;
  /** support_ticket. */
  readonly ticket_category?: string;
  readonly resolution_minutes?: number;
  readonly satisfaction?: number;
  /** review. */
  readonly product_id?: number;
  readonly rating?: number;
  /** loyalty_earn (positive) and loyalty_redeem (negative). */
  readonly points?: number;
  /** ad_view and ad_click. */
  readonly cost?: number;
}

export const INTERACTIONS_PARTITION_KEY = 'customer_key';
export const INTERACTIONS_SORT_KEY = 'event_key';

export const customerKeyFor = {
  customer: (id: number | bigint) => `customer#${id}`,
  visitor: (visitorId: string) => `visitor#${visitorId}`,
  email: (email: string) => `email#${email}`,
};

export const eventKeyFor = (eventAt: string, eventId: string) => `${eventAt}#${eventId}`;
