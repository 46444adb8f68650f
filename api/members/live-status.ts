import type { Request, Response } from 'express';
import { sql } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import type { MemberEventHub } from '../../src/events/member-event-hub.ts';
import { findMember } from '../../src/members/member-queries.ts';
import { publicStatusOf } from '../../src/members/member-status.ts';
import type { Logger } from '../../src/logger.ts';
import { ApiError } from '../http/errors.ts';

/** How often an idle stream sends a comment, so proxies and phones keep it open. */
const HEARTBEAT_MS = 20_000;
/** What a browser waits before reconnecting (it then sends Last-Event-ID). */
const RETRY_MS = 3_000;

/** Last-Event-ID: the member stream version last received; the stream resumes after it. */
export const LastEventId = z.string().regex(/^\d{1,9}$/, 'the id of the last event received (a whole number)').optional()
  .describe('sent by EventSource on reconnect: the stream resumes after this event, missing none');

/** The event types an applicant's stream carries: what changes what they are told. Staff streams carry every type. */
export const APPLICANT_EVENT_TYPES: ReadonlySet<string> = new Set([
  'MemberRegistered', 'MemberApproved', 'MemberRejected', 'InvoiceIssued', 'PaymentReceived', 'InvoiceVoided', 'MemberLapsed',
  'MemberWithdrawn', 'MemberActivated', 'IdCardIssued', 'IdCardRevoked', 'TermStarted', 'MemberTransferred', 'MemberSuspended',
  'MemberSuspensionLifted', 'MemberExpelled', 'MemberResigned', 'RenewalInvoiceIssued', 'RenewalPaymentReceived', 'MemberTermLapsed', 'MemberReinstated',
]);

const StreamEvent = z.object({ version: z.number(), type: z.string(), recordedAt: z.number() });
type StreamEvent = z.infer<typeof StreamEvent>;

const eventsAfter = (tx: TenantTransaction, memberId: string, version: number) => tx.any(sql.type(StreamEvent)`
  SELECT version, event_type AS type, recorded_at AS "recordedAt" FROM event_store
  WHERE aggregate_type = 'Member' AND aggregate_id = ${memberId} AND version > ${version} ORDER BY version LIMIT 500`);

export interface LiveStream {
  hub: MemberEventHub;
  pool: Parameters<typeof withTenant>[0];
  log: Logger;
  tenantId: string;
  memberId: string;
  actor: string;
  /** The version the client already holds (Last-Event-ID), 0 for all. */
  after: number;
  /** Which event types this caller is sent. */
  shown: (type: string) => boolean;
  /** For an application that never became a member (a refused registration): the events it shows, fixed. */
  fixed?: StreamEvent[];
  /** Ends the stream after this long, so the client reconnects and its access is checked again. */
  endAfterMs?: number;
}

const frame = (event: StreamEvent, status: { status: string; statusDetail: string; memberNumber: string | null } | null) =>
  `id: ${event.version}\nevent: member\ndata: ${JSON.stringify({ type: event.type, version: event.version, recordedAt: new Date(event.recordedAt).toISOString(), ...status })}\n\n`;

/**
 * Serves a member's event stream as Server-Sent Events: what the client has not seen (after
 * Last-Event-ID), then each new event as the member's stream grows (woken by Postgres
 * NOTIFY, src/events/member-event-hub.ts). Each event carries its type, version (the SSE id)
 * and time, and the member's status as it is now; never a payload or personal data.
 */
export async function serveMemberEvents(req: Request, res: Response, stream: LiveStream): Promise<void> {
  let send: () => void = () => undefined;
  // Subscribed before anything is written: a listener that cannot connect is an error answer, not a broken stream.
  const unsubscribe = stream.fixed ? () => undefined : await stream.hub.subscribe(stream.tenantId, stream.memberId, () => send()).catch((err: unknown) => {
    stream.log.warn({ err }, 'live stream could not listen for member events');
    throw new ApiError('DATABASE_UNAVAILABLE', 'live updates are unavailable; try again shortly');
  });
  res.status(200);
  res.setHeader('content-type', 'text/event-stream; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-accel-buffering', 'no');
  res.flushHeaders();
  res.write(`retry: ${RETRY_MS}\n\n`);
  let sent = stream.after;
  let closed = false;
  let running: Promise<void> = Promise.resolve();
  send = () => {
    running = running.then(async () => {
      if (closed) return;
      const { events, status } = stream.fixed
        ? { events: stream.fixed.filter((e) => e.version > sent), status: { status: 'pending', statusDetail: 'awaiting_approval', memberNumber: null } }
        : await withTenant(stream.pool, { tenantId: stream.tenantId, actor: stream.actor }, async (tx) => {
          const events = await eventsAfter(tx, stream.memberId, sent);
          const member = events.length ? await findMember(tx, stream.memberId) : null;
          return { events, status: member ? { status: publicStatusOf(member.status), statusDetail: member.status, memberNumber: member.memberNumber } : null };
        });
      for (const event of events) {
        if (closed) return;
        sent = event.version;
        if (stream.shown(event.type)) res.write(frame(event, status));
      }
    }).catch((err: unknown) => {
      stream.log.warn({ err }, 'live stream could not read the member events');
    });
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const ending = stream.endAfterMs === undefined ? null : setTimeout(() => void running.then(() => res.end()), stream.endAfterMs);
  ending?.unref();
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    if (ending) clearTimeout(ending);
    unsubscribe();
  };
  req.on('close', close);
  res.on('close', close);
  send();
}
