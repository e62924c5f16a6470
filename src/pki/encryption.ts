/**
 * Encryption at rest of the state. One passphrase (NODEGEN_PKI_PASSPHRASE) is stretched once per
 * state with scrypt (N = 2^17, r = 8, p = 1: 128 MiB and a few hundred milliseconds, so guessing is
 * expensive) over a random salt kept in state.json, giving a 256-bit state key. Everything secret is
 * encrypted under it:
 *
 * - private keys stay encrypted PKCS#8 PEM (the cipher AES-256-CBC, the PEM passphrase the state
 *   key in hex: full-entropy, so PKCS#8's own PBKDF2 count adds nothing and costs nothing);
 * - the other secret files (tokens.json's tokens, calendar.json, serve-key) are sealed with
 *   AES-256-GCM, the file's name as associated data (a sealed file cannot be swapped for another).
 *
 * state.json also keeps a check value (an HMAC under the state key), so a wrong passphrase is told
 * apart from a damaged file. States encrypted before this scheme (no `kdf` in state.json) used the
 * passphrase directly as the PKCS#8 passphrase; they are still read, and `nodegen pki encrypt
 * --rekey` moves them to it.
 */
import {createCipheriv, createDecipheriv, createHmac, randomBytes, scryptSync, timingSafeEqual} from 'node:crypto'

export const MIN_PASSPHRASE_LENGTH = 12
const SEALED_PREFIX = 'nodegen-sealed-v1:'

export interface KdfParams {
  name: 'scrypt'
  N: number
  r: number
  p: number
  /** base64 */
  salt: string
  /** base64 HMAC-SHA256 of a fixed label under the derived key. */
  check: string
}

export const SCRYPT = {N: 2 ** 17, r: 8, p: 1} as const

const derived = new Map<string, Buffer>()

function stretch(passphrase: string, kdf: Pick<KdfParams, 'N' | 'r' | 'p' | 'salt'>): Buffer {
  const memo = `${kdf.salt}:${kdf.N}:${kdf.r}:${kdf.p}:${passphrase}`
  const hit = derived.get(memo)
  if (hit) return hit
  const key = scryptSync(passphrase, Buffer.from(kdf.salt, 'base64'), 32, {N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * 1024 * 1024})
  derived.set(memo, key)
  return key
}

const checkOf = (key: Buffer) => createHmac('sha256', key).update('nodegen-state-key-check').digest('base64')

/** New KDF parameters (fresh salt) and the state key they give for `passphrase`. */
export function newStateKey(passphrase: string, salt: Uint8Array = randomBytes(16)): {kdf: KdfParams; key: StateKey} {
  const base = {name: 'scrypt' as const, ...SCRYPT, salt: Buffer.from(salt).toString('base64')}
  const key = stretch(passphrase, base)
  return {kdf: {...base, check: checkOf(key)}, key: new StateKey(key)}
}

/** The state key for `passphrase`, or undefined when the passphrase is not the state's. */
export function openStateKey(passphrase: string, kdf: KdfParams): StateKey | undefined {
  const key = stretch(passphrase, kdf)
  const a = Buffer.from(checkOf(key))
  const b = Buffer.from(kdf.check)
  return a.length === b.length && timingSafeEqual(a, b) ? new StateKey(key) : undefined
}

export function isKdfParams(v: unknown): v is KdfParams {
  const k = v as KdfParams
  return (
    typeof k === 'object' &&
    k !== null &&
    k.name === 'scrypt' &&
    Number.isInteger(k.N) &&
    Number.isInteger(k.r) &&
    Number.isInteger(k.p) &&
    typeof k.salt === 'string' &&
    typeof k.check === 'string'
  )
}

export function isSealed(text: string): boolean {
  return text.startsWith(SEALED_PREFIX)
}

export class StateKey {
  constructor(private readonly key: Buffer) {}

  /** The PEM passphrase of the state's encrypted PKCS#8 keys. */
  get pemPassphrase(): string {
    return this.key.toString('hex')
  }

  seal(name: string, text: string): string {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', this.key, iv)
    c.setAAD(Buffer.from(name))
    const ct = Buffer.concat([c.update(text, 'utf8'), c.final()])
    return `${SEALED_PREFIX}${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64')}\n`
  }

  /** The plaintext, or undefined when it does not decrypt (wrong key, damaged or swapped file). */
  open(name: string, sealed: string): string | undefined {
    try {
      const raw = Buffer.from(sealed.trim().slice(SEALED_PREFIX.length), 'base64')
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12))
      d.setAAD(Buffer.from(name))
      d.setAuthTag(raw.subarray(12, 28))
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}
