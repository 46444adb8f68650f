import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { assertStorageKey, InvalidStorageKeyError, ObjectNotFoundError, type ObjectStorage } from './object-storage.ts';

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

function isMissing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && MISSING.has(String(err.code));
}

/** Objects as files under one directory; a put is a write to a temp file, fsync, then rename. */
export class LocalDirectoryStorage implements ObjectStorage {
  readonly #root: string;

  constructor(root: string) {
    this.#root = path.resolve(root);
  }

  #pathOf(key: string): string {
    assertStorageKey(key);
    const file = path.resolve(this.#root, ...key.split('/'));
    if (!file.startsWith(this.#root + path.sep)) throw new InvalidStorageKeyError(`storage key ${key} leaves the storage root`);
    return file;
  }

  /** @throws InvalidStorageKeyError */
  async put(key: string, bytes: Uint8Array): Promise<void> {
    const file = this.#pathOf(key);
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    const temp = path.join(dir, `.${path.basename(file)}.${randomUUID()}.tmp`);
    try {
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    const dirHandle = await open(dir, 'r');
    await dirHandle.sync().finally(() => dirHandle.close());
  }

  /** @throws InvalidStorageKeyError, ObjectNotFoundError */
  async get(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.#pathOf(key)));
    } catch (err) {
      if (isMissing(err)) throw new ObjectNotFoundError(`no object under ${key}`, { cause: err });
      throw err;
    }
  }

  /** @throws InvalidStorageKeyError */
  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.#pathOf(key))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }
}
