/**
 * kubeadm patches nodegen writes per node. File names follow kubeadm's rule
 * (cmd/kubeadm/app/util/patches): `<target>[suffix][+<json|merge|strategic>].<json|yaml>`, applied in
 * name order; `kube-apiserver0+json.json` is a JSON patch (RFC 6902) of the kube-apiserver static pod.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {KUBEADM_PATCHES_DIR, knownAddress} from './paths.js'

export interface KubeadmPatch {
  /** Absolute node path. */
  path: string
  content: string
}

/**
 * keepalived + haproxy on the API server's own port: haproxy listens on VIP:port and 127.0.0.1:port
 * on every control plane, so each API server must leave those addresses alone and bind only its node
 * IP. `--bind-address` is per node, which a ClusterConfiguration (shared by all control planes through
 * the kubeadm-config ConfigMap) cannot express, hence a patch.
 */
export function apiServerSharesHaproxyPort(cluster: Cluster): boolean {
  return cluster.loadBalancer.type === 'keepalived-haproxy' && cluster.endpoint.port === cluster.loadBalancer.apiServerPort
}

/** The patches of one node, sorted by path; none for nodes without an API server. */
export function buildKubeadmPatches(cluster: Cluster, node: ClusterNode): KubeadmPatch[] {
  if (node.role !== 'control-plane') return []
  const ip = knownAddress(node.ip)
  if (!apiServerSharesHaproxyPort(cluster) || ip === undefined) return []
  const patch = [{op: 'add', path: '/spec/containers/0/command/-', value: `--bind-address=${ip}`}]
  return [{path: `${KUBEADM_PATCHES_DIR}/kube-apiserver0+json.json`, content: `${JSON.stringify(patch, null, 2)}\n`}]
}
