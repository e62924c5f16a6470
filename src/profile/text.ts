/** Checks for free-text profile values that end up in generated files, units and parameter files. */

/** Go's `time.ParseDuration` subset kubeadm uses: `24h`, `1h30m`, `90s`. Seconds, or undefined. */
export function parseDuration(s: string): number | undefined {
  if (!/^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$/.test(s)) return undefined
  let total = 0
  for (const m of s.matchAll(/([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)/g)) {
    const n = Number(m[1])
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000
  }
  return total
}

/** `86400` → `24h0m0s`, the form kubeadm prints and accepts. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = Math.round(seconds % 60)
  return `${h}h${m}m${s}s`
}

/** The first control character (other than those allowed) in a value, shown escaped. */
export function unsafeChar(s: string, allow = ''): string | undefined {
  for (const ch of s) {
    const c = ch.codePointAt(0) as number
    if ((c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0x2028 || c === 0x2029) && !allow.includes(ch)) {
      return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`
    }
  }
  return undefined
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/

/** Kubernetes qualified name: `[prefix/]name`. */
export function isLabelKey(s: string): boolean {
  const slash = s.indexOf('/')
  const name = slash < 0 ? s : s.slice(slash + 1)
  const prefix = slash < 0 ? undefined : s.slice(0, slash)
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) return false
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > 253) return false
    if (!prefix.split('.').every((l) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(l) && l.length <= 63)) return false
  }
  return true
}

export function isLabelValue(s: string): boolean {
  return s === '' || (s.length <= 63 && LABEL_NAME.test(s))
}

/**
 * A value that may be passed as a kubelet/component flag. kubeadm writes kubelet flags into
 * /var/lib/kubelet/kubeadm-flags.env inside one double-quoted shell word, so quotes, spaces, `$`,
 * backslashes and backticks there would change its meaning: they are refused, not escaped.
 */
export function isSafeFlagValue(s: string): boolean {
  return /^[A-Za-z0-9._:/=,@%+*~-]*$/.test(s)
}

export function isFlagName(s: string): boolean {
  return /^[a-z0-9][a-z0-9-]*$/.test(s) && s.length <= 100
}

export function isSafePath(s: string): boolean {
  return /^\/[A-Za-z0-9._/@+-]+$/.test(s) && !s.split('/').some((p) => p === '..' || p === '.') && !s.includes('//')
}

export function isUserName(s: string): boolean {
  return /^[a-z_][a-z0-9_-]{0,31}$/.test(s)
}

export function isOwner(s: string): boolean {
  return /^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/.test(s)
}

/** An http(s) URL made only of characters that need no quoting anywhere nodegen writes it. */
export function isSafeUrl(s: string): boolean {
  if (!/^https?:\/\/[A-Za-z0-9._~:/?#@!$&'()*+,;=%[\]-]+$/.test(s)) return false
  if (/['$;()!*]/.test(s)) return false
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0
  } catch {
    return false
  }
}

const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]

export function isSshPublicKey(s: string): boolean {
  const parts = s.trim().split(/ +/)
  if (parts.length < 2) return false
  if (!SSH_KEY_TYPES.includes(parts[0] as string)) return false
  if (!/^[A-Za-z0-9+/]+={0,3}$/.test(parts[1] as string)) return false
  return unsafeChar(s) === undefined
}

export function isImageRepository(s: string): boolean {
  return /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$/.test(s)
}

/** A container image reference with tag or digest. */
export function isImageRef(s: string): boolean {
  return /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/.test(
    s,
  )
}
