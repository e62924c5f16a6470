/**
 * Which Kubernetes versions nodegen supports and what each implies. One table, read by validation,
 * the planners and `nodegen validate --json`; see test/fixtures/kube-schemas/PROVENANCE.md for the sources.
 */

export type KubeadmApi = 'v1beta3' | 'v1beta4'

export interface KubernetesTarget {
  /** `1.34.2` */
  version: string
  major: number
  minor: number
  patch: number
  /** The kubeadm config API nodegen writes for this version. */
  kubeadmApi: KubeadmApi
  /** The pause image tag kubeadm expects (containerd's sandbox_image must agree). */
  pauseVersion: string
  /** The CoreDNS image tag kubeadm deploys (`constants.CoreDNSVersion`). */
  coreDnsVersion: string
  /** `v1.34` — the pkgs.k8s.io channel. */
  channel: string
  /** Since 1.29 admin.conf binds kubeadm:cluster-admins and the init node also has super-admin.conf. */
  clusterAdminsGroup: boolean
  /** `EtcdLearnerMode` may be set (1.27–1.32); from 1.33 kubeadm rejects the key. */
  learnerGateAllowed: boolean
  /** kubeadm accepts ECDSA-P384 (1.34+). */
  ecdsaP384: boolean
  /** kubeadm writes an `encryptionAlgorithm` field (v1beta4 only). */
  encryptionAlgorithmField: boolean
  /** The containerd release nodegen installs from Docker's repository (containerd.io), from {@link CONTAINERD_VERSIONS}. */
  containerdVersion: string
}

/** The oldest and newest minor nodegen renders for. */
export const SUPPORTED = Object.freeze({minMinor: 29, maxMinor: 36})

export const SUPPORTED_RANGE = `1.${SUPPORTED.minMinor}.0 to 1.${SUPPORTED.maxMinor}.x (kubeadm v1beta3 for 1.29–1.30, v1beta4 from 1.31)`

/**
 * The containerd release nodegen installs (Docker's `containerd.io`, pinned and held) for each
 * Kubernetes minor, unless the profile names one (spec.containerRuntime.version).
 *
 * Source: containerd's RELEASES.md, "Kubernetes Support" (the versions containerd recommends for
 * each Kubernetes release) and "Current State of containerd Releases" (which branches are still
 * supported), as of containerd/containerd 301026e5 (2026-08-22); rows that table has since dropped
 * (1.29 to 1.31) are from its earlier revisions. For each minor: the newest containerd branch that
 * table lists for it and that containerd still supports (2.1 reached its end of life in July 2026,
 * so 1.30 to 1.34 take the 2.0 LTS), at that branch's latest patch release. Kubernetes 1.29 was only
 * ever listed with containerd 1.6 and 1.7: it gets 1.7, the LTS whose extended support ends in
 * September 2026, as 1.29 itself is long out of Kubernetes support.
 */
export const CONTAINERD_VERSIONS: Readonly<Record<number, string>> = Object.freeze({
  29: '1.7.34',
  30: '2.0.11',
  31: '2.0.11',
  32: '2.0.11',
  33: '2.0.11',
  34: '2.0.11',
  // 2.2's end of life was set for November 2026; 2.3 is not yet listed for 1.35.
  35: '2.2.7',
  36: '2.3.4',
})

/** Parses `1.34.2` or `v1.34.2`; undefined for anything else. */
export function parseVersion(s: string): {major: number; minor: number; patch: number} | undefined {
  const m = /^v?([0-9]+)\.([0-9]+)\.([0-9]+)$/.exec(s)
  if (!m) return undefined
  return {major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3])}
}

export function isSupported(v: {major: number; minor: number}): boolean {
  return v.major === 1 && v.minor >= SUPPORTED.minMinor && v.minor <= SUPPORTED.maxMinor
}

/**
 * The CoreDNS tag kubeadm deploys, per minor: `constants.CoreDNSVersion` in
 * cmd/kubeadm/app/constants/constants.go of k8s.io/kubernetes v1.29.15, v1.30.14, v1.31.14,
 * v1.32.13, v1.33.5 and v1.33.13, v1.34.2 and v1.34.4, v1.35.4 and v1.36.3 (the same within each
 * minor wherever two patch releases were compared). Frozen: a new minor gets a new row.
 */
export const COREDNS_VERSIONS: Readonly<Record<number, string>> = Object.freeze({
  29: 'v1.11.1',
  30: 'v1.11.3',
  31: 'v1.11.3',
  32: 'v1.11.3',
  33: 'v1.12.0',
  34: 'v1.12.1',
  35: 'v1.13.1',
  36: 'v1.14.2',
})

/** The one place that decides what a Kubernetes version means for the files nodegen writes. */
export function kubernetesTarget(v: {major: number; minor: number; patch: number}): KubernetesTarget {
  const {major, minor, patch} = v
  return Object.freeze({
    version: `${major}.${minor}.${patch}`,
    major,
    minor,
    patch,
    kubeadmApi: minor >= 31 ? 'v1beta4' : 'v1beta3',
    // kubeadm's constants.PauseVersion: 3.9 to 1.30, 3.10 for 1.31-1.33, 3.10.1 for 1.34-1.35, 3.10.2 from 1.36.
    pauseVersion: minor >= 36 ? '3.10.2' : minor >= 34 ? '3.10.1' : minor >= 31 ? '3.10' : '3.9',
    coreDnsVersion: COREDNS_VERSIONS[minor] ?? (COREDNS_VERSIONS[SUPPORTED.maxMinor] as string),
    channel: `v${major}.${minor}`,
    clusterAdminsGroup: minor >= 29,
    learnerGateAllowed: minor <= 32,
    ecdsaP384: minor >= 34,
    encryptionAlgorithmField: minor >= 31,
    // An unsupported minor (already reported by validation) gets the newest row.
    containerdVersion: CONTAINERD_VERSIONS[minor] ?? (CONTAINERD_VERSIONS[SUPPORTED.maxMinor] as string),
  })
}

