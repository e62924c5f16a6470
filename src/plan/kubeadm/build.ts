/**
 * Cluster × node → what kubeadm is asked to do on that node (spec.ts), in no API version. Every
 * decision about the documents' meaning is made here; the version modules only spell it.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {controlPlanes, etcdMembers} from '../../profile/model.js'
import {apiServerSharesHaproxyPort, buildKubeadmPatches} from './patches.js'
import {CRI_SOCKETS, ETCD_DATA_DIR, ETCD_PKI, ETCD_PORTS, KUBEADM_PATCHES_DIR, KUBERNETES_PKI, knownAddress} from './paths.js'
import type {Arg, ClusterSpec, EtcdSpec, InitSpec, JoinSpec, NodeRegistrationSpec, Timeouts} from './spec.js'

/** The cluster secrets a node's kubeadm documents carry. */
export interface KubeadmSecrets {
  /** `abcdef.0123456789abcdef` */
  token: string
  tokenTtlSeconds: number
  /** `sha256:<64 hex>` of the cluster CA's public key, for join discovery. */
  caCertHash: string
}

/** kubeadm's defaults for a bootstrap token (what `kubeadm token create` gives). */
export const DEFAULT_TOKEN_USAGES = Object.freeze(['signing', 'authentication'])
export const DEFAULT_TOKEN_GROUPS = Object.freeze(['system:bootstrappers:kubeadm:default-node-token'])

export function endpointAddress(cluster: Cluster): string {
  return `${cluster.endpoint.host}:${cluster.endpoint.port}`
}

function uniqueSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort()
}

export function nodeRegistration(cluster: Cluster, node: ClusterNode): NodeRegistrationSpec {
  const ip = knownAddress(node.ip)
  // The kubelet otherwise picks the address of the default route, wrong on multi-homed machines.
  const merged: Record<string, string> = {...(ip !== undefined ? {'node-ip': ip} : {}), ...node.kubeletExtraArgs}
  const kubeletExtraArgs: Arg[] = Object.keys(merged)
    .sort()
    .map((name) => ({name, value: merged[name] as string}))
  const ignore: string[] = [...cluster.kubernetes.ignorePreflightErrors]
  if (node.role === 'control-plane') {
    // haproxy already listens on 127.0.0.1:port when kubeadm's preflight tries to bind *:port.
    if (apiServerSharesHaproxyPort(cluster) && !ignore.includes('all')) ignore.push(`Port-${cluster.loadBalancer.apiServerPort}`)
  }
  return {
    name: node.name,
    criSocket: CRI_SOCKETS[cluster.runtime.type],
    taints: node.taints,
    kubeletExtraArgs,
    ignorePreflightErrors: uniqueSorted(ignore),
    imagePullPolicy: 'IfNotPresent',
  }
}

function localApiEndpoint(cluster: Cluster, node: ClusterNode) {
  const ip = knownAddress(node.ip)
  return {...(ip !== undefined ? {advertiseAddress: ip} : {}), bindPort: cluster.loadBalancer.apiServerPort}
}

export function patchesDirectory(cluster: Cluster, node: ClusterNode): string | undefined {
  return buildKubeadmPatches(cluster, node).length > 0 ? KUBEADM_PATCHES_DIR : undefined
}

export function buildInitSpec(cluster: Cluster, node: ClusterNode, s: KubeadmSecrets): InitSpec {
  const dir = patchesDirectory(cluster, node)
  return {
    bootstrapTokens: [
      {
        token: s.token,
        description: 'nodegen bootstrap token',
        ttlSeconds: s.tokenTtlSeconds,
        usages: [...DEFAULT_TOKEN_USAGES],
        groups: [...DEFAULT_TOKEN_GROUPS],
      },
    ],
    nodeRegistration: nodeRegistration(cluster, node),
    localAPIEndpoint: localApiEndpoint(cluster, node),
    ...(dir !== undefined ? {patchesDirectory: dir} : {}),
    timeouts: kubeadmTimeouts(cluster),
  }
}

/** kubeadm's waits the profile sets: the same on every node and in every document that has them. */
export function kubeadmTimeouts(cluster: Cluster): Timeouts {
  return {...cluster.kubernetes.timeouts}
}

/** The API server certificate's extra names: the endpoint, every control plane by IP and name, loopback. */
export function certSANs(cluster: Cluster): string[] {
  const names = [cluster.endpoint.host, 'localhost', '127.0.0.1']
  for (const cp of controlPlanes(cluster)) {
    const ip = knownAddress(cp.ip)
    if (ip !== undefined) names.push(ip)
    names.push(cp.name)
  }
  return uniqueSorted(names)
}

function etcdSpec(cluster: Cluster): EtcdSpec {
  if (cluster.topology === 'stacked') return {local: {dataDir: ETCD_DATA_DIR}}
  return {
    external: {
      endpoints: etcdMembers(cluster).map((m) => `https://${m.ip}:${ETCD_PORTS.client}`),
      caFile: `${ETCD_PKI}/ca.crt`,
      certFile: `${KUBERNETES_PKI}/apiserver-etcd-client.crt`,
      keyFile: `${KUBERNETES_PKI}/apiserver-etcd-client.key`,
    },
  }
}

export function buildClusterSpec(cluster: Cluster): ClusterSpec {
  const k = cluster.kubernetes
  const featureGates = Object.fromEntries(
    Object.entries(k.featureGates)
      // Validation refuses it already; kubeadm >= 1.33 rejects the key as "not a valid feature name".
      .filter(([gate]) => gate !== 'EtcdLearnerMode' || k.learnerGateAllowed)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  )
  return {
    clusterName: cluster.name,
    kubernetesVersion: `v${k.version}`,
    controlPlaneEndpoint: endpointAddress(cluster),
    imageRepository: k.imageRepository,
    certificatesDir: KUBERNETES_PKI,
    networking: {
      podSubnet: cluster.networking.podSubnet,
      serviceSubnet: cluster.networking.serviceSubnet,
      dnsDomain: cluster.networking.dnsDomain,
    },
    certSANs: certSANs(cluster),
    etcd: etcdSpec(cluster),
    featureGates,
    encryptionAlgorithm: cluster.pki.keyAlgorithm,
    certificateValiditySeconds: cluster.pki.certValiditySeconds,
    caCertificateValiditySeconds: cluster.pki.caValiditySeconds,
    timeouts: kubeadmTimeouts(cluster),
    extraArgs: {
      apiServer: sortedArgs(k.extraArgs.apiServer),
      controllerManager: sortedArgs(k.extraArgs.controllerManager),
      scheduler: sortedArgs(k.extraArgs.scheduler),
      etcd: sortedArgs(k.extraArgs.etcd),
    },
  }
}

function sortedArgs(flags: Record<string, string>): Arg[] {
  return Object.keys(flags)
    .sort()
    .map((name) => ({name, value: flags[name] as string}))
}

export function buildJoinSpec(cluster: Cluster, node: ClusterNode, s: KubeadmSecrets): JoinSpec {
  const dir = patchesDirectory(cluster, node)
  return {
    discovery: {apiServerEndpoint: endpointAddress(cluster), token: s.token, caCertHashes: [s.caCertHash]},
    nodeRegistration: nodeRegistration(cluster, node),
    ...(node.role === 'control-plane' ? {controlPlane: {localAPIEndpoint: localApiEndpoint(cluster, node)}} : {}),
    ...(dir !== undefined ? {patchesDirectory: dir} : {}),
    timeouts: kubeadmTimeouts(cluster),
  }
}
