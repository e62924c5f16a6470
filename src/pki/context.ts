/**
 * The real {@link PkiContext}: the system clock, OpenSSL key generation through WebCrypto and
 * node:crypto's CSPRNG. Only the command layer (and render's use case) builds one; tests pass a
 * fixed clock and a key pool instead (test/support/pki-fixture.ts).
 */
import {randomBytes, webcrypto} from 'node:crypto'
import type {KeyAlgorithm} from '../profile/index.js'
import {webCryptoGenParams} from './keys.js'
import type {CryptoKeyPair, PkiContext} from './types.js'

/** The environment variable holding the passphrase for encryption at rest. */
export const PASSPHRASE_ENV = 'NODEGEN_PKI_PASSPHRASE'

/** Generates an extractable key pair (the state writer exports it). */
export function generateKeyPair(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(webCryptoGenParams(alg), true, ['sign', 'verify']) as Promise<CryptoKeyPair>
}

/** The passphrase from an environment (pass `process.env`); an empty value counts as unset. */
export function passphraseFrom(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const v = env[PASSPHRASE_ENV]
  return v === undefined || v === '' ? undefined : v
}

export function systemPkiContext(options: {passphrase?: string; now?: Date} = {}): PkiContext {
  return {
    now: options.now ?? new Date(),
    generateKey: generateKeyPair,
    randomBytes: (n) => randomBytes(n),
    ...(options.passphrase !== undefined ? {passphrase: options.passphrase} : {}),
  }
}
