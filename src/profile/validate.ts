/**
 * Semantic checks over a schema-valid profile, and its normalisation into the {@link Cluster}
 * model. Pure: every problem goes into the report with its field path; nothing throws.
 */
import {bootstrapModel, checkBootstrapTimeout, checkStatusUrl} from './checks/bootstrap.js'
import {checkBootstrapToken, checkTokenLifetime} from './checks/bootstrap-token.js'
import {checkContainerRuntime, checkRuntimeRepositories, runtimeModel} from './checks/container-runtime.js'
import {checkEndpoint, loadBalancerModel} from './checks/endpoint.js'
import {checkExtraArgs, checkLabels, checkTaints, checkUrl} from './checks/fields.js'
import {checkFeatureGates, checkKubeadmOptions, checkKubernetes, kubernetesModel} from './checks/kubernetes.js'
import {checkMetadata} from './checks/metadata.js'
import {checkNetworking, networkingModel} from './checks/networking.js'
import {checkClusterShape, checkNodes} from './checks/nodes.js'
import {checkPki, checkRenewBefore} from './checks/pki.js'
import {checkPlatform, checkPxe} from './checks/platform.js'
import type {FieldPath, Report} from './diagnostics.js'
import {imageMirrorOf, mirrorImage} from './image-mirror.js'
import type {Cluster, ClusterNode} from './model.js'
import type {Profile} from './schema.js'
import {isOwner, isSafePath, isSafeUrl, isSshPublicKey, isUserName, unsafeChar} from './text.js'

/** Options of the commands that turn a profile into user-data. */
export interface BuildOptions {
  /** Accept `secretBackend: inline` on aws/gcp (CA keys in user-data), with a warning. @default false */
  insecureInlineSecrets?: boolean
}

