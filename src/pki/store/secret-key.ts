/**
 * The state's secret key: the PKCS#8 passphrase of its private keys and the key that seals its
 * secret files, both from NODEGEN_PKI_PASSPHRASE and the kdf in state.json. Also the secret files
 * kept beside the PKI (calendar.json, serve-key): opened, created once and sealed here, so
 * calendar.ts and servekey.ts need this file and not the rest of the store.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {isKdfParams, isSealed, openStateKey, type StateKey} from '../encryption.js'
import {PkiError} from '../errors.js'
import type {StateInfo} from '../types.js'
import {linkNewFile} from './durable.js'
import {STATE_JSON} from './layout.js'

/** How a state's secrets open: the PKCS#8 passphrase of its keys and the key of its sealed files. */
export interface StateSecretKey {
  pem: string | undefined
  sealing: StateKey | undefined
}

/** The state's secret key for `passphrase`: NG0905 without one, NG0906 when it is not the state's. */
export function stateSecretKey(dir: string, info: StateInfo, passphrase: string | undefined): StateSecretKey {
  if (!info.encrypted) return {pem: undefined, sealing: undefined}
  if (passphrase === undefined) throw new PkiError('NG0905', {dir})
  // A state encrypted before the scrypt scheme: the passphrase is the PKCS#8 passphrase itself.
  if (!info.kdf) return {pem: passphrase, sealing: undefined}
  const key = openStateKey(passphrase, info.kdf)
  if (!key) throw new PkiError('NG0906', {dir, file: STATE_JSON})
  return {pem: key.pemPassphrase, sealing: key}
}

/** Reads a secret file that is sealed when the state is encrypted (calendar.json, serve-key). */
export function openSecretFile(dir: string, rel: string, text: string, key: StateSecretKey): string {
  if (!isSealed(text)) return text
  if (!key.sealing) throw new PkiError('NG0905', {dir})
  const plain = key.sealing.open(rel, text)
  if (plain === undefined) throw new PkiError('NG0906', {dir, file: rel})
  return plain
}

/** The state's secret key, read from state.json, for files kept beside the PKI (calendar, serve key). */
export async function secretKeyOf(dir: string, passphrase: string | undefined): Promise<StateSecretKey> {
  let raw: Partial<StateInfo>
  try {
    raw = JSON.parse(await fs.readFile(path.join(dir, STATE_JSON), 'utf8'))
  } catch {
    return {pem: undefined, sealing: undefined}
  }
  return stateSecretKey(
    dir,
    {...(raw as StateInfo), encrypted: raw.encrypted === true, ...(isKdfParams(raw.kdf) ? {kdf: raw.kdf} : {})},
    passphrase,
  )
}

/**
 * A secret file kept beside the PKI (calendar.json, serve-key) as plain text: opened when it is
 * sealed (only then is the passphrase stretched), and, when there is none yet, created once from
 * `make` — sealed in an encrypted state and linked into place whole; when another process created
 * it first, theirs stands.
 */
export async function loadOrCreateSecretFile(
  dir: string,
  rel: string,
  passphrase: string | undefined,
  make: () => string,
): Promise<string> {
  const file = path.join(dir, rel)
  const open = async (text: string) => (isSealed(text) ? openSecretFile(dir, rel, text, await secretKeyOf(dir, passphrase)) : text)
  try {
    return await open(await fs.readFile(file, 'utf8'))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  await linkNewFile(file, sealSecretFile(rel, make(), await secretKeyOf(dir, passphrase)))
  return open(await fs.readFile(file, 'utf8'))
}

/** A secret file's content as the state stores it: sealed when the state is encrypted. */
export function sealSecretFile(rel: string, text: string, key: StateSecretKey): string {
  return key.sealing ? key.sealing.seal(rel, text) : text
}
