import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with the secret's name as additional authenticated data: a tampered value, or one copied
 * under another name, fails to decrypt instead of yielding garbage. Sealed layout: IV (12) | tag (16) |
 * ciphertext. Keys are named by a fingerprint (the first 16 hex digits of their SHA-256), stored beside
 * each value, so a rotation knows which rows still use an old key.
 */

export interface Key {
  id: string;
  bytes: Buffer;
}

export function keyFrom(base64: string): Key {
  const bytes = Buffer.from(base64.trim(), 'base64');
  if (bytes.length !== 32) throw new Error('a secrets key must be 32 bytes in base64');
  return { id: createHash('sha256').update(bytes).digest('hex').slice(0, 16), bytes };
}

export function seal(key: Key, name: string, value: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const ct = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

/** Throws when the key is wrong or the value was tampered with. */
export function unseal(key: Key, name: string, sealed: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(name, 'utf8'));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
}

/** The current key (writes) and the previous ones (reads during a rotation). */
export class KeyRing {
  readonly current: Key | null;
  private readonly byId = new Map<string, Key>();

  constructor(current: string | undefined, previous: readonly string[] = []) {
    this.current = current ? keyFrom(current) : null;
    for (const k of [...previous.map(keyFrom), ...(this.current ? [this.current] : [])]) this.byId.set(k.id, k);
  }

  key(id: string): Key | undefined {
    return this.byId.get(id);
  }
}