/** Validates and normalises. Returns undefined when the report has errors. */
export function buildCluster(p: Profile, source: string, report: Report, opts: BuildOptions = {}): Cluster | undefined {
  const s = p.spec
  const spec: FieldPath = ['spec']

  // The order of these calls is the order of the diagnostics, which users read and the tests
  // compare: some sections are checked in steps because another section's checks come in between.
  checkMetadata(report, p.metadata)
  const version = checkKubernetes(report, s.kubernetes)
  const target = version.target
  checkRuntimeRepositories(report, s.containerRuntime)
  checkFeatureGates(report, s.kubernetes, version)
  const validity = checkPki(report, s.pki, version)
  const bootstrapToken = checkBootstrapToken(report, s.bootstrapToken)
  const timeoutSeconds = checkBootstrapTimeout(report, s.bootstrap)
  const renewBeforeSeconds = checkRenewBefore(report, s.pki, validity.certValiditySeconds)
  const kubeadm = checkKubeadmOptions(report, s.kubernetes, target)
  checkTokenLifetime(report, s.bootstrapToken, bootstrapToken.ttlSeconds, s.platform.type)
  const networks = checkNetworking(report, s.networking)
  const nodes = checkNodes(report, s, networks)
  checkContainerRuntime(report, s.containerRuntime, target, nodes)
  checkClusterShape(report, s.topology, nodes)

  const endpoint = checkEndpoint(report, s, nodes)
  checkPlatform(report, s.platform, Boolean(opts.insecureInlineSecrets))

  // Free text
  checkLabels(report, [...spec, 'kubelet', 'labels'], s.kubelet.labels)
  checkTaints(report, [...spec, 'kubelet', 'taints'], s.kubelet.taints)
  checkExtraArgs(report, [...spec, 'kubelet', 'extraArgs'], s.kubelet.extraArgs)
  const userNames = new Set<string>()
  s.users.forEach((u, i) => {
    const up: FieldPath = [...spec, 'users', i]
    if (!isUserName(u.name))
      report.error([...up, 'name'], 'NG0301', {
        value: u.name,
        what: 'user name',
        why: 'lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32',
      })
    if (userNames.has(u.name)) report.error([...up, 'name'], 'NG0205', {what: 'user', value: u.name, other: 'an earlier entry'})
    userNames.add(u.name)
    u.sshAuthorizedKeys.forEach((k, j) => {
      if (!isSshPublicKey(k)) report.error([...up, 'sshAuthorizedKeys', j], 'NG0309', {value: k.length > 40 ? `${k.slice(0, 40)}…` : k})
    })
    u.groups.forEach((g, j) => {
      if (!isUserName(g))
        report.error([...up, 'groups', j], 'NG0301', {value: g, what: 'group name', why: 'lowercase letters, digits, "_" and "-"'})
    })
    if (!isSafePath(u.shell)) report.error([...up, 'shell'], 'NG0305', {value: u.shell})
  })
  if (s.proxy) {
    const pp = [...spec, 'proxy']
    if (s.proxy.http !== undefined) checkUrl(report, [...pp, 'http'], s.proxy.http)
    if (s.proxy.https !== undefined) checkUrl(report, [...pp, 'https'], s.proxy.https)
    s.proxy.noProxy.forEach((e, i) => {
      if (!/^[A-Za-z0-9.*/:_-]+$/.test(e))
        report.error([...pp, 'noProxy', i], 'NG0301', {value: e, what: 'no_proxy entry', why: 'a host, domain, IP or CIDR'})
    })
  }
  const filePaths = new Set<string>()
  s.files.forEach((f, i) => {
    const fp: FieldPath = [...spec, 'files', i]
    if (!isSafePath(f.path)) report.error([...fp, 'path'], 'NG0305', {value: f.path})
    if (filePaths.has(f.path)) report.error([...fp, 'path'], 'NG0205', {what: 'file path', value: f.path, other: 'an earlier entry'})
    filePaths.add(f.path)
    if (!/^0?[0-7]{3,4}$/.test(f.mode)) report.error([...fp, 'mode'], 'NG0306', {value: f.mode})
    if (!isOwner(f.owner)) report.error([...fp, 'owner'], 'NG0301', {value: f.owner, what: 'owner', why: 'user or user:group'})
    const bad = unsafeChar(f.content, '\n\t\r')
    if (bad) report.error([...fp, 'content'], 'NG0302', {char: bad, what: 'file content'})
    const receivers = nodes.filter((n) => !f.roles || f.roles.includes(n.role))
    const ign = receivers.find((n) => n.format === 'ignition')
    // Ignition before spec 3.6.0 drops setuid, setgid and sticky bits: the file would differ from the profile.
    if (ign && /^0?[0-7]{3,4}$/.test(f.mode) && (Number.parseInt(f.mode, 8) & 0o7000) !== 0)
      report.error([...fp, 'mode'], 'NG0424', {mode: f.mode, version: s.ignition.version, node: ign.name})
    const fc = receivers.find((n) => n.family === 'flatcar')
    if (fc && (f.path === '/usr' || f.path.startsWith('/usr/'))) report.error([...fp, 'path'], 'NG0425', {path: f.path, node: fc.name})
  })
  checkStatusUrl(report, s.bootstrap)
  checkPxe(report, s.platform)

  const airgap = s.airgap && checkAirgap(report, [...spec, 'airgap'], s, nodes)

  if (!report.ok) return undefined

  return {
    name: p.metadata.name,
    source,
    kubernetes: kubernetesModel(s.kubernetes, target, kubeadm, airgap?.bundle),
    topology: s.topology,
    endpoint,
    loadBalancer: loadBalancerModel(s),
    networking: networkingModel(s.networking, networks, nodes.length),
    runtime: runtimeModel(s.containerRuntime, target),
    image: s.image,
    ...(airgap ? {airgap} : {}),
    ignition: s.ignition,
    pki: {keyAlgorithm: s.pki.keyAlgorithm, ...validity, renewBeforeSeconds},
    upgrade: {maxUnavailableWorkers: s.upgrade.maxUnavailableWorkers},
    bootstrapToken,
    users: s.users,
    ...(s.proxy ? {proxy: s.proxy} : {}),
    firewall: s.firewall,
    selinux: s.selinux,
    files: s.files,
    kubelet: s.kubelet,
    bootstrap: bootstrapModel(s.bootstrap, timeoutSeconds),
    platform: s.platform,
    nodes,
  }
}

/**
 * An air-gapped profile: the bundle's URL and pin, and every source a node would take from the
 * internet by default refused, naming the field that points it elsewhere. Returns the normalised
 * settings (the bundle URL ending in `/`, the pin in lowercase).
 */
