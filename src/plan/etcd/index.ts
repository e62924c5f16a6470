/**
 * An external etcd member, as kubeadm's "Set up a High Availability etcd cluster with kubeadm" does
 * it: the kubelet runs standalone (no API server, no kubeconfig) only to keep the etcd static pod
 * running. The member's certificates under /etc/kubernetes/pki/etcd/ come from the PKI module.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {etcdMembers} from '../../profile/model.js'
import {file, header} from '../files.js'
import {etcdImage} from '../kubeadm/images.js'
import {CRI_SOCKETS, ETCD_DATA_DIR, ETCD_PKI, ETCD_PORTS, STATIC_POD_DIR} from '../kubeadm/paths.js'
import {yamlStream} from '../kubeadm/yaml.js'
import type {PlanFile, PlanUnit} from '../types.js'

export {ETCD_VERSIONS, etcdImageTag} from './versions.js'

export const ETCD_KUBELET_CONFIG_PATH = '/etc/nodegen/etcd-kubelet.yaml'
export const ETCD_MANIFEST_PATH = `${STATIC_POD_DIR}/etcd.yaml`
export const ETCD_KUBELET_DROP_IN = '20-etcd-service-manager.conf'

export interface EtcdMemberFiles {
  files: PlanFile[]
  units: PlanUnit[]
}

/** The kubelet's whole configuration on an etcd member: local only, no API server to ask. */
export function etcdKubeletConfiguration(cluster: Cluster): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: '127.0.0.1',
    authentication: {anonymous: {enabled: false}, webhook: {enabled: false}},
    authorization: {mode: 'AlwaysAllow'},
    cgroupDriver: 'systemd',
    containerRuntimeEndpoint: CRI_SOCKETS[cluster.runtime.type],
    staticPodPath: STATIC_POD_DIR,
  }
}

/** Replaces kubeadm's ExecStart (10-kubeadm.conf); the later name wins. */
export function etcdKubeletDropIn(cluster: Cluster, node: ClusterNode): string {
  return [
    header(cluster, node).trimEnd(),
    '# A standalone kubelet that only runs the etcd static pod (no API server, no kubeconfig).',
    '[Service]',
    'ExecStart=',
    `ExecStart=/usr/bin/kubelet --config=${ETCD_KUBELET_CONFIG_PATH}`,
    'Restart=always',
    '',
  ].join('\n')
}

const PKI = {
  ca: `${ETCD_PKI}/ca.crt`,
  serverCert: `${ETCD_PKI}/server.crt`,
  serverKey: `${ETCD_PKI}/server.key`,
  peerCert: `${ETCD_PKI}/peer.crt`,
  peerKey: `${ETCD_PKI}/peer.key`,
}

/** etcd's flags for one member, sorted like kubeadm writes them. */
export function etcdCommand(cluster: Cluster, node: ClusterNode): string[] {
  const {client, peer, metrics} = ETCD_PORTS
  const initialCluster = etcdMembers(cluster)
    .map((m) => `${m.name}=https://${m.ip}:${peer}`)
    .join(',')
  const flags: Record<string, string> = {
    'advertise-client-urls': `https://${node.ip}:${client}`,
    'cert-file': PKI.serverCert,
    'client-cert-auth': 'true',
    'data-dir': ETCD_DATA_DIR,
    'initial-advertise-peer-urls': `https://${node.ip}:${peer}`,
    'initial-cluster': initialCluster,
    'initial-cluster-state': 'new',
    'initial-cluster-token': cluster.name,
    'key-file': PKI.serverKey,
    'listen-client-urls': `https://127.0.0.1:${client},https://${node.ip}:${client}`,
    'listen-metrics-urls': `http://127.0.0.1:${metrics}`,
    'listen-peer-urls': `https://${node.ip}:${peer}`,
    name: node.name,
    'peer-cert-file': PKI.peerCert,
    'peer-client-cert-auth': 'true',
    'peer-key-file': PKI.peerKey,
    'peer-trusted-ca-file': PKI.ca,
    'snapshot-count': '10000',
    'trusted-ca-file': PKI.ca,
    // The profile's etcd flags (validation refuses those above that the cluster relies on).
    ...cluster.kubernetes.extraArgs.etcd,
  }
  return [
    'etcd',
    ...Object.keys(flags)
      .sort()
      .map((k) => `--${k}=${flags[k]}`),
  ]
}

function probe(path: string, failureThreshold: number) {
  return {
    failureThreshold,
    httpGet: {host: '127.0.0.1', path, port: ETCD_PORTS.metrics, scheme: 'HTTP'},
    initialDelaySeconds: 10,
    periodSeconds: 10,
    timeoutSeconds: 15,
  }
}

/** The etcd static pod, shaped like the one kubeadm writes for a stacked member. */
export function etcdPod(cluster: Cluster, node: ClusterNode): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      annotations: {'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${node.ip}:${ETCD_PORTS.client}`},
      labels: {component: 'etcd', tier: 'control-plane'},
      name: 'etcd',
      namespace: 'kube-system',
    },
    spec: {
      containers: [
        {
          command: etcdCommand(cluster, node),
          image: etcdImage(cluster),
          imagePullPolicy: 'IfNotPresent',
          livenessProbe: probe('/health?exclude=NOSPACE&serializable=true', 8),
          name: 'etcd',
          resources: {requests: {cpu: '100m', memory: '100Mi'}},
          startupProbe: probe('/health?serializable=false', 24),
          volumeMounts: [
            {mountPath: ETCD_DATA_DIR, name: 'etcd-data'},
            {mountPath: ETCD_PKI, name: 'etcd-certs'},
          ],
        },
      ],
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: 'system-node-critical',
      securityContext: {seccompProfile: {type: 'RuntimeDefault'}},
      volumes: [
        {hostPath: {path: ETCD_PKI, type: 'DirectoryOrCreate'}, name: 'etcd-certs'},
        {hostPath: {path: ETCD_DATA_DIR, type: 'DirectoryOrCreate'}, name: 'etcd-data'},
      ],
    },
  }
}

/** The files and the kubelet drop-in of an etcd member; nothing for other roles. */
export function buildEtcdMemberFiles(cluster: Cluster, node: ClusterNode): EtcdMemberFiles {
  if (node.role !== 'etcd') return {files: [], units: []}
  const h = header(cluster, node)
  return {
    files: [
      file(ETCD_KUBELET_CONFIG_PATH, yamlStream(h, [{value: etcdKubeletConfiguration(cluster)}]), 'etcd:kubelet', {mode: 0o644}),
      file(ETCD_MANIFEST_PATH, yamlStream(h, [{value: etcdPod(cluster, node)}]), 'etcd:static-pod', {mode: 0o600}),
    ].sort((a, b) => (a.path < b.path ? -1 : 1)),
    units: [{name: 'kubelet.service', enabled: true, dropIns: [{name: ETCD_KUBELET_DROP_IN, content: etcdKubeletDropIn(cluster, node)}]}],
  }
}
