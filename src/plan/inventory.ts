/**
 * Everything a cluster's nodes download, for mirrors and air-gapped sites: every container image
 * with its full reference and the roles that pull it, and per OS the packages the package phase
 * installs (or Flatcar's sysext image) with their pinned versions and repositories. Pure: the CNI
 * manifest file's text comes in as an argument. Each fact is read from the table that drives the
 * nodes themselves (the version tables, CNI_INFO, the repository functions, the etcd pod, the
 * kube-vip pod), so the list cannot drift from what a node does.
 *
 * The package lists mirror assets/bootstrap/install-packages.sh; the test that runs that script
 * with recording stand-ins (test/integration/bootstrap/install-packages-inventory.test.ts) fails
 * when the two disagree.
 */
import {parseAllDocuments} from 'yaml'
import {CNI_INFO} from '../profile/cni.js'
import {
  type Cluster,
  type ClusterNode,
  type Diagnostic,
  type ImageMirror,
  imageMirrorOf,
  mirrorImage,
  type OsFamily,
  type OsId,
  type PackageFormat,
  Report,
  ROLES,
  type Role,
} from '../profile/index.js'
import {etcdImageTag} from './etcd/versions.js'
import {sysextImage} from './flatcar/index.js'
import {dockerRepository, sandboxImage} from './os/index.js'
import {crioRepository, kubernetesRepository, runtimeSource} from './params.js'

/** kubeadm's default image repository: the only one under which it puts CoreDNS at `coredns/coredns`. */
export const KUBEADM_DEFAULT_REPOSITORY = 'registry.k8s.io'

/**
 * Where an image's name comes from: kubeadm's own list (`kubeadm config images list`), a pod nodegen
 * writes (the external etcd members, kube-vip), the profile's CNI manifest file, or the table of the
 * CNI's release manifest (when nodes fetch that manifest at boot).
 */
export type ImageSource = 'kubeadm' | 'nodegen' | 'cni-manifest' | 'cni-release-manifest'

export interface InventoryImage {
  /** The full reference a node pulls: `registry.k8s.io/kube-apiserver:v1.34.2`. */
  image: string
  /** `kube-apiserver`, `etcd`, `coredns`, `pause`, `kube-vip`, `cni` … */
  component: string
  /** The roles of the cluster's nodes that pull it, in role order. */
  roles: Role[]
  source: ImageSource
  /** The reference upstream names, when the profile's mirror rewrote it (spec.kubernetes.imageMirrors). */
  upstream?: string
  /** How the image runs, where that is not plain (a static pod, a DaemonSet from the manifest). */
  note?: string
}

export interface InventoryRepository {
  /** `kubernetes`, `cri-o`, `docker`. */
  name: string
  url: string
  /** apt's suite and component, where the repository is not a flat one. */
  suite?: string
}

export interface InventoryPackage {
  name: string
  /** The version nodegen pins; absent: the repository's current one. */
  version?: string
  /** What the package manager is asked for: `kubelet-1.34.2` (dnf), `kubelet=1.34.2-*` (apt). */
  request: string
  /** The repository's name in the OS's `repositories`, or `distribution` (the OS's own). */
  repository: string
  roles: Role[]
  /** Held at that version (apt-mark hold; the rpm repository's exclude=). */
  held?: boolean
  /** Installed as a dependency of another package, which names it. */
  dependencyOf?: string
  /** Installed only in this case. */
  when?: string
}

export interface InventoryOs {
  os: OsId
  family: OsFamily
  /** The nodes on this OS, in profile order. */
  nodes: string[]
  roles: Role[]
  repositories: InventoryRepository[]
  packages: InventoryPackage[]
  /** Flatcar: the kubernetes sysext image Ignition fetches instead of packages. */
  sysext?: {name: string; version: string; file: string; url: string; sha512?: string}
}

export interface Inventory {
  kubernetesVersion: string
  imageRepository: string
  images: InventoryImage[]
  os: InventoryOs[]
  /** Whether every image is known: false when the CNI manifest's images are not. */
  complete: boolean
  /** The node image is baked: packages and pre-pulled images come with it rather than at first boot. */
  baked: boolean
  diagnostics: Diagnostic[]
}