function checkAirgap(report: Report, path: FieldPath, s: Profile['spec'], nodes: ClusterNode[]): {bundle?: string; sha256?: string} {
  const a = s.airgap ?? {}
  const spec = path.slice(0, -1)
  if (a.bundle !== undefined) checkUrl(report, [...path, 'bundle'], a.bundle)
  // Nodes append paths to the bundle's URL (SHA256SUMS, os/<os>/, images/…): a query or fragment
  // would end up before them.
  if (a.bundle !== undefined && isSafeUrl(a.bundle) && /[?#]/.test(a.bundle))
    report.error([...path, 'bundle'], 'NG0301', {
      value: a.bundle,
      what: 'bundle URL',
      why: 'paths are appended to it, so it takes no query (?) or fragment (#)',
    })
  if (a.sha256 !== undefined && !/^[0-9A-Fa-f]{64}$/.test(a.sha256))
    report.error([...path, 'sha256'], 'NG0301', {value: a.sha256, what: 'SHA-256 digest', why: 'it must be 64 hexadecimal digits'})
  const bundle = a.bundle !== undefined ? `${a.bundle.replace(/\/+$/, '')}/` : undefined
  const internet = (field: FieldPath, what: string, source: string, fix: string) =>
    report.error([...spec, ...field], 'NG0429', {what, source, fix})
  const families = new Set(nodes.map((n) => n.family))
  if (s.containerRuntime.type === 'cri-o' && bundle) report.error([...spec, 'containerRuntime', 'type'], 'NG0430')
  if (!bundle) {
    if (s.kubernetes.packageRepository === undefined && (families.has('rhel') || families.has('debian')))
      internet(
        ['kubernetes', 'packageRepository'],
        'kubelet, kubeadm and kubectl',
        'https://pkgs.k8s.io',
        'set spec.airgap.bundle or a mirror',
      )
    if (
      s.containerRuntime.type === 'containerd' &&
      (s.containerRuntime.source ?? 'docker') === 'docker' &&
      !s.containerRuntime.dockerRepository
    )
      internet(
        ['containerRuntime', 'dockerRepository'],
        'containerd.io',
        'https://download.docker.com',
        'set spec.airgap.bundle or a mirror',
      )
    if (s.containerRuntime.type === 'cri-o' && !s.containerRuntime.crioRepository)
      internet(['containerRuntime', 'crioRepository'], 'CRI-O', 'download.opensuse.org', 'set a mirror')
  }
  // Every node imports its images from the bundle (bundle.sh with ctr, Flatcar's included).
  const imagesFromBundle = bundle !== undefined
  const imageFix = (what: string) => `set spec.airgap.bundle or ${what}`
  if (!imagesFromBundle && s.kubernetes.imageRepository === 'registry.k8s.io')
    internet(['kubernetes', 'imageRepository'], 'the control-plane images', 'registry.k8s.io', imageFix('a registry mirror'))
  if (s.networking.cni.type !== 'none' && s.networking.cni.manifestFile === undefined && s.networking.cni.manifestUrl === undefined)
    internet(
      ['networking', 'cni'],
      "the CNI's manifest",
      'its release on GitHub',
      'set manifestFile (the manifest travels in the seed) or a manifestUrl on your network',
    )
  const kubeVipImage = mirrorImage(s.loadBalancer.kubeVipImage, imageMirrorOf(s.kubernetes.imageRepository, s.kubernetes.imageMirrors))
  if (s.loadBalancer.type === 'kube-vip' && !imagesFromBundle && kubeVipImage.startsWith('ghcr.io/'))
    internet(['loadBalancer', 'kubeVipImage'], 'the kube-vip image', 'ghcr.io', imageFix('a mirrored image'))
  // With a bundle the sysext comes from its sysext/ directory (the normalised sysextRepository).
  if (families.has('flatcar') && s.kubernetes.sysextRepository === undefined && !bundle)
    internet(
      ['kubernetes', 'sysextRepository'],
      "Flatcar's Kubernetes sysext image",
      'https://extensions.flatcar.org',
      'set spec.airgap.bundle or a mirror',
    )
  return {...(bundle ? {bundle} : {}), ...(a.sha256 ? {sha256: a.sha256.toLowerCase()} : {})}
}
