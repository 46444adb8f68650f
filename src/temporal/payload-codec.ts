import { createHmac } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { DecryptionError, open, seal, sealedKeyId } from '../crypto/aead.ts';
import { deriveKey } from '../crypto/derived-key.ts';
import { resolveMasterKeys, type MasterKey } from '../crypto/master-key.ts';

/** The `encoding` metadata of a payload this codec sealed. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata naming the key a payload was sealed with (also inside the ciphertext's header). */
export const ENCRYPTION_KEY_ID = 'encryption-key-id';
/** The HKDF purpose of the payload key: independent of every other key derived from the master key. */
export const PAYLOAD_KEY_PURPOSE = 'temporal-payload';
/** Binds a sealed payload to being a Temporal payload: the same bytes pasted into a column do not open. */
const PAYLOAD_AAD = 'sadasya|temporal-payload';

const ProtoPayload = proto.temporal.api.common.v1.Payload;

/** The failure converter module the worker (and its workflow bundle) load: error messages and stack traces go into an encoded, hence encrypted, payload. */
export const FAILURE_CONVERTER_PATH = new URL('./failure-converter.ts', import.meta.url).pathname;

interface PayloadKey {
  id: string;
  key: Buffer;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

/** The id of a payload key: a UUID from an HMAC under the key itself, naming it without revealing it. */
export function payloadKeyId(key: Buffer): string {
  const hex = createHmac('sha256', key).update('sadasya temporal payload key id').digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function payloadKey(master: MasterKey): PayloadKey {
  const key = deriveKey(master, PAYLOAD_KEY_PURPOSE);
  return { id: payloadKeyId(key), key };
}

/**
 * Encrypts every Temporal payload (workflow and activity arguments and results, update and
 * signal arguments, memos, encoded failure attributes) with AES-256-GCM under a key derived
 * from the master key, so Temporal's store and UI hold no personal data in the clear. The whole
 * payload (its metadata and data) is sealed; the sealed payload says `binary/encrypted` and
 * names its key, so MASTER_KEY can rotate: payloads sealed under MASTER_KEY_PREVIOUS's payload
 * key still open while it is configured.
 *
 * Decoding passes payloads that are not encrypted through unchanged (histories written before
 * the codec); an encrypted payload whose key this process does not hold, or whose bytes were
 * altered, throws DecryptionError.
 */
export class EncryptionCodec implements PayloadCodec {
  readonly #current: PayloadKey;
  readonly #byId: Map<string, PayloadKey>;

  constructor(current: MasterKey, previous: readonly MasterKey[] = []) {
    this.#current = payloadKey(current);
    this.#byId = new Map([this.#current, ...previous.map(payloadKey)].map((k) => [k.id, k]));
  }

  /** The id of the key new payloads are sealed with. */
  get keyId(): string {
    return this.#current.id;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.encodeOne(payload))));
  }

  /** Rejects with DecryptionError (see decodeOne). */
  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.decodeOne(payload))));
  }

  encodeOne(payload: Payload): Payload {
    const plain = Buffer.from(ProtoPayload.encode(payload).finish());
    return {
      metadata: { encoding: utf8(ENCRYPTED_ENCODING), [ENCRYPTION_KEY_ID]: utf8(this.#current.id) },
      data: seal(this.#current.key, this.#current.id, plain, PAYLOAD_AAD),
    };
  }

  /** @throws DecryptionError for a payload sealed under a key not held, or altered. */
  decodeOne(payload: Payload): Payload {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const sealed = Buffer.from(payload.data ?? []);
    const keyId = sealedKeyId(sealed);
    const named = text(payload.metadata?.[ENCRYPTION_KEY_ID]);
    if (named !== keyId) throw new DecryptionError('the payload\'s key id and its ciphertext disagree');
    const key = this.#byId.get(keyId);
    if (!key) throw new DecryptionError(`the payload was encrypted with key ${keyId}, which this process does not hold`);
    const decoded = ProtoPayload.decode(open(key.key, sealed, PAYLOAD_AAD));
    return decoded;
  }
}

/**
 * The data converter of every Temporal client and worker of the product: the encryption codec,
 * and for a worker (`failures: true`) the failure converter that moves error messages and stack
 * traces into an encoded payload (the workflow bundle must be built with the same path, see
 * FAILURE_CONVERTER_PATH). Clients decode either kind of failure with the default converter.
 */
export function temporalDataConverter(codec: EncryptionCodec, options: { failures?: boolean } = {}): DataConverter {
  return { payloadCodecs: [codec], ...(options.failures && { failureConverterPath: FAILURE_CONVERTER_PATH }) };
}

/** The process's payload codec from configuration: MASTER_KEY seals; MASTER_KEY_PREVIOUS, during a rotation, still opens. */
export function configuredPayloadCodec(settings: Parameters<typeof resolveMasterKeys>[0]): EncryptionCodec {
  const { current, previous } = resolveMasterKeys(settings);
  return new EncryptionCodec(current, previous);
}
