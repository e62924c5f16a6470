/** The CNIs nodegen installs, at pinned versions, with the pod network each expects by default. */
import type {CniType} from './schema.js'

export interface CniInfo {
  defaultVersion: string
  defaultPodSubnet: string
  /** The upstream manifest of a version; undefined where upstream publishes none (cilium: Helm). */
  manifestUrl?: (version: string) => string
  /** Whether the manifest hard-codes the pod network (flannel's net-conf.json): the bootstrap rewrites it. */
  podSubnetInManifest: boolean
}

export const CNI_INFO: Readonly<Record<Exclude<CniType, 'none'>, CniInfo>> = Object.freeze({
  flannel: {
    defaultVersion: 'v0.26.4',
    defaultPodSubnet: '10.244.0.0/16',
    manifestUrl: (v) => `https://github.com/flannel-io/flannel/releases/download/${v}/kube-flannel.yml`,
    podSubnetInManifest: true,
  },
  calico: {
    defaultVersion: 'v3.29.1',
    defaultPodSubnet: '192.168.0.0/16',
    // Calico's manifest install reads the pod CIDR from kubeadm's configuration when
    // CALICO_IPV4POOL_CIDR is left commented out, as it is upstream.
    manifestUrl: (v) => `https://raw.githubusercontent.com/projectcalico/calico/${v}/manifests/calico.yaml`,
    podSubnetInManifest: false,
  },
  cilium: {
    defaultVersion: '1.16.5',
    defaultPodSubnet: '10.244.0.0/16',
    podSubnetInManifest: false,
  },
})