export interface InventoryOptions {
  /** The text of spec.networking.cni.manifestFile, read by the caller. */
  cniManifest?: string
}

function rolesOf(nodes: readonly ClusterNode[], want: readonly Role[] = ROLES): Role[] {
  const present = new Set(nodes.map((n) => n.role))
  return ROLES.filter((r) => present.has(r) && want.includes(r))
}

/** The images kubeadm pulls for a cluster, as `kubeadm config images list --config` names them. */
export function kubeadmImages(cluster: Cluster): Array<{component: string; image: string}> {
  const k = cluster.kubernetes
  const repo = k.imageRepository
  const tag = `v${k.version}`
  // kubeadm's GetDNSImage: the official image moved to registry.k8s.io/coredns/coredns; a custom
  // repository keeps the old layout, <repository>/coredns:<tag>.
  const dnsRepo = repo === KUBEADM_DEFAULT_REPOSITORY ? `${repo}/coredns` : repo
  const images = [
    {component: 'kube-apiserver', image: `${repo}/kube-apiserver:${tag}`},
    {component: 'kube-controller-manager', image: `${repo}/kube-controller-manager:${tag}`},
    {component: 'kube-scheduler', image: `${repo}/kube-scheduler:${tag}`},
    {component: 'kube-proxy', image: `${repo}/kube-proxy:${tag}`},
    {component: 'coredns', image: `${dnsRepo}/coredns:${k.coreDnsVersion}`},
    {component: 'pause', image: sandboxImage(cluster)},
  ]
  if (cluster.topology === 'stacked') images.push({component: 'etcd', image: etcdImage(cluster)})
  return images
}

function etcdImage(cluster: Cluster): string {
  return `${cluster.kubernetes.imageRepository}/etcd:${etcdImageTag(cluster.kubernetes.minor)}`
}

/** Every `image` of the containers and initContainers of any pod template in a manifest. */
export function manifestImages(text: string): {images: string[]; error?: string} {
  const found = new Set<string>()
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x)
    else if (v !== null && typeof v === 'object') {
      for (const [key, value] of Object.entries(v)) {
        if ((key === 'containers' || key === 'initContainers') && Array.isArray(value))
          for (const c of value) {
            const image = (c as {image?: unknown} | null)?.image
            if (typeof image === 'string' && image !== '') found.add(image)
          }
        walk(value)
      }
    }
  }
  for (const doc of parseAllDocuments(text)) {
    const err = 'errors' in doc ? doc.errors[0] : undefined
    if (err) return {images: [], error: err.message.split('\n')[0]}
    walk(doc.toJS({maxAliasCount: 100}))
  }
  return {images: [...found].sort()}
}

/** The mirror a cluster's images map to (spec.kubernetes.imageRepository and imageMirrors). */
export function clusterImageMirror(cluster: Cluster) {
  return imageMirrorOf(cluster.kubernetes.imageRepository, cluster.kubernetes.imageMirrors)
}

function mirrored(image: string, mirror: ImageMirror): {image: string; upstream?: string} {
  const to = mirrorImage(image, mirror)
  return to === image ? {image} : {image: to, upstream: image}
}

/**
 * The CNI's images as the nodes pull them: the manifest's (or the release manifest's) references
 * under the profile's mirror, as the manifest control plane 0 applies names them.
 */
function cniImages(cluster: Cluster, nodes: Role[], opts: InventoryOptions, report: Report): InventoryImage[] {
  const cni = cluster.networking.cni
  if (cni.type === 'none') return []
  const path = ['spec', 'networking', 'cni']
  const mirror = clusterImageMirror(cluster)
  if (cni.manifestFile !== undefined) {
    const {images, error} = manifestImages(opts.cniManifest ?? '')
    if (error !== undefined) report.error([...path, 'manifestFile'], 'NG0501', {file: cni.manifestFile, reason: error})
    return images.map((image) => ({
      ...mirrored(image, mirror),
      component: 'cni',
      roles: nodes,
      source: 'cni-manifest' as const,
      note: cni.manifestFile,
    }))
  }
  const info = CNI_INFO[cni.type]
  const release = info.manifestUrl?.(info.defaultVersion)
  if (info.releaseImages && cni.version === info.defaultVersion && cni.manifestUrl === release)
    return info.releaseImages.map((image) => ({
      ...mirrored(image, mirror),
      component: 'cni',
      roles: nodes,
      source: 'cni-release-manifest' as const,
      note: `${cni.type} ${cni.version} release manifest`,
    }))
  report.warn([...path, 'manifestUrl'], 'NG0502', {url: cni.manifestUrl ?? '-', cni: cni.type, version: info.defaultVersion})
  return []
}

