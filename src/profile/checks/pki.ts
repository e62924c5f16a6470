/**
 * spec.pki: the key algorithm the cluster's kubeadm can take, the validities of the CAs and the
 * leaves, and the renewal window of the leaves. Two functions, because the bootstrap token's and the
 * bootstrap's durations are checked between them (see buildCluster).
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {Profile} from '../schema.js'
import {formatDuration, parseDuration} from '../text.js'
import {checkDuration} from './fields.js'
import type {CheckedVersion} from './kubernetes.js'

type PkiSection = Profile['spec']['pki']

/** The renewal timer runs twice a day: a window shorter than two days leaves too few runs to retry in. */
export const MIN_RENEW_BEFORE_SECONDS = 48 * 3600
/** kubeadm's leaves are a year by default; renewing in the last 90 days leaves room for weeks of failed runs. */
export const DEFAULT_RENEW_BEFORE_SECONDS = 90 * 86400

/** The key algorithm against the Kubernetes version, then the validities in seconds. */
export function checkPki(
  report: Report,
  pki: PkiSection,
  version: CheckedVersion,
): {caValiditySeconds: number; certValiditySeconds: number} {
  const path: FieldPath = ['spec', 'pki']
  const {target} = version
  if ((pki.keyAlgorithm === 'RSA-3072' || pki.keyAlgorithm === 'RSA-4096') && version.known && !target.encryptionAlgorithmField)
    report.warn([...path, 'keyAlgorithm'], 'NG0419', {
      what: 'key algorithm',
      value: pki.keyAlgorithm,
      why: `kubeadm ${target.channel} (v1beta3) has no encryptionAlgorithm: nodegen issues the CAs with ${pki.keyAlgorithm}, but kubeadm signs the leaves it makes on the nodes with RSA-2048`,
    })
  if (pki.keyAlgorithm === 'ECDSA-P384' && version.known && !target.ecdsaP384)
    report.error([...path, 'keyAlgorithm'], 'NG0419', {
      what: 'key algorithm',
      value: 'ECDSA-P384',
      why: `kubeadm accepts it from 1.34, the profile has ${target.version}`,
    })
  const caValiditySeconds = checkDuration(report, [...path, 'caValidity'], pki.caValidity)
  const certValiditySeconds = checkDuration(report, [...path, 'certValidity'], pki.certValidity)
  return {caValiditySeconds, certValiditySeconds}
}

/**
 * spec.pki.renewBefore in seconds: the profile's, or 90 days (a quarter of the leaves' validity when
 * that is shorter). A window as long as the validity would renew at every timer run.
 */
export function checkRenewBefore(report: Report, pki: PkiSection, certSecs: number): number {
  const path: FieldPath = ['spec', 'pki', 'renewBefore']
  const value = pki.renewBefore
  if (value === undefined) return Math.min(DEFAULT_RENEW_BEFORE_SECONDS, Math.floor(certSecs / 4))
  const d = parseDuration(value)
  if (d === undefined || d <= 0) {
    report.error(path, 'NG0307', {value})
    return DEFAULT_RENEW_BEFORE_SECONDS
  }
  if (d < MIN_RENEW_BEFORE_SECONDS)
    report.error(path, 'NG0435', {value, why: 'is shorter than 48h: the renewal timer runs twice a day and needs room to retry'})
  else if (d >= certSecs)
    report.error(path, 'NG0435', {
      value,
      why: `is not shorter than certValidity (${formatDuration(certSecs)}): every timer run would renew the certificates again`,
    })
  return Math.floor(d)
}
