/**
 * The one internal model every later stage reads: the profile validated, defaulted and with its
 * derived values (ordinals, subnets, the endpoint, the Kubernetes target) worked out once.
 */
import type {FieldPath} from './diagnostics.js'
import type {ControlPlaneComponent, KubeadmPatchTarget, KubeadmPatchType, KubeadmTimeout, KubernetesTarget} from './kubernetes.js'
import type {CniType, KeyAlgorithm, LoadBalancerType, OsId, PlatformType, Profile, Role, Taint} from './schema.js'

export type OsFamily = 'rhel' | 'debian' | 'flatcar'
export type Format = 'cloud-init' | 'ignition'
export type IgnitionSpecVersion = '3.3.0' | '3.4.0'

/**
 * `distributionContainerd`: the containerd branch the OS's own repositories carry, which
 * `containerRuntime.source: distribution` installs (none on the RHEL family; Flatcar ships its own
 * in the image). From the distributions' archives: Debian 12 has 1.6.20, Debian 13 1.7.24,
 * Ubuntu 24.04 1.7 (1.7.12, updated within 1.7). `apt`: on the Debian family, the distribution as
 * Docker's repository names it (`download.docker.com/linux/<distro>`) and the release's codename
 * (apt's suite).
 */
export const OS_INFO: Readonly<
  Record<
    OsId,
    {
      family: OsFamily
      pretty: string
      packageFormat: 'rpm' | 'deb' | 'sysext'
      distributionContainerd?: string
      apt?: {distro: 'debian' | 'ubuntu'; codename: string}
    }
  >
> = Object.freeze({
  'almalinux-9': {family: 'rhel', pretty: 'AlmaLinux 9', packageFormat: 'rpm'},
  'almalinux-10': {family: 'rhel', pretty: 'AlmaLinux 10', packageFormat: 'rpm'},
  'rocky-9': {family: 'rhel', pretty: 'Rocky Linux 9', packageFormat: 'rpm'},
  'centos-stream-9': {family: 'rhel', pretty: 'CentOS Stream 9', packageFormat: 'rpm'},
  'centos-stream-10': {family: 'rhel', pretty: 'CentOS Stream 10', packageFormat: 'rpm'},
  'debian-12': {
    family: 'debian',
    pretty: 'Debian 12',
    packageFormat: 'deb',
    distributionContainerd: '1.6',
    apt: {distro: 'debian', codename: 'bookworm'},
  },
  'debian-13': {
    family: 'debian',
    pretty: 'Debian 13',
    packageFormat: 'deb',
    distributionContainerd: '1.7',
    apt: {distro: 'debian', codename: 'trixie'},
  },
  'ubuntu-24.04': {
    family: 'debian',
    pretty: 'Ubuntu 24.04',
    packageFormat: 'deb',
    distributionContainerd: '1.7',
    apt: {distro: 'ubuntu', codename: 'noble'},
  },
  flatcar: {family: 'flatcar', pretty: 'Flatcar Container Linux', packageFormat: 'sysext'},
})

export interface ClusterNode {
  /** Position in spec.nodes: the order of everything node-shaped nodegen writes. */
  index: number
  /** Field path of this node in the profile, for diagnostics about its output. */
  path: FieldPath
  name: string
  role: Role
  /** 0-based position among the nodes of the same role, in profile order. Control plane 0 inits. */
  ordinal: number
  os: OsId
  family: OsFamily
  format: Format
  /** Address without prefix. */
  ip: string
  prefix: number
  /** `10.0.0.0/24` */
  subnet: string
  gateway?: string
  mac?: string
  uuid?: string
  interface: string
  labels: Record<string, string>
  taints: Taint[]
  kubeletExtraArgs: Record<string, string>
  instanceType?: string
  subnetId?: string
  zone?: string
}

export interface Endpoint {
  host: string
  port: number
  /** vip: keepalived/kube-vip on the control planes; external: a load balancer or DNS name; node: control plane 0 itself. */
  kind: 'vip' | 'external' | 'node'
}

