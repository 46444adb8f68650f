import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { DecryptionError } from '../../src/crypto/aead.ts';
import { ENCRYPTED_ENCODING, ENCRYPTION_KEY_ID, EncryptionCodec } from '../../src/temporal/payload-codec.ts';
import { failureConverter } from '../../src/temporal/failure-converter.ts';
import { testMasterKey } from '../support/fixtures.ts';

const APPLICATION = { fullNameEn: 'Sita Kumari Shrestha', fullNameNe: 'सीता कुमारी श्रेष्ठ', address: 'Ward 4, Lalitpur' };
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
/** Every byte of a payload as text: what Temporal's store and UI would hold. */
const stored = (p: Payload) => `${Object.entries(p.metadata ?? {}).map(([k, v]) => `${k}=${text(v)}`).join(' ')} ${text(p.data)} ${Buffer.from(p.data ?? []).toString('latin1')}`;

test('a payload round-trips; what is stored says binary/encrypted, names its key and holds neither name nor address', async () => {
  const codec = new EncryptionCodec(testMasterKey());
  const plain = defaultPayloadConverter.toPayload(APPLICATION);
  const [sealed] = await codec.encode([plain]);
  expect(text(sealed!.metadata![ 'encoding' ])).toBe(ENCRYPTED_ENCODING);
  expect(text(sealed!.metadata![ENCRYPTION_KEY_ID])).toBe(codec.keyId);
  expect(Object.keys(sealed!.metadata!).sort()).toEqual([ENCRYPTION_KEY_ID, 'encoding'].sort());
  for (const secret of ['Sita', 'सीता', 'Lalitpur', 'json/plain']) expect(stored(sealed!)).not.toContain(secret);
  const [opened] = await codec.decode([sealed!]);
  expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(APPLICATION);
  expect(text(opened!.metadata!['encoding'])).toBe('json/plain');
  // A fresh IV each time: equal values do not give equal ciphertexts.
  const [again] = await codec.encode([plain]);
  expect(Buffer.from(again!.data!).equals(Buffer.from(sealed!.data!))).toBe(false);
});

test('payloads that are not encrypted (histories written before the codec) pass through decoding unchanged', async () => {
  const codec = new EncryptionCodec(testMasterKey());
  const plain = [defaultPayloadConverter.toPayload(APPLICATION), defaultPayloadConverter.toPayload(null), defaultPayloadConverter.toPayload(new Uint8Array([1, 2, 3]))];
  expect(await codec.decode(plain)).toEqual(plain);
});

test('altered ciphertext, a key id that disagrees with the ciphertext, or an unknown key fail with DecryptionError', async () => {
  const codec = new EncryptionCodec(testMasterKey());
  const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(APPLICATION)]);
  const flipped = Buffer.from(sealed!.data!);
  flipped[flipped.length - 1]! ^= 1;
  await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(DecryptionError);
  await expect(codec.decode([{ ...sealed!, metadata: { ...sealed!.metadata, [ENCRYPTION_KEY_ID]: Buffer.from('00000000-0000-4000-8000-000000000000') } }]))
    .rejects.toThrow(/key id and its ciphertext disagree/);
  const other = new EncryptionCodec(testMasterKey());
  await expect(other.decode([sealed!])).rejects.toThrow(new RegExp(`encrypted with key ${codec.keyId}, which this process does not hold`));
  await expect(codec.decode([{ ...sealed!, data: Buffer.from('short') }])).rejects.toThrow(DecryptionError);
});

test('after a master-key rotation, payloads sealed under the previous key still open; new ones are sealed under the current key', async () => {
  const [oldMaster, newMaster] = [testMasterKey(), testMasterKey()];
  const before = new EncryptionCodec(oldMaster);
  const during = new EncryptionCodec(newMaster, [oldMaster]);
  const [old] = await before.encode([defaultPayloadConverter.toPayload(APPLICATION)]);
  expect(defaultPayloadConverter.fromPayload((await during.decode([old!]))[0]!)).toEqual(APPLICATION);
  const [fresh] = await during.encode([defaultPayloadConverter.toPayload(APPLICATION)]);
  expect(text(fresh!.metadata![ENCRYPTION_KEY_ID])).toBe(new EncryptionCodec(newMaster).keyId);
  expect(during.keyId).not.toBe(before.keyId);
  await expect(before.decode([fresh!])).rejects.toThrow(DecryptionError);
});

test('the same master key gives the same payload key in every process; the payload key is not the master key', () => {
  const master = testMasterKey();
  expect(new EncryptionCodec(master).keyId).toBe(new EncryptionCodec({ ...master }).keyId);
  expect(new EncryptionCodec(master).keyId).not.toBe(master.id);
});

test('the failure converter moves a failure\'s message and stack trace into a payload, which the codec seals', async () => {
  const failure = failureConverter.errorToFailure(ApplicationFailure.nonRetryable('Sita Kumari Shrestha is already a member', 'CONTACT_TAKEN'), defaultPayloadConverter);
  expect(failure.message).toBe('Encoded failure');
  expect(failure.stackTrace).toBe('');
  expect(JSON.stringify(failure)).not.toContain('Sita');
  const codec = new EncryptionCodec(testMasterKey());
  const [sealed] = await codec.encode([failure.encodedAttributes!]);
  expect(stored(sealed!)).not.toContain('Sita');
  // The default converter (every client's) reads the message back once the codec opened it.
  const back = failureConverter.failureToError({ ...failure, encodedAttributes: (await codec.decode([sealed!]))[0] }, defaultPayloadConverter);
  expect(back.message).toBe('Sita Kumari Shrestha is already a member');
});
