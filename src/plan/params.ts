/**
 * The bootstrap program's data files. Values are written verbatim, one KEY=VALUE per line; the
 * program reads them with a loop that assigns without evaluating, so a value needs no quoting —
 * but it must not contain a newline, which validation guarantees and this module asserts.
 */
import {CNI_INFO} from '../profile/cni.js'
import {imageMirrorOf} from '../profile/image-mirror.js'
import {type Cluster, type ClusterNode, OS_INFO, type PackageFormat} from '../profile/index.js'
import {expandRepository, repositoryTemplate} from '../profile/repositories.js'
import {vrrpInterface} from './ha/keepalived.js'
import {controlPlaneImages, imageName} from './kubeadm/images.js'
import {INIT_PHASES, initResumablePhases, joinResumeSkipPhases} from './kubeadm/phases.js'
import {carriesRecovery} from './secrets/backend.js'
import {libDir} from './types.js'

export type Params = Record<string, string | number | boolean | undefined>

export function encodeParams(params: Params, headerText: string): string {
  const lines = [headerText.trimEnd()]
  for (const key of Object.keys(params).sort()) {
    const v = params[key]
    if (v === undefined) continue
    const s = typeof v === 'boolean' ? (v ? '1' : '0') : String(v)
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) throw new Error(`internal: bad parameter name ${key}`)
    if (/[\n\r\0]/.test(s)) throw new Error(`internal: parameter ${key} has a line break (validation should have refused it)`)
    lines.push(`${key}=${s}`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * What the node's firewall lets in from other machines, by role: ports, plus the IP protocols
 * (by number) the CNI's encapsulation needs. The one table behind the node's own firewall
 * (firewalld, ufw) and the clouds' security groups and firewall rules (cloud/common.ts).
 */
export interface FirewallRules {
  /** `port/proto` or `from-to/proto`, sorted */
  ports: string[]
  /** IP protocol numbers, ascending */
  protocols: number[]
}

/** IP protocol 4 (IP-in-IP, /etc/protocols' "ipencap"): calico's default encapsulation. */
export const IPIP_PROTOCOL = 4

export function firewallRules(cluster: Cluster, node: ClusterNode): FirewallRules {
  const ports = new Set<string>()
  const protocols = new Set<number>()
  if (node.role === 'control-plane') {
    ports.add(`${cluster.loadBalancer.apiServerPort}/tcp`)
    if (cluster.endpoint.kind === 'vip') ports.add(`${cluster.endpoint.port}/tcp`)
    if (cluster.topology === 'stacked') ports.add('2379-2380/tcp')
    for (const p of ['10250/tcp', '10257/tcp', '10259/tcp']) ports.add(p)
  } else if (node.role === 'worker') {
    for (const p of ['10250/tcp', '10256/tcp', '30000-32767/tcp', '30000-32767/udp']) ports.add(p)
  } else {
    ports.add('2379-2380/tcp')
  }
  if (node.role !== 'etcd') {
    switch (cluster.networking.cni.type) {
      case 'flannel':
        ports.add('8472/udp')
        break
      case 'calico':
        // BGP, VXLAN (a pool in VXLAN mode), Typha; and IP-in-IP, the upstream manifest's default
        // (CALICO_IPV4POOL_IPIP=Always), which is an IP protocol of its own, not a port.
        ports.add('179/tcp')
        ports.add('4789/udp')
        ports.add('5473/tcp')
        protocols.add(IPIP_PROTOCOL)
        break
      case 'cilium':
        ports.add('8472/udp')
        ports.add('4240/tcp')
        break
    }
  }
  return {ports: [...ports].sort(), protocols: [...protocols].sort((a, b) => a - b)}
}

/** The Kubernetes package repository of the cluster's stream for one package format, ending in `/`. */
export function kubernetesRepository(cluster: Cluster, format: PackageFormat): string {
  return expandRepository(cluster.kubernetes.packageRepository, cluster.kubernetes.channel, format)
}

/**
 * CRI-O's repository of the cluster's stream for one package format, ending in `/`: its openSUSE
 * Build Service repositories (one per stream, the Kubernetes minor) or the profile's mirror.
 */
export function crioRepository(cluster: Cluster, format: PackageFormat): string {
  return expandRepository(repositoryTemplate('cri-o', cluster.runtime.crioRepository), cluster.kubernetes.channel, format)
}

/** Docker's repository root (download.docker.com or the profile's mirror), without a trailing slash. */
export function dockerRepositoryBase(cluster: Cluster): string {
  return (cluster.runtime.dockerRepository ?? 'https://download.docker.com').replace(/\/+$/, '')
}

/** spec.kubernetes.imageMirrors on control plane 0, for the rewrite of a CNI manifest fetched at boot. */
export const IMAGE_MIRRORS_FILE = '/etc/nodegen/image-mirrors.tsv'

export function noProxy(cluster: Cluster): string {
  const entries = new Set<string>(['localhost', '127.0.0.1', '::1', `.svc`, `.${cluster.networking.dnsDomain}`])
  entries.add(cluster.networking.podSubnet)
  entries.add(cluster.networking.serviceSubnet)
  entries.add(cluster.endpoint.host)
  for (const n of cluster.nodes) {
    entries.add(n.subnet)
    entries.add(n.name)
  }
  for (const e of cluster.proxy?.noProxy ?? []) entries.add(e)
  return [...entries].join(',')
}

export function bootstrapParams(cluster: Cluster, node: ClusterNode): Params {
  const k = cluster.kubernetes
  const cni = cluster.networking.cni
  const cniInfo = cni.type === 'none' ? undefined : CNI_INFO[cni.type]
  const isCp0 = node.role === 'control-plane' && node.ordinal === 0
  const firewall = firewallRules(cluster, node)
  // Flatcar has no package manager, no firewalld and no SELinux policy to relax: those steps are
  // left out here, and the bootstrap program skips a step whose parameters are absent.
  const flatcar = node.family === 'flatcar'
  const os = (v: string | number | boolean | undefined) => (flatcar ? undefined : v)
  const mirror = imageMirrorOf(cluster.kubernetes.imageRepository, cluster.kubernetes.imageMirrors)
  const fetchedCni = isCp0 && cni.type !== 'none' && !cni.manifestFile
  const recovery = carriesRecovery(cluster, node)
  return {
    CLUSTER_NAME: cluster.name,
    LIB_DIR: libDir(node.family),
    NODE_NAME: node.name,
    NODE_ROLE: node.role,
    NODE_ORDINAL: node.ordinal,
    NODE_IP: node.ip,
    OS_ID: node.os,
    OS_FAMILY: node.family,
    KUBERNETES_VERSION: k.version,
    KUBERNETES_CHANNEL: k.channel,
    // The repository of this node's package format: install-packages.sh fetches its key from it
    // (on the RHEL family only from a bundle, through bundle.sh; dnf fetches it otherwise).
    KUBERNETES_REPO:
      node.family === 'debian'
        ? kubernetesRepository(cluster, 'deb')
        : node.family === 'rhel' && cluster.airgap?.bundle
          ? kubernetesRepository(cluster, 'rpm')
          : undefined,
    IMAGE_REPOSITORY: k.imageRepository,
    // Flatcar nodes read the bundle too: for its images (their sysext comes through Ignition).
    BUNDLE_URL: cluster.airgap?.bundle,
    BUNDLE_SHA256: cluster.airgap?.bundle && cluster.airgap.sha256,
    // The bundle holds every node's images; a worker never runs the control plane's (names, no tags).
    BUNDLE_IMAGES_SKIP:
      cluster.airgap?.bundle && node.role === 'worker'
        ? controlPlaneImages(cluster)
            .map((i) => imageName(i.image))
            .join(' ')
        : undefined,
    TOPOLOGY: cluster.topology,
    // A kubeadm init that fails after its control plane answered (a request of the CoreDNS addon
    // timing out) is finished from the phase that failed instead of reset (recovery.sh).
    INIT_PHASES: recovery ? INIT_PHASES.join(' ') : undefined,
    INIT_RESUMABLE_PHASES: recovery ? initResumablePhases().join(' ') : undefined,
    // A stacked control plane whose join fails after its etcd member started voting finishes the
    // join by skipping these phases instead of resetting (role_join).
    JOIN_RESUME_SKIP_PHASES:
      node.role === 'control-plane' && cluster.topology === 'stacked'
        ? joinResumeSkipPhases(cluster.kubernetes.minor).join(',')
        : undefined,
    ENDPOINT_HOST: cluster.endpoint.host,
    ENDPOINT_PORT: cluster.endpoint.port,
    API_SERVER_PORT: cluster.loadBalancer.apiServerPort,
    LB_TYPE: cluster.loadBalancer.type,
    // The bootstrap program checks it exists before starting keepalived, which would otherwise run
    // in its FAULT state with no VIP and no word on the console.
    VIP_INTERFACE:
      node.role === 'control-plane' &&
      cluster.endpoint.kind === 'vip' &&
      (cluster.loadBalancer.type === 'keepalived' || cluster.loadBalancer.type === 'keepalived-haproxy')
        ? vrrpInterface(cluster, node)
        : undefined,
    RUNTIME: cluster.runtime.type,
    RUNTIME_SOURCE: os(runtimeSource(cluster, node)),
    // The containerd.io release install-packages.sh installs exactly and holds (Flatcar's is its own).
    CONTAINERD_VERSION: os(
      cluster.runtime.type === 'containerd' && runtimeSource(cluster, node) === 'docker' ? cluster.runtime.version : undefined,
    ),
    DOCKER_REPO: os(dockerRepositoryBase(cluster)),
    DOCKER_DISTRO: os(OS_INFO[node.os].apt?.distro),
    CRIO_REPO: cluster.runtime.type === 'cri-o' && node.family === 'debian' ? crioRepository(cluster, 'deb') : undefined,
    FIREWALL: os(cluster.firewall),
    FIREWALL_PORTS: os(firewall.ports.join(' ')),
    FIREWALL_PROTOCOLS: os(firewall.protocols.join(' ') || undefined),
    // Forwarded pod traffic (flannel.1 to cni0, tunl0 to cali*) crosses interfaces no zone names,
    // which firewalld 1.x rejects: the pod network is made a source of the trusted zone.
    FIREWALL_TRUSTED_SOURCES: os(node.role === 'etcd' ? undefined : cluster.networking.podSubnet.split(',').join(' ')),
    FIREWALL_VRRP: os(
      node.role === 'control-plane' && (cluster.loadBalancer.type === 'keepalived' || cluster.loadBalancer.type === 'keepalived-haproxy'),
    ),
    SELINUX: os(cluster.selinux),
    SELINUX_BOOLEANS: os(selinuxBooleans(cluster, node).join(' ') || undefined),
    CNI: isCp0 ? cni.type : undefined,
    CNI_MANIFEST_URL: isCp0 && !cni.manifestFile ? cni.manifestUrl : undefined,
    CNI_MANIFEST_FILE: isCp0 && cni.manifestFile ? '/etc/nodegen/cni.yaml' : undefined,
    CNI_MANIFEST_SHA256: isCp0 && !cni.manifestFile ? cni.manifestSha256 : undefined,
    // A manifest fetched at boot names upstream's images: control plane 0 maps them to the mirror
    // before applying it (mirror_cni_images), from this data; a manifestFile is mapped at render.
    CNI_IMAGE_MIRROR: fetchedCni ? mirror.repository : undefined,
    CNI_IMAGE_MIRRORS_FILE: fetchedCni && Object.keys(mirror.mirrors).length > 0 ? IMAGE_MIRRORS_FILE : undefined,
    CNI_DEFAULT_POD_SUBNET: isCp0 && cniInfo?.podSubnetInManifest ? cniInfo.defaultPodSubnet : undefined,
    POD_SUBNET: cluster.networking.podSubnet,
    CONTROL_PLANE_COUNT: cluster.nodes.filter((n) => n.role === 'control-plane').length,
    ETCD_COUNT: cluster.nodes.filter((n) => n.role === 'etcd').length,
    TIMEOUT_SECONDS: cluster.bootstrap.timeoutSeconds,
    // cert-renewal.sh: a leaf with less than this left is renewed.
    CERT_RENEW_BEFORE_SECONDS: node.role === 'worker' ? undefined : cluster.pki.renewBeforeSeconds,
    STATUS_URL: cluster.bootstrap.statusUrl?.replace(/\/+$/, ''),
    KEEP_SECRETS: cluster.bootstrap.keepSecrets,
    PROXY_HTTP_PROXY: cluster.proxy?.http,
    PROXY_HTTPS_PROXY: cluster.proxy?.https,
    PROXY_NO_PROXY: cluster.proxy ? noProxyOnce(cluster) : undefined,
  }
}

/**
 * SELinux booleans a node needs turned on (setsebool -P), on the RHEL family with SELinux not
 * disabled: the targeted policy confines haproxy (haproxy_t, in its rhcs module) and keepalived
 * (keepalived_t) to a few port types, so haproxy could neither bind the endpoint's port nor reach
 * the API servers' port, and keepalived's check could not connect to the API server, without
 * haproxy_connect_any and keepalived_connect_any.
 */
export function selinuxBooleans(cluster: Cluster, node: ClusterNode): string[] {
  if (node.family !== 'rhel' || node.role !== 'control-plane' || cluster.selinux === 'disabled') return []
  switch (cluster.loadBalancer.type) {
    case 'keepalived-haproxy':
      return ['haproxy_connect_any', 'keepalived_connect_any']
    case 'keepalived':
      return ['keepalived_connect_any']
    default:
      return []
  }
}

/**
 * containerd from Docker's repository by default on every OS: the RHEL family ships none, and
 * Debian 12's own is containerd 1.6, out of upstream support (Kubernetes is dropping containerd
 * 1.x). `source: distribution` keeps the distribution's package.
 */
export function runtimeSource(cluster: Cluster, node: ClusterNode): 'docker' | 'distribution' {
  void node
  return cluster.runtime.source ?? 'docker'
}

/**
 * Cluster-wide files are the same for every node: computed once per Cluster (a render of N nodes
 * would otherwise build them N times, quadratic in the cluster's size). The cache is keyed by the
 * Cluster object, so it is still a pure function of its argument.
 */
function perCluster<T>(fn: (c: Cluster) => T): (c: Cluster) => T {
  const cache = new WeakMap<Cluster, T>()
  return (c) => {
    let v = cache.get(c)
    if (v === undefined) {
      v = fn(c)
      cache.set(c, v)
    }
    return v
  }
}

/**
 * `name<TAB>role<TAB>ordinal<TAB>ip` for the control planes and etcd members, in profile order: all
 * the bootstrap program looks up (workers join through the endpoint), so a node's seed does not
 * grow with the number of workers.
 */
export const nodesTsv = perCluster((cluster) =>
  cluster.nodes
    .filter((n) => n.role !== 'worker')
    .map((n) => `${n.name}\t${n.role}\t${n.ordinal}\t${n.ip}\n`)
    .join(''),
)

const hostsAll = perCluster((cluster) => cluster.nodes.map((n) => `${n.ip}\t${n.name}\n`).join(''))
const hostsInfrastructure = perCluster((cluster) =>
  cluster.nodes
    .filter((n) => n.role !== 'worker')
    .map((n) => `${n.ip}\t${n.name}\n`)
    .join(''),
)

/** The /etc/hosts block: every node, or (spec.networking.etcHosts) the control planes, etcd members and the node itself. */
export function hostsBlock(cluster: Cluster, node: ClusterNode): string {
  if (cluster.networking.etcHosts === 'all') return hostsAll(cluster)
  return node.role === 'worker' ? `${hostsInfrastructure(cluster)}${node.ip}\t${node.name}\n` : hostsInfrastructure(cluster)
}

/** `node<TAB>key<TAB>value` for every label of every Kubernetes node; control planes apply them. */
export const labelsTsv = perCluster((cluster) => {
  const lines: string[] = []
  for (const n of cluster.nodes) {
    if (n.role === 'etcd') continue
    for (const key of Object.keys(n.labels).sort()) lines.push(`${n.name}\t${key}\t${n.labels[key]}\n`)
  }
  return lines.join('')
})

/** The noProxy list, once per cluster. */
export const noProxyOnce = perCluster((cluster) => noProxy(cluster))
