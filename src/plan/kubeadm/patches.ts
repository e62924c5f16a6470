/**
 * kubeadm patches nodegen writes per node. File names follow kubeadm's rule
 * (cmd/kubeadm/app/util/patches): `<target>[suffix][+<json|merge|strategic>].<json|yaml>`, applied in
 * name order; `kube-apiserver0+json.json` is a JSON patch (RFC 6902) of the kube-apiserver static pod.
 * nodegen's own patches have the suffix 0, the profile's (spec.kubernetes.patches) `1-NN` in the
 * profile's order, so kubeadm applies them after nodegen's and as the profile lists them.
 */

import type {Cluster, ClusterNode} from '../../profile/index.js'
import {KUBEADM_PATCH_TARGETS} from '../../profile/kubernetes.js'
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

/** The patches of one node's kubeadm, sorted by path; none for external etcd members (no kubeadm). */
export function buildKubeadmPatches(cluster: Cluster, node: ClusterNode): KubeadmPatch[] {
  if (node.role === 'etcd') return []
  const out: KubeadmPatch[] = []
  const ip = knownAddress(node.ip)
  if (node.role === 'control-plane' && apiServerSharesHaproxyPort(cluster) && ip !== undefined) {
    const patch = [{op: 'add', path: '/spec/containers/0/command/-', value: `--bind-address=${ip}`}]
    out.push({path: `${KUBEADM_PATCHES_DIR}/kube-apiserver0+json.json`, content: `${JSON.stringify(patch, null, 2)}\n`})
  }
  for (const [i, p] of cluster.kubernetes.patches.entries()) {
    const where = KUBEADM_PATCH_TARGETS.find((t) => t.name === p.target)?.nodes
    if (where !== 'all' && node.role !== 'control-plane') continue
    const name = `${p.target}1-${String(i + 1).padStart(2, '0')}+${p.type}.json`
    out.push({path: `${KUBEADM_PATCHES_DIR}/${name}`, content: `${JSON.stringify(p.patch, null, 2)}\n`})
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
