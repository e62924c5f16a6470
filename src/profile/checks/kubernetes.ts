/**
 * spec.kubernetes: the version and the {@link KubernetesTarget} it selects, where images, packages
 * and Flatcar's sysext come from, feature gates, kubeadm's waits and preflight checks, the
 * control-plane components' extra flags; and the section as the Cluster carries it. The checks are
 * three functions because other sections' checks run between them (see buildCluster).
 */
import type {FieldPath, Report} from '../diagnostics.js'
import {
  CONTROL_PLANE_COMPONENTS,
  isSupported,
  KUBEADM_PATCH_TARGETS,
  KUBEADM_TIMEOUTS,
  type KubeadmPatchTarget,
  type KubeadmTimeout,
  type KubernetesTarget,
  kubernetesTarget,
  parseVersion,
  SUPPORTED_RANGE,
} from '../kubernetes.js'
import type {Cluster, KubeadmPatchSpec} from '../model.js'
import {repositoryTemplate} from '../repositories.js'
import type {Profile} from '../schema.js'
import {isFlagName, isImageRepository, parseDuration} from '../text.js'
import {checkRepository, checkUrl} from './fields.js'

type KubernetesSection = Profile['spec']['kubernetes']

/**
 * The target the profile's version selects. When the version does not parse (already reported)
 * `known` is false and the target is 1.34's, so that the checks depending on it still run; those
 * that judge the version itself skip.
 */
export interface CheckedVersion {
  target: KubernetesTarget
  known: boolean
}

/** kubeadm's options the checks normalise: waits in seconds, preflight checks lowercased. */
export interface KubeadmOptions {
  timeouts: Partial<Record<KubeadmTimeout, number>>
  ignorePreflightErrors: string[]
  patches: KubeadmPatchSpec[]
}

/** The version, and the repositories the images, packages and the sysext come from. */
export function checkKubernetes(report: Report, k: KubernetesSection): CheckedVersion {
  const path: FieldPath = ['spec', 'kubernetes']
  const v = parseVersion(k.version)
  const vPath = [...path, 'version']
  if (!v) report.error(vPath, 'NG0407', {value: k.version})
  else if (!isSupported(v)) report.error(vPath, 'NG0406', {version: k.version, range: SUPPORTED_RANGE})
  const target = kubernetesTarget(v ?? {major: 1, minor: 34, patch: 0})
  if (!isImageRepository(k.imageRepository)) report.error([...path, 'imageRepository'], 'NG0311', {value: k.imageRepository})
  if (k.packageRepository !== undefined) checkRepository(report, [...path, 'packageRepository'], 'kubernetes', k.packageRepository)
  for (const [from, to] of Object.entries(k.imageMirrors ?? {})) {
    const at = [...path, 'imageMirrors', from]
    // Keys and values are repositories: the image's tag or digest is kept, so neither may carry one.
    if (!isImageRepository(from)) report.error(at, 'NG0311', {value: from})
    if (!isImageRepository(to)) report.error(at, 'NG0311', {value: to})
  }
  if (k.sysextRepository !== undefined) checkUrl(report, [...path, 'sysextRepository'], k.sysextRepository)
  if (k.sysextSha512 !== undefined && !/^[0-9a-fA-F]{128}$/.test(k.sysextSha512))
    report.error([...path, 'sysextSha512'], 'NG0301', {
      value: k.sysextSha512,
      what: 'SHA-512 digest',
      why: 'it must be 128 hexadecimal digits',
    })
  return {target, known: v !== undefined}
}

export function checkFeatureGates(report: Report, k: KubernetesSection, version: CheckedVersion): void {
  const {target} = version
  for (const gate of Object.keys(k.featureGates)) {
    const gPath = ['spec', 'kubernetes', 'featureGates', gate]
    if (!/^[A-Za-z0-9]+$/.test(gate)) report.error(gPath, 'NG0301', {value: gate, what: 'feature gate', why: 'letters and digits only'})
    if (gate === 'EtcdLearnerMode' && version.known && !target.learnerGateAllowed)
      report.error(gPath, 'NG0301', {
        value: gate,
        what: 'feature gate',
        why: `kubeadm ${target.channel} rejects it: etcd learner mode is always on since 1.33`,
      })
  }
}

/** kubeadm's waits, its ignored preflight checks, its patches and the control-plane components' extra flags. */
export function checkKubeadmOptions(
  report: Report,
  k: KubernetesSection,
  target: KubernetesTarget,
  topology: Cluster['topology'],
): KubeadmOptions {
  const path: FieldPath = ['spec', 'kubernetes']
  const timeouts: Partial<Record<KubeadmTimeout, number>> = {}
  for (const t of KUBEADM_TIMEOUTS) {
    const value = k.timeouts?.[t.name]
    if (value === undefined) continue
    const tPath: FieldPath = [...path, 'timeouts', t.name]
    const d = parseDuration(value)
    if (d === undefined || d <= 0) report.error(tPath, 'NG0307', {value})
    else timeouts[t.name] = d
    if (target.kubeadmApi === 'v1beta3' && !('v1beta3' in t)) report.warn(tPath, 'NG0434', {name: t.name, version: k.version})
  }
  const ignorePreflightErrors = preflightChecks(report, [...path, 'ignorePreflightErrors'], k.ignorePreflightErrors)
  for (const c of CONTROL_PLANE_COMPONENTS) checkComponentArgs(report, [...path, 'extraArgs', c.name], c, k.extraArgs[c.name])
  const patches = k.patches.flatMap((p, i) => checkPatch(report, [...path, 'patches', i], p, target, topology))
  return {timeouts, ignorePreflightErrors, patches}
}

