/**
 * Bootstrap tokens, generated the way client-go's `bootstraputil.GenerateBootstrapToken` does:
 * characters from `[a-z0-9]`, drawn from a CSPRNG with rejection sampling so every character is
 * equally likely.
 */
import {parseDuration} from '../profile/text.js'
import {BOOTSTRAP_TOKEN_DEFAULTS} from './certs.js'
import type {BootstrapToken, PkiContext} from './types.js'

export const TOKEN_CHARS = '0123456789abcdefghijklmnopqrstuvwxyz'
/** kubeadm's token format: `<6 id chars>.<16 secret chars>`. */
export const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/

/** The largest multiple of 36 that fits a byte: bytes at or above it are redrawn (no modulo bias). */
const MAX_BYTE = 252

/** `n` characters of `[a-z0-9]` from the random source. */
export function randomTokenChars(randomBytes: (n: number) => Uint8Array, n: number): string {
  let out = ''
  while (out.length < n) {
    for (const b of randomBytes(2 * (n - out.length))) {
      if (b < MAX_BYTE) out += TOKEN_CHARS[b % TOKEN_CHARS.length]
      if (out.length === n) break
    }
  }
  return out
}

/** A fresh token that lives `ttlSeconds` from the context's clock. */
export function newBootstrapToken(ctx: Pick<PkiContext, 'now' | 'randomBytes'>, ttlSeconds: number, description: string): BootstrapToken {
  const tokenId = randomTokenChars(ctx.randomBytes, 6)
  const tokenSecret = randomTokenChars(ctx.randomBytes, 16)
  const created = wholeSeconds(ctx.now)
  return {
    tokenId,
    tokenSecret,
    token: `${tokenId}.${tokenSecret}`,
    created: created.toISOString(),
    ttlSeconds,
    expires: new Date(created.getTime() + ttlSeconds * 1000).toISOString(),
    description,
    usages: [...BOOTSTRAP_TOKEN_DEFAULTS.usages],
    groups: [...BOOTSTRAP_TOKEN_DEFAULTS.groups],
  }
}

/** The token without its secret, for output that must never carry it. */
export function redactToken(t: BootstrapToken): Omit<BootstrapToken, 'tokenSecret' | 'token'> {
  const {tokenSecret: _s, token: _t, ...rest} = t
  return rest
}

/** A date truncated to whole seconds (X.509 times have no fractions). */
export function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000)
}

/**
 * A window length in seconds: Go's durations (`720h`, `1h30m`) plus whole days (`30d`, `1d12h`),
 * which Go lacks but people type. Undefined when it is neither, or not positive.
 */
export function parseWindow(s: string): number | undefined {
  const m = /^(?:([0-9]+)d)?(.*)$/.exec(s.trim())
  if (!m) return undefined
  const days = m[1] ? Number(m[1]) * 86400 : 0
  const rest = m[2] ?? ''
  if (rest === '') return days > 0 ? days : undefined
  const secs = parseDuration(rest)
  if (secs === undefined) return undefined
  const total = days + secs
  return total > 0 ? total : undefined
}