function images(cluster: Cluster, opts: InventoryOptions, report: Report): InventoryImage[] {
  const all = rolesOf(cluster.nodes)
  const kube = rolesOf(cluster.nodes, ['control-plane', 'worker'])
  const out: InventoryImage[] = []
  for (const {component, image} of kubeadmImages(cluster)) {
    const roles =
      component === 'pause' ? all : component === 'kube-proxy' || component === 'coredns' ? kube : rolesOf(cluster.nodes, ['control-plane'])
    out.push({image, component, roles, source: 'kubeadm', ...(component === 'pause' ? {note: "every node's pod sandbox"} : {})})
  }
  if (cluster.topology === 'external')
    out.push({
      image: etcdImage(cluster),
      component: 'etcd',
      roles: rolesOf(cluster.nodes, ['etcd']),
      source: 'nodegen',
      note: 'static pod of a standalone kubelet on each etcd member',
    })
  if (cluster.loadBalancer.type === 'kube-vip')
    out.push({
      image: cluster.loadBalancer.kubeVipImage,
      component: 'kube-vip',
      roles: rolesOf(cluster.nodes, ['control-plane']),
      source: 'nodegen',
      note: 'static pod on each control plane',
    })
  out.push(...cniImages(cluster, kube, opts, report))
  checkMirrorCollisions(cluster, out, report)
  return out
}

/**
 * Two different images mapped to one name by the mirror rule (calico/node and another project's
 * node): a node would run the wrong one, so the profile must name one in imageMirrors.
 */
function checkMirrorCollisions(cluster: Cluster, imgs: InventoryImage[], report: Report): void {
  const from = new Map<string, string>()
  for (const i of imgs) {
    const original = i.upstream ?? i.image
    const other = from.get(i.image)
    if (other === undefined) from.set(i.image, original)
    else if (other !== original)
      report.error(['spec', 'kubernetes', 'imageMirrors'], 'NG0433', {
        a: other,
        b: original,
        to: i.image,
        mirror: cluster.kubernetes.imageRepository,
      })
  }
}

function kubernetesPackages(format: PackageFormat, v: string, roles: Role[]): InventoryPackage[] {
  const pinned = (name: string): InventoryPackage => ({
    name,
    version: v,
    // pkgs.k8s.io's revisions: 1.34.2-1.1 (deb), 1.34.2-150500.1.1 (rpm).
    request: format === 'deb' ? `${name}=${v}-*` : `${name}-${v}`,
    repository: 'kubernetes',
    roles,
    held: true,
  })
  const dep = (name: string, of: string): InventoryPackage => ({name, request: name, repository: 'kubernetes', roles, dependencyOf: of})
  return [pinned('kubelet'), pinned('kubeadm'), pinned('kubectl'), dep('cri-tools', 'kubeadm'), dep('kubernetes-cni', 'kubelet')]
}

