/**
 * Which PKI files each node gets: exactly kubeadm's manual certificate distribution
 * (kubernetes.io "Creating Highly Available Clusters with kubeadm", Manual certificate distribution)
 * and nothing more.
 *
 * - control planes: the cluster CA, the front-proxy CA and the service-account pair; with stacked
 *   etcd also the etcd CA pair (kubeadm issues each member's etcd certificates on the node); with
 *   external etcd only the etcd CA certificate and the apiserver-etcd-client pair.
 * - external etcd members: the etcd CA certificate (no key: nodegen issued their certificates
 *   offline), their own server and peer pairs, and the healthcheck client pair.
 * - workers: nothing. `kubeadm join` discovery needs the token and the CA hash, which are
 *   parameters, not files; a worker never holds a private key of any CA.
 */
import {createHash} from 'node:crypto'
import type {Cluster, ClusterNode} from '../profile/index.js'
import type {CertKeyPem, ClusterSecrets, NodeSecretFile} from './types.js'

/** kubeadm's `CertificatesDir` default. */
export const NODE_PKI_DIR = '/etc/kubernetes/pki'
const MODE = 0o600

function cert(rel: string, content: string): NodeSecretFile {
  return {path: `${NODE_PKI_DIR}/${rel}`, content, mode: MODE, secret: false}
}

function key(rel: string, content: string): NodeSecretFile {
  return {path: `${NODE_PKI_DIR}/${rel}`, content, mode: MODE, secret: true}
}

function pair(base: string, p: CertKeyPem): NodeSecretFile[] {
  return [cert(`${base}.crt`, p.cert), key(`${base}.key`, p.key)]
}

/** The PKI files `node` must have, sorted by path. Planners call this; it reads nothing. */
export function secretFilesForNode(cluster: Cluster, node: ClusterNode, secrets: ClusterSecrets): NodeSecretFile[] {
  const external = cluster.topology === 'external'
  const files: NodeSecretFile[] = []
  if (node.role === 'control-plane') {
    files.push(...pair('ca', secrets.cas.ca), ...pair('front-proxy-ca', secrets.cas['front-proxy-ca']))
    files.push(key('sa.key', secrets.serviceAccount.key), cert('sa.pub', secrets.serviceAccount.pub))
    if (external) {
      if (!secrets.apiserverEtcdClient) throw new Error('the secrets lack apiserver-etcd-client (external etcd); load them with loadState')
      files.push(cert('etcd/ca.crt', secrets.cas['etcd-ca'].cert), ...pair('apiserver-etcd-client', secrets.apiserverEtcdClient))
    } else {
      files.push(...pair('etcd/ca', secrets.cas['etcd-ca']))
    }
  } else if (node.role === 'etcd') {
    const member = secrets.etcdMembers[node.name]
    if (!member || !secrets.etcdHealthcheckClient)
      throw new Error(`the secrets have no certificates for etcd member ${node.name}; load them with loadOrCreateState`)
    files.push(cert('etcd/ca.crt', secrets.cas['etcd-ca'].cert))
    files.push(...pair('etcd/server', member.server), ...pair('etcd/peer', member.peer))
    files.push(...pair('etcd/healthcheck-client', secrets.etcdHealthcheckClient))
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

export interface NodeSecretSummary {
  path: string
  /** `0600` */
  mode: string
  secret: boolean
  bytes: number
  /** `sha256:<hex>` of the content, so two renders can be compared without showing it. */
  digest: string
}

/** The files without their contents, for `--json` and logs. */
export function nodeSecretsSummary(files: readonly NodeSecretFile[]): NodeSecretSummary[] {
  return files.map((f) => ({
    path: f.path,
    mode: `0${f.mode.toString(8)}`,
    secret: f.secret,
    bytes: Buffer.byteLength(f.content, 'utf8'),
    digest: `sha256:${createHash('sha256').update(f.content).digest('hex')}`,
  }))
}