/** JSON patch operations (RFC 6902, section 4) and the members each needs besides op and path. */
const JSON_PATCH_OPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  add: ['value'],
  remove: [],
  replace: ['value'],
  move: ['from'],
  copy: ['from'],
  test: ['value'],
})

/**
 * One kubeadm patch: a target kubeadm of the profile's version knows and that applies to this
 * topology, and a patch of the shape its type needs (kubeadm itself only finds out on the node).
 */
function checkPatch(
  report: Report,
  path: FieldPath,
  p: KubernetesSection['patches'][number],
  target: KubernetesTarget,
  topology: Cluster['topology'],
): KubeadmPatchSpec[] {
  const t = KUBEADM_PATCH_TARGETS.find((x) => x.name === p.target)
  let ok = true
  if (t && target.minor < t.since) {
    report.error([...path, 'target'], 'NG0440', {
      value: p.target,
      why: `needs Kubernetes 1.${t.since} or later (kubeadm 1.${target.minor} does not know it)`,
    })
    ok = false
  }
  if (p.target === 'etcd' && topology === 'external') {
    report.error([...path, 'target'], 'NG0440', {
      value: p.target,
      why: 'patches the stacked etcd kubeadm runs, and this cluster has external etcd: give its members spec.kubernetes.extraArgs.etcd',
    })
    ok = false
  }
  if (p.type === 'json') {
    if (!Array.isArray(p.patch)) {
      report.error([...path, 'patch'], 'NG0441', {type: 'json', why: 'is a list of operations ({op, path, value}), not an object'})
      return []
    }
    for (const [i, op] of p.patch.entries()) {
      const need = typeof op.op === 'string' ? JSON_PATCH_OPS[op.op] : undefined
      const why =
        need === undefined
          ? `has op ${JSON.stringify(op.op)}: one of ${Object.keys(JSON_PATCH_OPS).join(', ')}`
          : typeof op.path !== 'string' || (op.path !== '' && !op.path.startsWith('/'))
            ? 'has a path that is not a JSON pointer (like /spec/containers/0/livenessProbe)'
            : need.find((m) => !(m in op)) !== undefined
              ? `${op.op} needs ${need.join(' and ')}`
              : undefined
      if (why !== undefined) {
        report.error([...path, 'patch', i], 'NG0441', {type: 'json', why: `operation ${why}`})
        ok = false
      }
    }
  } else if (Array.isArray(p.patch)) {
    report.error([...path, 'patch'], 'NG0441', {
      type: p.type,
      why: 'is an object (the fields to change), not a list; a list of operations is type json',
    })
    ok = false
  }
  return ok ? [{target: p.target as KubeadmPatchTarget, type: p.type, patch: p.patch}] : []
}

/**
 * The section as the Cluster carries it. `bundle` is the air-gap bundle's URL (ending in `/`): it
 * carries pkgs.k8s.io's layout under kubernetes/ and the sysext under sysext/; a repository the
 * profile names wins over both.
 */
export function kubernetesModel(
  k: KubernetesSection,
  target: KubernetesTarget,
  kubeadm: KubeadmOptions,
  bundle: string | undefined,
): Cluster['kubernetes'] {
  const sysextRepository = k.sysextRepository ?? (bundle ? `${bundle}sysext` : 'https://extensions.flatcar.org/extensions')
  return {
    ...target,
    imageRepository: k.imageRepository,
    imageMirrors: k.imageMirrors ?? {},
    packageRepository: repositoryTemplate('kubernetes', k.packageRepository ?? (bundle && `${bundle}kubernetes`)),
    featureGates: k.featureGates,
    ignorePreflightErrors: kubeadm.ignorePreflightErrors,
    timeouts: kubeadm.timeouts,
    extraArgs: k.extraArgs,
    patches: kubeadm.patches,
    sysextRepository: sysextRepository.replace(/\/+$/, ''),
    ...(k.sysextSha512 !== undefined ? {sysextSha512: k.sysextSha512.toLowerCase()} : {}),
  }
}

/**
 * kubeadm's preflight check names (NumCPU, Port-10250, FileContent--proc-sys-net-ipv4-ip_forward),
 * compared lowercased as kubeadm compares them; `all` stands alone, as kubeadm requires. They travel
 * in the kubeadm configuration's nodeRegistration, never on a command line.
 */
function preflightChecks(report: Report, path: FieldPath, names: string[]): string[] {
  const seen = new Set<string>()
  names.forEach((name, i) => {
    if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(name))
      report.error([...path, i], 'NG0439', {value: JSON.stringify(name), why: 'is not a check name (letters, digits, ".", "_" and "-")'})
    else seen.add(name.toLowerCase())
  })
  if (seen.has('all') && seen.size > 1)
    report.error(path, 'NG0439', {value: 'all', why: 'ignores every check: kubeadm refuses it beside single checks, so name it alone'})
  return [...seen].sort()
}
/**
 * A control-plane component's extra flags reach its static pod's command as YAML list items (no
 * shell reads them), so any one-line value is safe; the flags nodegen sets itself are refused.
 */
function checkComponentArgs(
  report: Report,
  path: FieldPath,
  c: (typeof CONTROL_PLANE_COMPONENTS)[number],
  args: Record<string, string>,
): void {
  const managed: Readonly<Record<string, string>> = c.managed
  for (const [flag, value] of Object.entries(args)) {
    if (!isFlagName(flag)) report.error([...path, flag], 'NG0437', {pod: c.pod, value: JSON.stringify(flag)})
    else if (managed[flag] !== undefined)
      report.error([...path, flag], 'NG0436', {flag, pod: c.pod, from: managed[flag], component: c.name})
    else if (/[\u0000-\u001f\u007f]/.test(value))
      report.error([...path, flag], 'NG0301', {
        value: JSON.stringify(value),
        what: 'flag value',
        why: 'one line without control characters',
      })
  }
}
