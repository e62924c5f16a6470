/**
 * kube-vip as a static pod in ARP mode with leader election (kube-vip's "static pods" install, as
 * `kube-vip manifest pod --controlplane --arp --leaderElection` writes it). kube-vip talks to the API
 * server with the kubeconfig mounted at /etc/kubernetes/admin.conf; during `kubeadm init` (>= 1.29)
 * admin.conf's group has no RBAC binding yet, so control plane 0 first runs the variant that mounts
 * super-admin.conf there (kube-vip issue #684). The bootstrap program copies the right file into
 * /etc/kubernetes/manifests/ and switches to the steady-state one after init.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {header} from '../files.js'
import {yamlStream} from '../kubeadm/yaml.js'
import {vrrpInterface} from './keepalived.js'

export const KUBE_VIP_PATH = '/etc/nodegen/kube-vip.yaml'
export const KUBE_VIP_INIT_PATH = '/etc/nodegen/kube-vip-init.yaml'

const ADMIN_CONF = '/etc/kubernetes/admin.conf'
const SUPER_ADMIN_CONF = '/etc/kubernetes/super-admin.conf'

function env(name: string, value: string) {
  return {name, value}
}

/** The kube-vip pod; `kubeconfig` is the host file mounted as the container's admin.conf. */
export function kubeVipPod(cluster: Cluster, node: ClusterNode, kubeconfig: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name: 'kube-vip', namespace: 'kube-system'},
    spec: {
      containers: [
        {
          name: 'kube-vip',
          image: cluster.loadBalancer.kubeVipImage,
          imagePullPolicy: 'IfNotPresent',
          args: ['manager'],
          env: [
            env('vip_arp', 'true'),
            // The VIP's traffic goes straight to the API server: kube-vip does no load balancing here.
            env('port', String(cluster.loadBalancer.apiServerPort)),
            {name: 'vip_nodename', valueFrom: {fieldRef: {fieldPath: 'spec.nodeName'}}},
            env('vip_interface', vrrpInterface(cluster, node)),
            env('cp_enable', 'true'),
            env('cp_namespace', 'kube-system'),
            env('vip_leaderelection', 'true'),
            env('vip_leasename', 'plndr-cp-lock'),
            env('vip_leaseduration', '5'),
            env('vip_renewdeadline', '3'),
            env('vip_retryperiod', '1'),
            env('address', cluster.endpoint.host),
          ],
          resources: {},
          securityContext: {capabilities: {add: ['NET_ADMIN', 'NET_RAW']}},
          volumeMounts: [{name: 'kubeconfig', mountPath: ADMIN_CONF}],
        },
      ],
      // kube-vip reaches the local API server as https://kubernetes:<port> when the kubeconfig names the VIP.
      hostAliases: [{ip: '127.0.0.1', hostnames: ['kubernetes']}],
      hostNetwork: true,
      volumes: [{name: 'kubeconfig', hostPath: {path: kubeconfig}}],
    },
  }
}

export interface KubeVipManifest {
  path: string
  content: string
}

/** The steady-state manifest for every control plane, and control plane 0's init-time variant. */
export function kubeVipManifests(cluster: Cluster, node: ClusterNode): KubeVipManifest[] {
  const h = header(cluster, node)
  const out = [{path: KUBE_VIP_PATH, content: yamlStream(h, [{value: kubeVipPod(cluster, node, ADMIN_CONF)}])}]
  if (node.ordinal === 0) {
    // Before 1.29 admin.conf had system:masters and there is no super-admin.conf to mount.
    const initConf = cluster.kubernetes.clusterAdminsGroup ? SUPER_ADMIN_CONF : ADMIN_CONF
    out.push({path: KUBE_VIP_INIT_PATH, content: yamlStream(h, [{value: kubeVipPod(cluster, node, initConf)}])})
  }
  return out
}