/**
 * kubeadm's waits, by the names of kubeadm v1beta4's `Timeouts` (cmd/kubeadm/app/apis/kubeadm/
 * v1beta4/types.go; defaults from cmd/kubeadm/app/constants, Kubernetes 1.34). `v1beta3` names the
 * field that carries the same wait in kubeadm v1beta3 (1.29–1.30), where there is one.
 */
export const KUBEADM_TIMEOUTS = Object.freeze([
  {
    name: 'controlPlaneComponentHealthCheck',
    default: '4m',
    v1beta3: 'ClusterConfiguration apiServer.timeoutForControlPlane',
    description: 'How long kubeadm init and join wait for a control-plane component (the API server above all) to be healthy.',
  },
  {name: 'kubeletHealthCheck', default: '4m', description: 'How long kubeadm init and join wait for the kubelet to be healthy.'},
  {name: 'kubernetesAPICall', default: '1m', description: "How long kubeadm's client waits for one request to the API server."},
  {
    name: 'etcdAPICall',
    default: '2m',
    description: "How long kubeadm's etcd client waits for one request to etcd (adding a member on join).",
  },
  {name: 'tlsBootstrap', default: '5m', description: "How long a joining node's kubelet may take for its TLS bootstrap."},
  {
    name: 'discovery',
    default: '5m',
    v1beta3: 'JoinConfiguration discovery.timeout',
    description: "How long a joining node's kubeadm takes to validate the API server's identity (cluster-info).",
  },
  {name: 'upgradeManifests', default: '5m', description: 'How long kubeadm upgrade waits for each upgraded static Pod.'},
] as const satisfies ReadonlyArray<{name: string; default: string; v1beta3?: string; description: string}>)

export type KubeadmTimeout = (typeof KUBEADM_TIMEOUTS)[number]['name']

/**
 * The control-plane components whose flags `spec.kubernetes.extraArgs` extends, with the flags
 * nodegen sets itself (and what sets them): those are refused there, since the extra value would
 * silently replace what the rest of the cluster relies on. kubeadm writes the others into the static
 * pods' commands (ClusterConfiguration `<component>.extraArgs`); etcd's go to the stacked members
 * through kubeadm and to external members through nodegen's own manifest.
 */
export const CONTROL_PLANE_COMPONENTS = Object.freeze([
  {
    name: 'apiServer',
    pod: 'kube-apiserver',
    managed: {
      'advertise-address': "the node's address (spec.nodes[].ip)",
      'bind-address': 'the node address when haproxy holds the endpoint port (a kubeadm patch)',
      'secure-port': 'spec.loadBalancer.apiServerPort',
      'etcd-servers': 'spec.topology',
      'feature-gates': 'spec.kubernetes.featureGates',
    },
  },
  {
    name: 'controllerManager',
    pod: 'kube-controller-manager',
    managed: {
      'cluster-cidr': 'spec.networking.podSubnet',
      'service-cluster-ip-range': 'spec.networking.serviceSubnet',
      'feature-gates': 'spec.kubernetes.featureGates',
    },
  },
  {name: 'scheduler', pod: 'kube-scheduler', managed: {'feature-gates': 'spec.kubernetes.featureGates'}},
  {
    name: 'etcd',
    pod: 'etcd',
    managed: {
      name: "the node's name",
      'data-dir': 'nodegen and kubeadm (/var/lib/etcd)',
      'initial-cluster': 'the etcd members of spec.nodes',
      'initial-cluster-state': 'the bootstrap program (new or existing)',
      'initial-cluster-token': 'metadata.name',
      'listen-client-urls': "the node's address",
      'listen-peer-urls': "the node's address",
      'advertise-client-urls': "the node's address",
      'initial-advertise-peer-urls': "the node's address",
    },
  },
] as const satisfies ReadonlyArray<{name: string; pod: string; managed: Readonly<Record<string, string>>}>)

export type ControlPlaneComponent = (typeof CONTROL_PLANE_COMPONENTS)[number]['name']

/**
 * kubeadm's patch targets (cmd/kubeadm/app/util/patches, `knownTargets`), the minor each came with,
 * and the nodes whose kubeadm applies them: the static pods' on control planes (etcd only to the
 * stacked members kubeadm runs), the kubelet's configuration on every node that runs kubeadm,
 * CoreDNS's Deployment where `kubeadm init` or `kubeadm upgrade apply` runs (a control plane).
 */
export const KUBEADM_PATCH_TARGETS = Object.freeze([
  {name: 'etcd', since: 29, nodes: 'control-plane'},
  {name: 'kube-apiserver', since: 29, nodes: 'control-plane'},
  {name: 'kube-controller-manager', since: 29, nodes: 'control-plane'},
  {name: 'kube-scheduler', since: 29, nodes: 'control-plane'},
  {name: 'kubeletconfiguration', since: 29, nodes: 'all'},
  {name: 'corednsdeployment', since: 31, nodes: 'control-plane'},
] as const satisfies ReadonlyArray<{name: string; since: number; nodes: 'control-plane' | 'all'}>)

export type KubeadmPatchTarget = (typeof KUBEADM_PATCH_TARGETS)[number]['name']

/** kubeadm's patch types: a strategic merge patch, a JSON merge patch (RFC 7386), a JSON patch (RFC 6902). */
export const KUBEADM_PATCH_TYPES = Object.freeze(['strategic', 'merge', 'json'] as const)

export type KubeadmPatchType = (typeof KUBEADM_PATCH_TYPES)[number]