/** The packages install-packages.sh installs on the nodes of one OS. */
function packagesFor(
  cluster: Cluster,
  node: ClusterNode,
  roles: Role[],
): {repositories: InventoryRepository[]; packages: InventoryPackage[]} {
  const format: PackageFormat = node.family === 'debian' ? 'deb' : 'rpm'
  const repositories: InventoryRepository[] = [{name: 'kubernetes', url: kubernetesRepository(cluster, format)}]
  // Air-gapped with a bundle, apt and dnf read only the bundle's repositories (install-packages.sh).
  const bundle = cluster.airgap?.bundle
  if (bundle) repositories.push({name: 'bundle', url: `${bundle}os/${node.os}/`})
  const osRepo = bundle ? 'bundle' : 'distribution'
  const plain = (name: string, repository = osRepo, r = roles): InventoryPackage => ({name, request: name, repository, roles: r})
  let runtime: InventoryPackage
  if (cluster.runtime.type === 'cri-o') {
    repositories.push({name: 'cri-o', url: crioRepository(cluster, format)})
    runtime = plain('cri-o', 'cri-o')
  } else if (runtimeSource(cluster, node) === 'docker') {
    if (!bundle) repositories.push({name: 'docker', ...dockerRepository(cluster, node)})
    // Pinned and held as install-packages.sh asks for it: containerd.io=2.0.11-* (apt), containerd.io-2.0.11 (dnf).
    const v = cluster.runtime.version
    runtime = {
      ...plain('containerd.io', bundle ? osRepo : 'docker'),
      ...(v !== undefined ? {version: v, request: format === 'deb' ? `containerd.io=${v}-*` : `containerd.io-${v}`, held: true} : {}),
    }
  } else runtime = plain('containerd')
  const controlPlanes = roles.filter((r) => r === 'control-plane')
  const lb =
    controlPlanes.length === 0
      ? []
      : cluster.loadBalancer.type === 'keepalived-haproxy'
        ? ['keepalived', 'haproxy']
        : cluster.loadBalancer.type === 'keepalived'
          ? ['keepalived']
          : []
  const packages: InventoryPackage[] = []
  if (node.family === 'debian') {
    const when = 'curl or the CA bundle is missing'
    packages.push({...plain('curl'), when}, {...plain('ca-certificates'), when})
    packages.push(runtime, ...['chrony', 'openssl', 'conntrack', 'socat'].map((p) => plain(p)))
  } else {
    packages.push(runtime, ...['chrony', 'curl', 'openssl', 'iproute-tc', 'conntrack-tools', 'socat'].map((p) => plain(p)))
  }
  packages.push(...lb.map((p) => plain(p, osRepo, controlPlanes)))
  if (node.family === 'rhel' && cluster.firewall === 'open-ports') packages.push(plain('firewalld'))
  packages.push(...kubernetesPackages(format, cluster.kubernetes.version, roles))
  return {repositories, packages}
}

function operatingSystems(cluster: Cluster): InventoryOs[] {
  const byOs = new Map<OsId, ClusterNode[]>()
  for (const n of cluster.nodes) byOs.set(n.os, [...(byOs.get(n.os) ?? []), n])
  return [...byOs.entries()].map(([os, nodes]) => {
    const first = nodes[0] as ClusterNode
    const roles = rolesOf(nodes)
    const base = {os, family: first.family, nodes: nodes.map((n) => n.name), roles}
    if (first.family === 'flatcar') {
      const {name: file, ...s} = sysextImage(cluster)
      return {...base, repositories: [], packages: [], sysext: {name: 'kubernetes', version: cluster.kubernetes.version, file, ...s}}
    }
    return {...base, ...packagesFor(cluster, first, roles)}
  })
}

/** The images and packages a cluster's nodes download. */
export function buildInventory(cluster: Cluster, opts: InventoryOptions = {}): Inventory {
  const report = new Report()
  const imgs = images(cluster, opts, report)
  return {
    kubernetesVersion: cluster.kubernetes.version,
    imageRepository: cluster.kubernetes.imageRepository,
    images: imgs,
    os: operatingSystems(cluster),
    complete: !report.items.some((d) => d.code === 'NG0502' || d.code === 'NG0501'),
    baked: cluster.image.baked,
    diagnostics: report.items,
  }
}

/**
 * The images a control plane pulls beyond kubeadm's list and the CNI manifest's: what the image
 * bake pre-pulls from its images.txt.
 */
export function extraControlPlaneImages(cluster: Cluster): string[] {
  return images(cluster, {}, new Report())
    .filter((i) => i.source === 'nodegen' && i.roles.includes('control-plane'))
    .map((i) => i.image)
}
