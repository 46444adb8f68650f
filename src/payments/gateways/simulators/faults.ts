/**
 * Outages and delays a test (or a developer) switches on in a gateway simulator. Each fault
 * applies to the simulator's gateway endpoints (never to its control API), to the next
 * `count` requests, until a moment, or until cleared.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';

export type FaultMode = 'unavailable' | 'drop' | 'delay';

export interface FaultSpec {
  /** `unavailable`: the gateway's 503; `drop`: the connection is closed with no answer; `delay`: answer late. */
  mode: FaultMode;
  /** How many requests it applies to; with neither count nor until, until cleared. */
  count?: number | undefined;
  /** Until when (epoch milliseconds). */
  until?: number | undefined;
  /** For `delay`: how long, in milliseconds. */
  delayMs?: number | undefined;
}

interface ActiveFault {
  mode: FaultMode;
  remaining: number | null;
  until: number | null;
  delayMs: number;
}

const untilSchema = z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true }).transform((text) => Date.parse(text))]);

/** The body of `POST /__control/outage`: `{ mode?, count?, until? }`. */
export const outageRequest = z
  .object({
    mode: z.enum(['unavailable', 'drop']).default('unavailable'),
    count: z.number().int().positive().optional(),
    until: untilSchema.optional(),
  })
  .strict();

/** The body of `POST /__control/delay`: `{ ms, count?, until? }`. */
export const delayRequest = z
  .object({
    ms: z.number().int().nonnegative().max(600_000),
    count: z.number().int().positive().optional(),
    until: untilSchema.optional(),
  })
  .strict();

export class FaultInjector {
  private faults: ActiveFault[] = [];
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  add(spec: FaultSpec): void {
    this.faults.push({ mode: spec.mode, remaining: spec.count ?? null, until: spec.until ?? null, delayMs: spec.delayMs ?? 0 });
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault the next request meets, used up by one; null when none applies. */
  take(): ActiveFault | null {
    const now = this.now();
    this.faults = this.faults.filter((fault) => (fault.remaining === null || fault.remaining > 0) && (fault.until === null || fault.until > now));
    const fault = this.faults[0];
    if (!fault) return null;
    if (fault.remaining !== null) fault.remaining -= 1;
    return fault;
  }

  /** Middleware for the gateway's endpoints: `unavailable` answers with the gateway's own 503. */
  middleware(unavailable: (response: Response) => void): RequestHandler {
    return (request: Request, response: Response, next) => {
      const fault = this.take();
      if (!fault) {
        next();
        return;
      }
      if (fault.mode === 'drop') {
        request.socket.destroy();
        return;
      }
      if (fault.mode === 'unavailable') {
        unavailable(response);
        return;
      }
      const timer = setTimeout(next, fault.delayMs);
      response.once('close', () => clearTimeout(timer));
    };
  }
}

/**
 * The control routes every simulator has: `POST outage {mode?, count?, until?}`,
 * `POST delay {ms, count?, until?}`, `DELETE outage` (clears every fault).
 */
export function faultControlRoutes(control: Router, faults: FaultInjector): void {
  control.post('/outage', (request: Request, response: Response) => {
    const parsed = outageRequest.safeParse(request.body ?? {});
    if (!parsed.success) {
      response.status(400).json({ error: parsed.error.message });
      return;
    }
    faults.add(parsed.data);
    response.status(204).end();
  });
  control.post('/delay', (request: Request, response: Response) => {
    const parsed = delayRequest.safeParse(request.body ?? {});
    if (!parsed.success) {
      response.status(400).json({ error: parsed.error.message });
      return;
    }
    faults.add({ mode: 'delay', delayMs: parsed.data.ms, count: parsed.data.count, until: parsed.data.until });
    response.status(204).end();
  });
  control.delete('/outage', (_request: Request, response: Response) => {
    faults.clear();
    response.status(204).end();
  });
}
