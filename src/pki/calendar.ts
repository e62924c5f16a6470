/**
 * The bootstrap-token calendar: a secret in the state (and on control planes, never on workers)
 * from which the token of every time window is derived, so nodegen (rendering a worker for next
 * month) and the control planes (registering tokens as windows come) agree without talking. A token
 * lives only as long as its window; nobody runs `kubeadm token create` by hand.
 *
 * The derivation is a contract with assets/bootstrap/token-calendar.sh, which computes the same
 * tokens with openssl on the control planes (a test checks both agree for hundreds of windows):
 *
 *   block_k = HMAC-SHA256(key = secret, message = "nodegen-bootstrap-token:<window>:<k>"), k = 0, 1, ...
 *   take the bytes of block_0 || block_1 || ... in order, drop bytes >= 252 (no modulo bias),
 *   map each kept byte b to "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36];
 *   the first 6 characters are the token id, the next 16 its secret.
 */
import {createHmac} from 'node:crypto'
import path from 'node:path'
import {PkiError} from './errors.js'
import {FILE_MODE, replaceFile, withLock} from './store/durable.js'
import {loadOrCreateSecretFile, sealSecretFile, secretKeyOf} from './store/secret-key.js'
import {TOKEN_CHARS} from './token.js'
import type {PkiContext} from './types.js'

export const CALENDAR_JSON = 'calendar.json'
const MAX_BYTE = 252

export interface Calendar {
  /** 32 random bytes, hex. Secret: control planes only. */
  secret: string
  /** Increases with every rotation. */
  generation: number
  created: string
}

export interface WindowToken {
  window: number
  tokenId: string
  tokenSecret: string
  token: string
  /** Unix seconds the window starts and ends (exclusive). */
  start: number
  end: number
}

/** The window a moment falls in: windows are counted from the Unix epoch. */
export function windowOf(unixSeconds: number, windowSeconds: number): number {
  return Math.floor(unixSeconds / windowSeconds)
}

export function deriveWindowToken(secretHex: string, window: number, windowSeconds: number): WindowToken {
  if (!/^[0-9a-f]{64}$/.test(secretHex)) throw new Error('internal: calendar secret is not 32 bytes of hex')
  const key = Buffer.from(secretHex, 'hex')
  let chars = ''
  for (let block = 0; chars.length < 22; block++) {
    const mac = createHmac('sha256', key).update(`nodegen-bootstrap-token:${window}:${block}`).digest()
    for (const b of mac) {
      if (b < MAX_BYTE) chars += TOKEN_CHARS[b % TOKEN_CHARS.length]
      if (chars.length === 22) break
    }
  }
  const tokenId = chars.slice(0, 6)
  const tokenSecret = chars.slice(6, 22)
  return {
    window,
    tokenId,
    tokenSecret,
    token: `${tokenId}.${tokenSecret}`,
    start: window * windowSeconds,
    end: (window + 1) * windowSeconds,
  }
}

function parse(dir: string, text: string): Calendar {
  try {
    const c = JSON.parse(text) as Calendar
    if (typeof c.secret === 'string' && /^[0-9a-f]{64}$/.test(c.secret) && Number.isInteger(c.generation)) return c
  } catch {
    // fall through
  }
  throw new PkiError('NG0904', {dir, reason: `${CALENDAR_JSON} is not a token calendar`})
}

function fresh(ctx: Pick<PkiContext, 'now' | 'randomBytes'>, generation: number): Calendar {
  return {secret: Buffer.from(ctx.randomBytes(32)).toString('hex'), generation, created: ctx.now.toISOString()}
}

type CalendarContext = Pick<PkiContext, 'now' | 'randomBytes'> & Partial<Pick<PkiContext, 'passphrase'>>

/** The state's calendar, created (once, atomically, never replaced) when it has none; sealed in an encrypted state. */
export async function loadOrCreateCalendar(dir: string, ctx: CalendarContext): Promise<Calendar> {
  const text = await loadOrCreateSecretFile(dir, CALENDAR_JSON, ctx.passphrase, () => `${JSON.stringify(fresh(ctx, 1), null, 2)}\n`)
  return parse(dir, text)
}

/**
 * Replaces the calendar secret. Tokens of the old secret stop being minted once every control
 * plane runs with the new one (re-render and update them); tokens already registered expire with
 * their windows.
 */
export async function rotateCalendar(dir: string, ctx: CalendarContext): Promise<Calendar> {
  return withLock(
    dir,
    async () => {
      const old = await loadOrCreateCalendar(dir, ctx)
      const next = fresh(ctx, old.generation + 1)
      const key = await secretKeyOf(dir, ctx.passphrase)
      await replaceFile(path.join(dir, CALENDAR_JSON), sealSecretFile(CALENDAR_JSON, `${JSON.stringify(next, null, 2)}\n`, key), FILE_MODE)
      return next
    },
    (pid, lock) => new PkiError('NG0909', {dir, pid, lock}),
  )
}
