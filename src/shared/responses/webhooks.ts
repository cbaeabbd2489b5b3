import { z } from 'zod';
import { EVENT_TYPES } from '../events/types.js';
import type { ResponseBody } from './response-body.js';

/**
 * The webhook operations' answers (src/producers/routes/webhooks.ts). The event envelope, the dead
 * letter and the destination state are answered as the publisher and the webhook store build them, so
 * src/shared/events/types.ts and src/shared/webhooks/store.ts take their types from here.
 */

export const eventEnvelopeSchema = z.object({
  id: z.string().describe('`evt_…`; the same id on every delivery (Standard Webhooks `webhook-id`)'),
  type: z.enum(EVENT_TYPES),
  version: z.number().int().describe('Envelope version; bumps on a breaking change to `data`'),
  campaignId: z.string(),
  occurredAt: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** The dead letter's fields, closed: the type the webhook store and worker build and read. */
export const deadLetterFieldsSchema = z.object({
  eventId: z.string(),
  reason: z.enum([
    'rejected',
    'redirect',
    'exhausted',
    'destination_gone',
    'destination_disabled',
    'no_destination',
  ]),
  status: z.number().int().optional().describe("The destination's last HTTP status"),
  bodyExcerpt: z.string().optional(),
  error: z.string().optional(),
  attempts: z.number().int(),
  at: z.string().describe('When the event was dead-lettered (empty when its record expired)'),
});

// Loose as documented: stored as JSON for 30 days, by whichever release dead-lettered the event, and
// the routes answer it as stored.
export const deadLetterSchema = deadLetterFieldsSchema.loose();

/** GET /v1/webhooks/dead-letters */
export const deadLetterListSchema = z.object({
  total: z.number().int().describe('Dead letters held'),
  deadLetters: z.array(deadLetterSchema).describe('The newest `limit` of them, newest first'),
});
export type DeadLetterListBody = ResponseBody<typeof deadLetterListSchema>;

/** GET /v1/webhooks/events/:eventId */
export const webhookEventStatusSchema = z.object({
  event: eventEnvelopeSchema.describe('The event, exactly as delivered'),
  delivery: z.object({
    state: z.string().describe('`pending`, `delivered` or `dead`'),
    attempts: z.number().int().describe('Sends of the event so far, replays included'),
    lastStatus: z.number().int().optional(),
    lastError: z.string().optional(),
    lastAttemptAt: z.string().optional(),
    deliveredAt: z.string().optional(),
    redeliveredAt: z.string().optional(),
    deadLetter: deadLetterSchema.optional().describe('Why delivery gave up (state `dead`)'),
  }),
});
export type WebhookEventStatusBody = ResponseBody<typeof webhookEventStatusSchema>;

/** POST /v1/webhooks/:eventId/replay */
export const eventReplayQueuedSchema = z.object({ eventId: z.string(), status: z.literal('queued') });
export type EventReplayQueuedBody = ResponseBody<typeof eventReplayQueuedSchema>;

/** POST /v1/webhooks/dead-letters/replay: event ids, by what became of each. */
export const deadLetterReplaySchema = z.object({
  queued: z.array(z.string()),
  alreadyQueued: z.array(z.string()).describe('Already waiting for delivery: left as they were'),
  notFound: z.array(z.string()).describe('No longer stored (expired): cannot be sent again'),
  remaining: z
    .number()
    .int()
    .min(0)
    .describe(
      'Dead letters this call did not get to (it stops after a few seconds, within the request deadline): still listed; call again until 0',
    ),
});
export type DeadLetterReplayBody = ResponseBody<typeof deadLetterReplaySchema>;

/**
 * Which destination WEBHOOK_URL is, as the API shows it (shownDestination,
 * src/shared/webhooks/shown-destination.ts). Never the URL itself: receivers often keep a token in its
 * path or query (`/services/T…/B…/<secret>`, `?token=…`), and whoever may read the admin API need not
 * learn it. The same label the workers log (destinationRef in src/shared/webhooks/backoff.ts).
 */
export const shownDestinationSchema = z.object({
  destination: z
    .string()
    .describe(
      "WEBHOOK_URL's origin and the first 8 hex digits of the SHA-256 of the whole URL, as logs show it: " +
        '`https://hooks.example (#1a2b3c4d)`; never its path, query or credentials. ' +
        'Compare with `printf %s "$WEBHOOK_URL" | sha256sum | cut -c1-8`',
    ),
  pathOrQueryHidden: z
    .boolean()
    .describe('WEBHOOK_URL has a path, query or fragment, left out of `destination` (the digest covers it)'),
});

/** The destination's state as the webhook store reads it for one URL; the answers add which one. */
export const destinationStateSchema = z.object({
  enabled: z.boolean(),
  disabledAt: z.string().optional().describe('When the destination answered 410 Gone and was disabled'),
  status: z.number().int().optional(),
  eventId: z.string().optional().describe('The event whose delivery was answered 410'),
});

/** GET /admin/webhooks/destination */
export const webhookDestinationSchema = z.discriminatedUnion('configured', [
  z.object({ configured: z.literal(false).describe('No WEBHOOK_URL: events are recorded, not sent') }),
  z.object({
    configured: z.literal(true),
    ...shownDestinationSchema.shape,
    ...destinationStateSchema.shape,
  }),
]);
export type WebhookDestinationBody = ResponseBody<typeof webhookDestinationSchema>;

/** POST /admin/webhooks/destination/enable */
export const destinationEnabledSchema = z.object({
  configured: z.literal(true),
  ...shownDestinationSchema.shape,
  enabled: z.literal(true),
  wasEnabled: z.boolean().describe('It was enabled already: nothing changed'),
});
export type DestinationEnabledBody = ResponseBody<typeof destinationEnabledSchema>;
