/**
 * Checks of single values that several sections of the profile share: URLs, durations, interface
 * names, package repositories, Kubernetes labels and taints, kubelet flags. Each reports at the
 * field path it is given, so the section that calls it decides where a problem is shown.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import {
  expandRepository,
  isTemplate,
  PACKAGE_MIRRORS,
  REPOSITORY_PLACEHOLDERS,
  type RepositoryKind,
  repositoryTemplate,
  unknownPlaceholders,
} from '../repositories.js'
import type {Taint} from '../schema.js'
import {isFlagName, isLabelKey, isLabelValue, isSafeFlagValue, isSafeUrl, parseDuration, unsafeChar} from '../text.js'

export function checkUrl(report: Report, path: FieldPath, value: string): void {
  if (!isSafeUrl(value)) report.error(path, 'NG0308', {value: unsafeChar(value) ? JSON.stringify(value) : value})
}

/**
 * A Go duration in seconds, reported unless it parses to more than zero. One that does not parse
 * counts as 1 second, so that the checks comparing with it still run.
 */
export function checkDuration(report: Report, path: FieldPath, value: string): number {
  const d = parseDuration(value)
  if (d === undefined || d <= 0) report.error(path, 'NG0307', {value})
  return d ?? 1
}

export function checkInterface(report: Report, path: FieldPath, value: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(value))
    report.error(path, 'NG0301', {value, what: 'interface name', why: 'at most 15 letters, digits, ".", "_" or "-"'})
}

/**
 * A package repository: a known mirror's name, a URL template ({channel}, {minor}, {format}) or a
 * prefix URL under which the upstream layout continues.
 */
export function checkRepository(report: Report, path: FieldPath, kind: RepositoryKind, value: string): void {
  if (PACKAGE_MIRRORS[kind][value] !== undefined) return
  const unknown = unknownPlaceholders(value)
  if (unknown.length > 0) {
    report.error(path, 'NG0301', {
      value: JSON.stringify(value),
      what: 'repository template',
      why: `{${unknown[0]}} is no placeholder; a template may use ${REPOSITORY_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
    })
    return
  }
  if (isTemplate(value) && !/\{(channel|minor)\}/.test(value)) {
    report.error(path, 'NG0301', {
      value: JSON.stringify(value),
      what: 'repository template',
      why: 'it must name the Kubernetes stream with {channel} (v1.34) or {minor} (1.34)',
    })
    return
  }
  if (!value.includes('://') && /^[a-z0-9-]+$/.test(value)) {
    report.error(path, 'NG0301', {
      value,
      what: 'package mirror',
      why: `the known mirrors are ${Object.keys(PACKAGE_MIRRORS[kind]).join(', ')}; otherwise give a URL or a URL template`,
    })
    return
  }
  checkUrl(report, path, expandRepository(repositoryTemplate(kind, value), 'v1.34', 'deb'))
}

export function checkLabels(report: Report, path: FieldPath, labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (!isLabelKey(k)) report.error([...path, k], 'NG0303', {value: JSON.stringify(k)})
    else if (!isLabelValue(v)) report.error([...path, k], 'NG0304', {value: JSON.stringify(v)})
  }
}

export function checkTaints(report: Report, path: FieldPath, taints: Taint[]): void {
  taints.forEach((t, i) => {
    if (!isLabelKey(t.key)) report.error([...path, i, 'key'], 'NG0303', {value: JSON.stringify(t.key)})
    if (t.value !== undefined && !isLabelValue(t.value)) report.error([...path, i, 'value'], 'NG0304', {value: JSON.stringify(t.value)})
  })
}

/** kubelet flags: kubeadm writes them into a shell-quoted env file, so their values keep to a safe alphabet. */
export function checkExtraArgs(report: Report, path: FieldPath, args: Record<string, string>): void {
  for (const [k, v] of Object.entries(args)) {
    if (!isFlagName(k)) report.error([...path, k], 'NG0310', {value: JSON.stringify(k)})
    else if (!isSafeFlagValue(v))
      report.error([...path, k], 'NG0301', {
        value: JSON.stringify(v),
        what: 'flag value',
        why: 'letters, digits and . _ : / = , @ % + * ~ - only (kubeadm writes kubelet flags into a shell-quoted env file)',
      })
  }
}
