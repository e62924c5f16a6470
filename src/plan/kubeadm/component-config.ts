/**
 * The component configurations kubeadm init uploads for the whole cluster (kubelet-config and
 * kube-proxy ConfigMaps); only control plane 0's config.yaml carries them, joining nodes download them.
 */
import type {Cluster} from '../../profile/index.js'
import {CRI_SOCKETS, KUBERNETES_PKI, STATIC_POD_DIR} from './paths.js'

/**
 * kubelet.config.k8s.io/v1beta1: the systemd cgroup driver (the kubelet's own default is cgroupfs,
 * which would disagree with containerd's `SystemdCgroup = true`), plus, written out rather than left
 * to defaulting, what kubeadm sets for every kubelet: no anonymous access, webhook authn/authz
 * against the API server, the healthz port on loopback only, no read-only port, rotated client certs.
 */
export function kubeletConfiguration(cluster: Cluster): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    authentication: {
      anonymous: {enabled: false},
      webhook: {enabled: true, cacheTTL: '2m0s'},
      x509: {clientCAFile: `${KUBERNETES_PKI}/ca.crt`},
    },
    authorization: {mode: 'Webhook', webhook: {cacheAuthorizedTTL: '5m0s', cacheUnauthorizedTTL: '30s'}},
    cgroupDriver: 'systemd',
    clusterDNS: [cluster.networking.clusterDns],
    clusterDomain: cluster.networking.dnsDomain,
    containerRuntimeEndpoint: CRI_SOCKETS[cluster.runtime.type],
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    readOnlyPort: 0,
    rotateCertificates: true,
    staticPodPath: STATIC_POD_DIR,
  }
}

/** kubeproxy.config.k8s.io/v1alpha1: iptables mode, the pod network as the cluster CIDR. */
export function kubeProxyConfiguration(cluster: Cluster): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clusterCIDR: cluster.networking.podSubnet,
    mode: 'iptables',
  }
}
