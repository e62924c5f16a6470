/**
 * spec.platform: the settings each platform needs (aws, gcp), where control planes' CA keys travel
 * on the clouds, and the network boot (pxe) settings that become lines of iPXE scripts. Two checks,
 * because the PXE settings are checked with the other free text (see buildCluster).
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {Profile} from '../schema.js'
import {unsafeChar} from '../text.js'
import {checkUrl} from './fields.js'

type PlatformSection = Profile['spec']['platform']

/** `insecureInlineSecrets`: the operator accepts CA keys in user-data on aws/gcp (a warning, not an error). */
export function checkPlatform(report: Report, platform: PlatformSection, insecureInlineSecrets: boolean): void {
  if (platform.type === 'aws' && !platform.aws) report.error(['spec', 'platform'], 'NG0421', {platform: 'aws'})
  if (platform.type === 'gcp' && !platform.gcp) report.error(['spec', 'platform'], 'NG0421', {platform: 'gcp'})
  checkSecretBackend(report, platform, insecureInlineSecrets)
}

export function checkPxe(report: Report, platform: PlatformSection): void {
  if (platform.pxe?.serverUrl !== undefined) checkUrl(report, ['spec', 'platform', 'pxe', 'serverUrl'], platform.pxe.serverUrl)
  // The kernel, initrds and arguments become lines of an iPXE script: one line each, no spaces in a URL.
  for (const [os, k] of Object.entries(platform.pxe?.kernel ?? {})) {
    const kp = ['spec', 'platform', 'pxe', 'kernel', os]
    const url = (p: FieldPath, v: string) => {
      if (unsafeChar(v)) report.error(p, 'NG0302', {char: unsafeChar(v) as string, what: 'an iPXE kernel or initrd'})
      else if (v === '' || /\s/.test(v))
        report.error(p, 'NG0301', {value: JSON.stringify(v), what: 'iPXE file', why: 'a URL or a path under the server, without spaces'})
    }
    url([...kp, 'kernel'], k.kernel)
    for (const [n, i] of k.initrd.entries()) url([...kp, 'initrd', n], i)
    if (k.args !== undefined && unsafeChar(k.args))
      report.error([...kp, 'args'], 'NG0302', {char: unsafeChar(k.args) as string, what: 'kernel arguments'})
  }
}

/**
 * On EC2 and GCE user-data stays readable through the metadata service: CA keys go to a secret
 * backend unless the operator insists. The region and project reach the node's fetch step (URLs,
 * SigV4 scope), so they must match the clouds' own grammars.
 */
function checkSecretBackend(report: Report, platform: PlatformSection, insecureInlineSecrets: boolean): void {
  const base: FieldPath = ['spec', 'platform']
  if (platform.type === 'aws' && platform.aws) {
    const path = [...base, 'aws', 'secretBackend']
    if (platform.aws.secretBackend === 'inline') {
      if (insecureInlineSecrets) {
        report.warn(path, 'NG0428', {platform: 'aws'})
        report.warn(path, 'NG0438')
      } else report.error(path, 'NG0427', {platform: 'aws', backend: 'aws-secrets-manager or ssm-parameter-store'})
    }
    if (!/^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/.test(platform.aws.region))
      report.error([...base, 'aws', 'region'], 'NG0301', {value: platform.aws.region, what: 'AWS region', why: 'like eu-west-1'})
  }
  if (platform.type === 'gcp' && platform.gcp) {
    const path = [...base, 'gcp', 'secretBackend']
    if (platform.gcp.secretBackend === 'inline') {
      if (insecureInlineSecrets) report.warn(path, 'NG0428', {platform: 'gcp'})
      else report.error(path, 'NG0427', {platform: 'gcp', backend: 'gcp-secret-manager'})
    }
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(platform.gcp.project))
      report.error([...base, 'gcp', 'project'], 'NG0301', {
        value: platform.gcp.project,
        what: 'GCP project id',
        why: '6 to 30 lowercase letters, digits and "-", starting with a letter',
      })
  }
}
