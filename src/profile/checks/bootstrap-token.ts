/**
 * spec.bootstrapToken: the lifetime of the init token and of the token calendar's windows, and a
 * warning when a token may expire before a machine on the profile's platform gets to join. Two
 * functions, because the lifetimes are checked with the other durations and the warning after
 * kubeadm's options (see buildCluster).
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {Cluster} from '../model.js'
import type {PlatformType, Profile} from '../schema.js'
import {checkDuration} from './fields.js'

type TokenSection = Profile['spec']['bootstrapToken']

/** Seconds a machine typically needs from launch to `kubeadm join`, per platform, for the TTL warning. */
const PROVISIONING_SECONDS = {nocloud: 1800, configdrive: 1800, pxe: 3600, aws: 900, gcp: 900} as const

/** The token's lifetime and the calendar's window, in seconds: the section as the Cluster carries it. */
export function checkBootstrapToken(report: Report, token: TokenSection): Cluster['bootstrapToken'] {
  const path: FieldPath = ['spec', 'bootstrapToken']
  const ttlSeconds = checkDuration(report, [...path, 'ttl'], token.ttl)
  const windowSeconds = checkDuration(report, [...path, 'window'], token.window)
  return {ttlSeconds, windowSeconds}
}

export function checkTokenLifetime(report: Report, token: TokenSection, ttlSeconds: number, platform: PlatformType): void {
  if (ttlSeconds < PROVISIONING_SECONDS[platform])
    report.warn(['spec', 'bootstrapToken', 'ttl'], 'NG0420', {
      ttl: token.ttl,
      expected: `${PROVISIONING_SECONDS[platform] / 60}m`,
      platform,
    })
}
