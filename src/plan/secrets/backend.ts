/**
 * Where a cluster's node secrets travel (a cloud's secret service, or inline in the user-data), and
 * which of the programs a node can do without its seed has room for.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'

export type SecretBackend = 'aws-secrets-manager' | 'ssm-parameter-store' | 'gcp-secret-manager'

/** The node's backend, or undefined when secrets stay inline (NoCloud, config drive, PXE, or `inline`). */
export function secretBackendOf(cluster: Cluster): SecretBackend | undefined {
  const p = cluster.platform
  if (p.type === 'aws') {
    const b = p.aws?.secretBackend ?? 'aws-secrets-manager'
    return b === 'inline' ? undefined : b
  }
  if (p.type === 'gcp') {
    const b = p.gcp?.secretBackend ?? 'gcp-secret-manager'
    return b === 'inline' ? undefined : b
  }
  return undefined
}

/**
 * Whether the seeds have room for the programs a node can do without (the certificate renewal, the
 * recovery from a failed kubeadm init): not on EC2 with inline secrets, whose 16 KB of user-data is
 * taken by the keys (validation warns, NG0438). With a secret backend they travel in the secret bundle.
 */
export function roomForOptionalPrograms(cluster: Cluster): boolean {
  return !(cluster.platform.type === 'aws' && secretBackendOf(cluster) === undefined)
}

/** Whether the node renews its own certificates: control planes and external etcd members, where there is room. */
export function renewsCertificates(cluster: Cluster, node: ClusterNode): boolean {
  return node.role !== 'worker' && roomForOptionalPrograms(cluster)
}

/** Whether a control plane's seed carries recovery.sh (the report and resume after a failed kubeadm init). */
export function carriesRecovery(cluster: Cluster, node: ClusterNode): boolean {
  return node.role === 'control-plane' && roomForOptionalPrograms(cluster)
}
