/**
 * Encrypting an existing state, or re-keying an encrypted one: a complete copy under the new key
 * is written beside the state and swapped in by two renames. Also the recovery of a swap cut
 * short, which the writers run before they would create a new state where a swapped one stands.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import type {Cluster} from '../../profile/index.js'
import {MIN_PASSPHRASE_LENGTH, newStateKey} from '../encryption.js'
import {PkiError} from '../errors.js'
import {encodePrivateKey} from '../keys.js'
import {parseKubeconfigCredentials, replaceClientKey} from '../kubeconfig.js'
import {fsyncPath, type TreeHooks, tempName, withLock, writeTree} from './durable.js'
import {listStateFiles} from './inventory.js'
import {ADMIN_CONF, ENCRYPTED_ADMIN_NOTE, json, STATE_JSON, TOKENS_JSON, tokensFile} from './layout.js'
import {damaged, decode, parseTokens, readStateInfo, readText} from './read.js'
import {openSecretFile, type StateSecretKey, sealSecretFile, stateSecretKey} from './secret-key.js'

const SWAP_MARK = '.nodegen-swap-'

/**
 * A state being swapped by `encryptState` is, for an instant, only under its swap name beside the
 * state dir. When the dir is missing and such a copy exists (the swap was cut short), it is put
 * back rather than a new state created. Returns true when one was restored.
 */
export async function restoreSwapped(dir: string): Promise<boolean> {
  const abs = path.resolve(dir)
  const parent = path.dirname(abs)
  const base = path.basename(abs)
  const names = await fs.readdir(parent).catch(() => [] as string[])
  const swapped = names.filter((n) => n.startsWith(`.${base}${SWAP_MARK}`)).sort()
  if (swapped.length === 0) return false
  await fs.rmdir(abs).catch(() => {})
  await fs.rename(path.join(parent, swapped[swapped.length - 1] as string), abs)
  await fsyncPath(parent)
  return true
}

export interface EncryptStateOptions {
  /** The state's current passphrase (an encrypted state only). */
  passphrase?: string
  /** The passphrase to encrypt under: at least MIN_PASSPHRASE_LENGTH characters. */
  newPassphrase: string
  /** Test seam: runs after each file of the new tree is written. */
  onWrite?: TreeHooks['onWrite']
  /** Random bytes for the new salt. */
  randomBytes?: (n: number) => Uint8Array
}

/**
 * Encrypts a plaintext state, or re-keys an encrypted one (a new passphrase and salt; old-scheme
 * states move to scrypt). Every secret file is re-encoded under the new state key in a complete
 * copy of the state written beside it, and the copy replaces the state by two renames; a crash in
 * between leaves the old state under a swap name, which the next load puts back. The certificates,
 * keys and tokens themselves do not change.
 */
export async function encryptState(
  dir: string,
  cluster: Pick<Cluster, 'name'>,
  o: EncryptStateOptions,
): Promise<{files: number; rekeyed: boolean}> {
  if (o.newPassphrase.length < MIN_PASSPHRASE_LENGTH) throw new PkiError('NG0913', {min: MIN_PASSPHRASE_LENGTH})
  await restoreSwapped(dir)
  const info = await readStateInfo(dir, cluster)
  const old = stateSecretKey(dir, info, o.passphrase)
  const fresh = newStateKey(o.newPassphrase, o.randomBytes ? o.randomBytes(16) : undefined)
  const next: StateSecretKey = {pem: fresh.key.pemPassphrase, sealing: fresh.key}
  const abs = path.resolve(dir)
  const parent = path.dirname(abs)
  const base = path.basename(abs)
  return withLock(
    dir,
    async () => {
      const files = new Map<string, string>()
      for (const rel of await listStateFiles(dir)) {
        const text = await readText(dir, rel)
        if (rel === STATE_JSON) continue
        if (rel.endsWith('.key')) {
          files.set(rel, encodePrivateKey(decode(dir, rel, text, old.pem), next.pem))
        } else if (rel === ADMIN_CONF) {
          const creds = parseKubeconfigCredentials(text)
          if (!creds.clientKey) throw damaged(dir, `${ADMIN_CONF} has no client key`)
          const key = decode(dir, ADMIN_CONF, creds.clientKey, old.pem)
          files.set(rel, ENCRYPTED_ADMIN_NOTE + replaceClientKey(text.replace(ENCRYPTED_ADMIN_NOTE, ''), encodePrivateKey(key, next.pem)))
        } else if (rel === TOKENS_JSON) {
          const {tokens, sealed: _s, publicTokens: _p, schemaVersion: _v, ...rest} = parseTokens(dir, text, old)
          files.set(rel, tokensFile(tokens, next.sealing, rest))
        } else if (SEALED_FILES.includes(rel)) {
          files.set(rel, sealSecretFile(rel, openSecretFile(dir, rel, text, old), next))
        } else files.set(rel, text)
      }
      const {kdf: _k, ...rest} = info
      files.set(STATE_JSON, json({...rest, encrypted: true, kdf: fresh.kdf}))
      const tmp = path.join(parent, tempName(base))
      try {
        await writeTree(tmp, files, o.onWrite ? {onWrite: o.onWrite} : {})
      } catch (e) {
        await fs.rm(tmp, {recursive: true, force: true})
        throw new PkiError('NG0912', {dir, reason: (e as Error).message})
      }
      const swap = path.join(parent, `.${base}${SWAP_MARK}${process.pid}`)
      await fs.rename(abs, swap)
      await fs.rename(tmp, abs)
      await fsyncPath(parent)
      await fs.rm(swap, {recursive: true, force: true})
      return {files: files.size, rekeyed: info.encrypted}
    },
    (pid, lock) => new PkiError('NG0909', {dir, pid, lock}),
  )
}

/** Files beside the PKI that are sealed when the state is encrypted. */
const SEALED_FILES = ['calendar.json', 'serve-key']
