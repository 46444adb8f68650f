import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalDirectoryStorage } from '../../src/storage/local-storage.ts';
import { idCardKey, InvalidStorageKeyError, ObjectNotFoundError } from '../../src/storage/object-storage.ts';

let root: string;
let storage: LocalDirectoryStorage;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'local-storage-'));
  storage = new LocalDirectoryStorage(path.join(root, 'objects'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

test('an ID card is stored under id-cards/<tenant>/<member>.pdf and read back byte for byte', async () => {
  const key = idCardKey('ndup', '5f0c8a52-3c1e-4b7e-9a51-2d7c1f4e8b90');
  expect(key).toBe('id-cards/ndup/5f0c8a52-3c1e-4b7e-9a51-2d7c1f4e8b90.pdf');
  const bytes = new Uint8Array([0x25, 0x50, 0x44, 0x46, 0, 255]);
  expect(await storage.exists(key)).toBe(false);
  await storage.put(key, bytes);
  expect(await storage.exists(key)).toBe(true);
  expect(await storage.get(key)).toEqual(bytes);
  expect(await readFile(path.join(root, 'objects', 'id-cards', 'ndup', '5f0c8a52-3c1e-4b7e-9a51-2d7c1f4e8b90.pdf'))).toEqual(Buffer.from(bytes));
});

test('a put replaces the object and leaves no temp file behind', async () => {
  await storage.put('id-cards/ndup/a.pdf', new Uint8Array([1]));
  await storage.put('id-cards/ndup/a.pdf', new Uint8Array([2, 2]));
  expect(await storage.get('id-cards/ndup/a.pdf')).toEqual(new Uint8Array([2, 2]));
  expect(await filesUnder(path.join(root, 'objects'))).toEqual([path.join('id-cards', 'ndup', 'a.pdf')]);
});

test('concurrent puts to one key leave one whole version, never a mix', async () => {
  const versions = Array.from({ length: 8 }, (_, i) => new Uint8Array(256 * 1024).fill(i + 1));
  await Promise.all(versions.map((v) => storage.put('id-cards/ndup/race.pdf', v)));
  const stored = await storage.get('id-cards/ndup/race.pdf');
  expect(stored).toHaveLength(256 * 1024);
  expect(new Set(stored).size).toBe(1);
  expect(await filesUnder(path.join(root, 'objects'))).toEqual([path.join('id-cards', 'ndup', 'race.pdf')]);
});

test('a failed put removes its temp file and keeps the old object', async () => {
  await storage.put('id-cards/ndup/b.pdf', new Uint8Array([1]));
  await storage.put('id-cards/ndup/c.pdf/inner', new Uint8Array([9]));
  await expect(storage.put('id-cards/ndup/c.pdf', new Uint8Array([2]))).rejects.toThrow();
  expect(await filesUnder(path.join(root, 'objects'))).toEqual(
    expect.arrayContaining([path.join('id-cards', 'ndup', 'b.pdf'), path.join('id-cards', 'ndup', 'c.pdf', 'inner')]),
  );
  expect(await filesUnder(path.join(root, 'objects'))).toHaveLength(2);
});

test('a missing object is a typed not-found error, and a directory is not an object', async () => {
  await expect(storage.get('id-cards/ndup/nobody.pdf')).rejects.toBeInstanceOf(ObjectNotFoundError);
  await expect(storage.get('id-cards/ndup/nobody.pdf')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
  await storage.put('id-cards/ndup/x.pdf', new Uint8Array([1]));
  expect(await storage.exists('id-cards/ndup')).toBe(false);
  await expect(storage.get('id-cards/ndup')).rejects.toBeInstanceOf(ObjectNotFoundError);
});

test.each(['../escape.pdf', 'id-cards/../../escape.pdf', '/etc/passwd', 'id-cards//a.pdf', 'id-cards/./a.pdf', '.hidden', 'id-cards/a.pdf/', 'a\\..\\b', '', 'x'.repeat(600)])(
  'the key %j is refused before touching the disk',
  async (key) => {
    await expect(storage.put(key, new Uint8Array([1]))).rejects.toBeInstanceOf(InvalidStorageKeyError);
    await expect(storage.get(key)).rejects.toMatchObject({ code: 'INVALID_STORAGE_KEY' });
    await expect(storage.exists(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
    expect(await readdir(root)).toEqual([]);
  },
);

test('a card key cannot be smuggled through the tenant or member id', async () => {
  expect(() => idCardKey('ndup/../other', 'm1')).toThrow(InvalidStorageKeyError);
  expect(() => idCardKey('ndup', '../m1')).toThrow(InvalidStorageKeyError);
  expect(() => idCardKey('..', 'm1')).toThrow(InvalidStorageKeyError);
  await writeFile(path.join(root, 'outside.pdf'), 'secret');
  await expect(storage.get('../outside.pdf')).rejects.toBeInstanceOf(InvalidStorageKeyError);
});
