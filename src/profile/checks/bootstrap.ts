/**
 * spec.bootstrap: the bootstrap program's overall timeout and the URL it reports its phases to; and
 * the section as the Cluster carries it. Two checks, because the timeout is checked with the other
 * durations and the URL with the other free text (see buildCluster).
 */
import type {Report} from '../diagnostics.js'
import type {Cluster} from '../model.js'
import type {Profile} from '../schema.js'
import {checkDuration, checkUrl} from './fields.js'

type BootstrapSection = Profile['spec']['bootstrap']

/** The timeout in seconds. */
export function checkBootstrapTimeout(report: Report, bootstrap: BootstrapSection): number {
  return checkDuration(report, ['spec', 'bootstrap', 'timeout'], bootstrap.timeout)
}

export function checkStatusUrl(report: Report, bootstrap: BootstrapSection): void {
  if (bootstrap.statusUrl !== undefined) checkUrl(report, ['spec', 'bootstrap', 'statusUrl'], bootstrap.statusUrl)
}

export function bootstrapModel(bootstrap: BootstrapSection, timeoutSeconds: number): Cluster['bootstrap'] {
  return {
    timeoutSeconds,
    ...(bootstrap.statusUrl !== undefined ? {statusUrl: bootstrap.statusUrl} : {}),
    keepSecrets: bootstrap.keepSecrets,
  }
}
