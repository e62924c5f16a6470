/**
 * The serve key: the secret `nodegen serve` derives per-node URL and status tokens from. It is its
 * own 32 random bytes in the state (`serve-key`, 0600), not derived from the calendar secret, so a
 * node URL token (which sits in the node's /proc/cmdline) says nothing about bootstrap tokens, and
 * the key can be replaced without touching the cluster. Created once, atomically (a complete temp
 * file linked into place: a crash leaves no key or a whole one), and never overwritten.
 */
import {PkiError} from './errors.js'
import {loadOrCreateSecretFile} from './store/secret-key.js'
import type {PkiContext} from './types.js'

export const SERVE_KEY = 'serve-key'

function parse(dir: string, text: string): string {
  const key = text.trim()
  if (!/^[0-9a-f]{64}$/.test(key)) throw new PkiError('NG0904', {dir, reason: `${SERVE_KEY} is not 32 bytes of hex`})
  return key
}

/** The state's serve key, created when it has none (sealed in an encrypted state). */
export async function loadOrCreateServeKey(
  dir: string,
  ctx: Pick<PkiContext, 'randomBytes'> & Partial<Pick<PkiContext, 'passphrase'>>,
): Promise<string> {
  return parse(
    dir,
    await loadOrCreateSecretFile(dir, SERVE_KEY, ctx.passphrase, () => `${Buffer.from(ctx.randomBytes(32)).toString('hex')}\n`),
  )
}
