/** Node paths the kubeadm documents live at and point to; the bootstrap program relies on them. */
import type {Cluster} from '../../profile/index.js'

export const KUBEADM_DIR = '/etc/nodegen/kubeadm'
/** `kubeadm init|join --config` reads this; it carries the bootstrap token. */
export const KUBEADM_CONFIG = `${KUBEADM_DIR}/config.yaml`
/** Control plane 0's `kubeadm join --config` for when it finds the cluster already running. */
export const KUBEADM_REJOIN_CONFIG = `${KUBEADM_DIR}/rejoin.yaml`
export const KUBEADM_PATCHES_DIR = `${KUBEADM_DIR}/patches`
/** `kubeadm upgrade apply|node --config` on a control plane (kept after the bootstrap; no secret). */
export const KUBEADM_UPGRADE_CONFIG = `${KUBEADM_DIR}/upgrade.yaml`

export const KUBERNETES_PKI = '/etc/kubernetes/pki'
export const ETCD_PKI = `${KUBERNETES_PKI}/etcd`
export const STATIC_POD_DIR = '/etc/kubernetes/manifests'
export const ETCD_DATA_DIR = '/var/lib/etcd'

/** etcd's fixed ports (kubeadm's constants): client, peer, and the plain-HTTP metrics/health listener. */
export const ETCD_PORTS = Object.freeze({client: 2379, peer: 2380, metrics: 2381})

/** The CRI endpoint of each container runtime, for kubeadm's criSocket and the kubelet's containerRuntimeEndpoint. */
export const CRI_SOCKETS: Readonly<Record<Cluster['runtime']['type'], string>> = Object.freeze({
  containerd: 'unix:///var/run/containerd/containerd.sock',
  'cri-o': 'unix:///var/run/crio/crio.sock',
})

/** A node rendered for a cloud that assigns its address at boot has `0.0.0.0` until then. */
export function knownAddress(ip: string): string | undefined {
  return ip === '0.0.0.0' ? undefined : ip
}