export interface Cluster {
  name: string
  /** The profile file as given, for headers and diagnostics. */
  source: string
  kubernetes: KubernetesTarget & {
    imageRepository: string
    /** spec.kubernetes.imageMirrors as the profile writes it: image repository to mirror repository. */
    imageMirrors: Record<string, string>
    /** Base URL of pkgs.k8s.io or its mirror, without a trailing slash. */
    packageRepository: string
    featureGates: Record<string, boolean>
    /** kubeadm preflight checks ignored on every node, lowercased as kubeadm compares them. */
    ignorePreflightErrors: string[]
    /** Flatcar sysext images, without a trailing slash. */
    sysextRepository: string
    /** kubeadm's waits the profile sets, in seconds, by kubeadm v1beta4's names (others: kubeadm's defaults). */
    timeouts: Partial<Record<KubeadmTimeout, number>>
    /** Extra flags of each control-plane component, flag name (no dashes) to value. */
    extraArgs: Record<ControlPlaneComponent, Record<string, string>>
    /** spec.kubernetes.patches in the profile's order: kubeadm patches after nodegen's own. */
    patches: KubeadmPatchSpec[]
    /** Flatcar: the sysext image's SHA-512 (lowercase hex), for Ignition's verification. */
    sysextSha512?: string
  }
  topology: 'stacked' | 'external'
  endpoint: Endpoint
  loadBalancer: {
    type: LoadBalancerType
    interface?: string
    virtualRouterId: number
    unicast: boolean
    authPass?: string
    apiServerPort: number
    kubeVipImage: string
  }
  networking: {
    podSubnet: string
    serviceSubnet: string
    dnsDomain: string
    /** The 10th address of the service subnet, as kubeadm picks it. */
    clusterDns: string
    cni: {type: CniType; version: string; manifestUrl?: string; manifestFile?: string; manifestSha256?: string}
    gateway?: string
    dnsServers: string[]
    searchDomains: string[]
    interface: string
    ntpServers: string[]
    /** Resolved from the profile's `auto`. */
    etcHosts: 'all' | 'infrastructure'
  }
  /** The profile's, with `version` resolved for containerd from Docker's repository (the pin). */
  runtime: Profile['spec']['containerRuntime']
  image: {baked: boolean}
  /**
   * Air-gapped: no source may be an internet default. `bundle` (ending in `/`) is where the packages
   * and images come from (docs/airgap.md); `sha256` pins its SHA256SUMS.
   */
  airgap?: {bundle?: string; sha256?: string}
  /** Ignition nodes: the config spec version their Ignition reads (see plan/target.ts). */
  ignition: {version: IgnitionSpecVersion}
  pki: {
    keyAlgorithm: KeyAlgorithm
    caValiditySeconds: number
    certValiditySeconds: number
    /** A control plane renews kubeadm's leaves once one has less than this left. */
    renewBeforeSeconds: number
  }
  upgrade: {maxUnavailableWorkers: number}
  bootstrapToken: {ttlSeconds: number; windowSeconds: number}
  users: Profile['spec']['users']
  proxy?: {http?: string; https?: string; noProxy: string[]}
  firewall: 'open-ports' | 'disabled'
  selinux: 'permissive' | 'enforcing' | 'disabled'
  files: Profile['spec']['files']
  kubelet: Profile['spec']['kubelet']
  bootstrap: {timeoutSeconds: number; statusUrl?: string; keepSecrets: boolean}
  platform: Profile['spec']['platform'] & {type: PlatformType}
  nodes: ClusterNode[]
}

export function controlPlanes(c: Cluster): ClusterNode[] {
  return c.nodes.filter((n) => n.role === 'control-plane')
}

export function etcdMembers(c: Cluster): ClusterNode[] {
  return c.nodes.filter((n) => n.role === 'etcd')
}

export function workers(c: Cluster): ClusterNode[] {
  return c.nodes.filter((n) => n.role === 'worker')
}

/** One kubeadm patch of the profile: its target, its type and the patch (an object, or JSON patch operations). */
export interface KubeadmPatchSpec {
  target: KubeadmPatchTarget
  type: KubeadmPatchType
  patch: Record<string, unknown> | Array<Record<string, unknown>>
}
