/** When certificates expire, for `pki check-expiration`: arithmetic on the inventory's dates. */
import type {CertificateInfo} from './inspect.js'

export interface Expiring {
  file: string
  name: string
  member?: string
  notAfter: string
  /** Seconds from `now` to notAfter; negative when already expired. */
  remainingSeconds: number
  expired: boolean
  /** Expires inside the window (or already has). */
  within: boolean
}

/** For each certificate, when it expires relative to `now` and whether that is inside the window. */
export function expirations(certs: readonly CertificateInfo[], now: Date, windowSeconds: number): Expiring[] {
  return certs.map((c) => {
    const remainingSeconds = Math.floor((Date.parse(c.notAfter) - now.getTime()) / 1000)
    return {
      file: c.file,
      name: c.name,
      ...(c.member ? {member: c.member} : {}),
      notAfter: c.notAfter,
      remainingSeconds,
      expired: remainingSeconds <= 0,
      within: remainingSeconds <= windowSeconds,
    }
  })
}
