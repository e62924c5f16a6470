/** The CNIs nodegen installs, at pinned versions, with the pod network each expects by default. */
import type {CniType} from './schema.js'

export interface CniInfo {
  defaultVersion: string
  defaultPodSubnet: string
  /** The upstream manifest of a version; undefined where upstream publishes none (cilium: Helm). */
  manifestUrl?: (version: string) => string
  /** Whether the manifest hard-codes the pod network (flannel's net-conf.json): the bootstrap rewrites it. */
  podSubnetInManifest: boolean
  /**
   * The images (containers and initContainers) the release manifest of `defaultVersion` names, for
   * `nodegen images` when a node fetches that manifest at boot. Undefined where there is no release
   * manifest.
   */
  releaseImages?: readonly string[]
}

export const CNI_INFO: Readonly<Record<Exclude<CniType, 'none'>, CniInfo>> = Object.freeze({
  flannel: {
    defaultVersion: 'v0.26.4',
    defaultPodSubnet: '10.244.0.0/16',
    manifestUrl: (v) => `https://github.com/flannel-io/flannel/releases/download/${v}/kube-flannel.yml`,
    podSubnetInManifest: true,
    // The release's kube-flannel.yml is `kubectl kustomize Documentation/kustomization/kube-flannel/`
    // (Makefile, release target): flannel-io/flannel tag v0.26.4 (c22fb8cdd056),
    // Documentation/kustomization/kube-flannel/kube-flannel.yml with the tag set to v0.26.4.
    releaseImages: Object.freeze(['ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1', 'ghcr.io/flannel-io/flannel:v0.26.4']),
  },
  calico: {
    defaultVersion: 'v3.29.1',
    defaultPodSubnet: '192.168.0.0/16',
    // Calico's manifest install reads the pod CIDR from kubeadm's configuration when
    // CALICO_IPV4POOL_CIDR is left commented out, as it is upstream.
    manifestUrl: (v) => `https://raw.githubusercontent.com/projectcalico/calico/${v}/manifests/calico.yaml`,
    podSubnetInManifest: false,
    // projectcalico/calico tag v3.29.1 (ddfc3b1ea724), manifests/calico.yaml: the calico-node
    // DaemonSet (cni and node) and the calico-kube-controllers Deployment.
    releaseImages: Object.freeze([
      'docker.io/calico/cni:v3.29.1',
      'docker.io/calico/kube-controllers:v3.29.1',
      'docker.io/calico/node:v3.29.1',
    ]),
  },
  cilium: {
    defaultVersion: '1.16.5',
    defaultPodSubnet: '10.244.0.0/16',
    podSubnetInManifest: false,
  },
})
