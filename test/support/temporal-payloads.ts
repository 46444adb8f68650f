import type { Payload } from '@temporalio/common';

export interface FoundPayload {
  /** Where in the value the payload sits, e.g. `.3.workflowExecutionStartedEventAttributes.memo.fields.party`. */
  at: string;
  /** Its `encoding` metadata (`binary/encrypted` once the codec sealed it). */
  encoding: string;
  payload: Payload;
}

/** Every Temporal payload (anything with an `encoding` metadata) inside a value, e.g. a history's events. */
export function payloadsIn(value: unknown, at = '', out: FoundPayload[] = []): FoundPayload[] {
  if (!value || typeof value !== 'object') return out;
  const { metadata } = value as Payload;
  if (metadata?.encoding instanceof Uint8Array) {
    out.push({ at, encoding: Buffer.from(metadata.encoding).toString('utf8'), payload: value });
    return out;
  }
  for (const [key, item] of Object.entries(value)) payloadsIn(item, `${at}.${key}`, out);
  return out;
}

/** A payload's data as text. */
export const payloadText = (p: Payload) => Buffer.from(p.data ?? []).toString('utf8');

/** What the SDK core records of a local activity beside its (sealed) result: which activity ran, and when. */
const LOCAL_ACTIVITY_MARKER_FIELDS = ['activity_id', 'activity_type', 'attempt', 'backoff', 'complete_time', 'original_schedule_time', 'seq'];

/**
 * The payloads the codec never saw, less those Temporal keeps unsealed by design: indexed search
 * attributes, the SDK's patch markers, and a local activity's marker data (checked to hold the
 * core's bookkeeping fields and nothing else, so a value of ours there is still found).
 */
export function unsealedPayloads(found: readonly FoundPayload[]): FoundPayload[] {
  return found.filter((p) => {
    if (p.encoding === 'binary/encrypted' || /\.searchAttributes\.indexedFields\.\w+$|\.markerRecordedEventAttributes\.details\.patch-data\./.test(p.at)) return false;
    if (!/\.markerRecordedEventAttributes\.details\.data\.payloads\.\d+$/.test(p.at)) return true;
    const fields = Object.keys(JSON.parse(payloadText(p.payload)) as object).sort();
    return JSON.stringify(fields) !== JSON.stringify(LOCAL_ACTIVITY_MARKER_FIELDS);
  });
}

/** Payloads as the codec server protocol carries them: proto JSON, bytes in base64. */
export const payloadsJson = (payloads: readonly Payload[]) => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  })),
});
