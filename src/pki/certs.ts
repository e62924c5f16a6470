/**
 * kubeadm's certificate table, for the part of the PKI nodegen issues offline. Read from kubeadm's
 * `cmd/kubeadm/app/phases/certs/certlist.go` and `util/pkiutil/pki_helpers.go` (1.29+), and the
 * "PKI certificates and requirements" page. One frozen table drives issuance, `pki show`, the
 * distribution to nodes and the tests.
 *
 * What is *not* here, on purpose: `apiserver`, `apiserver-kubelet-client`, `front-proxy-client` and,
 * for stacked etcd, the etcd server/peer/healthcheck/apiserver-etcd-client certificates. kubeadm
 * issues those on each control plane from the CA pairs nodegen places there (kubeadm's manual
 * certificate distribution), so they carry the node's own name and addresses.
 */
import type {KeyAlgorithm, KubernetesTarget} from '../profile/index.js'

/** The three CAs. Ids are kubeadm's `Name`s; `file` is kubeadm's `BaseName` under pki/. */
export type CaId = 'ca' | 'front-proxy-ca' | 'etcd-ca'

export interface CaSpec {
  id: CaId
  /** Path under pki/ without extension: `ca` → `pki/ca.crt`, `pki/ca.key`. */
  file: string
  /** Subject CN (kubeadm's CAs have no O). kubeadm also writes the CN as the CA's only DNS SAN. */
  cn: string
  description: string
}

/** Freezes a table and each of its rows. */
function table<T extends object>(rows: T[]): readonly Readonly<T>[] {
  return Object.freeze(rows.map((r) => Object.freeze(r)))
}

export const CAS = table<CaSpec>([
  {id: 'ca', file: 'ca', cn: 'kubernetes', description: 'Kubernetes general CA'},
  {id: 'front-proxy-ca', file: 'front-proxy-ca', cn: 'front-proxy-ca', description: 'CA of the front proxy (aggregation layer)'},
  {id: 'etcd-ca', file: 'etcd/ca', cn: 'etcd-ca', description: 'CA for everything etcd'},
])

export type ExtKeyUsageName = 'serverAuth' | 'clientAuth'

/** Leaves nodegen issues offline. */
export type LeafId = 'etcd-server' | 'etcd-peer' | 'etcd-healthcheck-client' | 'apiserver-etcd-client' | 'admin'

export interface LeafSpec {
  id: LeafId
  ca: CaId
  /**
   * Path under pki/ without extension; `{member}` is the etcd member's node name. `admin` has no
   * files of its own: its pair lives inside admin.conf.
   */
  file: string
  /** Subject CN; `{member}` is the etcd member's node name (kubeadm: `NodeRegistration.Name`). */
  cn: string
  /** Subject O for a Kubernetes version. */
  organization: (k: Pick<KubernetesTarget, 'minor' | 'clusterAdminsGroup'>) => readonly string[]
  usages: readonly ExtKeyUsageName[]
  /** `etcd`: the member's name and `localhost` as DNS, its IP, 127.0.0.1 and ::1 as IP (kubeadm's getAltNames). */
  sans: 'etcd' | 'none'
  /** One per external etcd member, or one per cluster. */
  perMember: boolean
  /** Only issued when etcd is external (with stacked etcd kubeadm issues it on the node). */
  externalOnly: boolean
  description: string
}

const none = () => Object.freeze([]) as readonly string[]

export const LEAVES = table<LeafSpec>([
  {
    id: 'etcd-server',
    ca: 'etcd-ca',
    file: 'etcd/{member}/server',
    cn: '{member}',
    organization: none,
    // kubeadm keeps clientAuth on the server certificate: etcd 3.2+ uses it for its own
    // client connections (etcd-io/etcd#9785).
    usages: ['serverAuth', 'clientAuth'],
    sans: 'etcd',
    perMember: true,
    externalOnly: true,
    description: 'etcd serving certificate of one member',
  },
  {
    id: 'etcd-peer',
    ca: 'etcd-ca',
    file: 'etcd/{member}/peer',
    cn: '{member}',
    organization: none,
    usages: ['serverAuth', 'clientAuth'],
    sans: 'etcd',
    perMember: true,
    externalOnly: true,
    description: 'etcd peer certificate of one member',
  },
  {
    id: 'etcd-healthcheck-client',
    ca: 'etcd-ca',
    file: 'etcd/healthcheck-client',
    cn: 'kube-etcd-healthcheck-client',
    // kubeadm dropped O=system:masters in 1.29 (kubernetes/kubernetes#119859); nodegen supports 1.29+.
    organization: (k) => Object.freeze(k.minor < 29 ? ['system:masters'] : []),
    usages: ['clientAuth'],
    sans: 'none',
    perMember: false,
    externalOnly: true,
    description: 'client certificate for etcd health checks (etcdctl)',
  },
  {
    id: 'apiserver-etcd-client',
    ca: 'etcd-ca',
    file: 'apiserver-etcd-client',
    cn: 'kube-apiserver-etcd-client',
    // kubeadm dropped O=system:masters in 1.29 (kubernetes/kubernetes#120521).
    organization: (k) => Object.freeze(k.minor < 29 ? ['system:masters'] : []),
    usages: ['clientAuth'],
    sans: 'none',
    perMember: false,
    externalOnly: true,
    description: 'client certificate the API server uses to reach etcd',
  },
  {
    id: 'admin',
    ca: 'ca',
    file: 'admin.conf',
    cn: 'kubernetes-admin',
    // From 1.29 admin.conf is bound to kubeadm:cluster-admins (a ClusterRoleBinding kubeadm creates)
    // and only super-admin.conf, which never leaves the init node, is in system:masters.
    organization: (k) => Object.freeze([k.clusterAdminsGroup ? 'kubeadm:cluster-admins' : 'system:masters']),
    usages: ['clientAuth'],
    sans: 'none',
    perMember: false,
    externalOnly: false,
    description: "the operator's kubeconfig (admin.conf) client certificate",
  },
])

/** The service-account signing pair: not a certificate, same key algorithm as the rest (kubeadm 1.31+). */
export const SERVICE_ACCOUNT = Object.freeze({key: 'sa.key', pub: 'sa.pub'})

/**
 * kubeadm backdates every certificate by this much (`CertificateBackdate`), so a node whose clock is
 * a little behind still accepts it.
 */
export const CERTIFICATE_BACKDATE_SECONDS = 5 * 60

/**
 * Key usages kubeadm sets (pki_helpers.go `NewSignedCert`/`NewSelfSignedCACert`): digital signature
 * and key encipherment for every key type, plus certificate signing on CAs.
 */
export const KEY_USAGES = Object.freeze({
  ca: Object.freeze(['digitalSignature', 'keyEncipherment', 'keyCertSign'] as const),
  leaf: Object.freeze(['digitalSignature', 'keyEncipherment'] as const),
})

/** The bootstrap token's defaults, as `kubeadm token create` registers them. */
export const BOOTSTRAP_TOKEN_DEFAULTS = Object.freeze({
  usages: Object.freeze(['signing', 'authentication']),
  groups: Object.freeze(['system:bootstrappers:kubeadm:default-node-token']),
})

export interface KeyAlgorithmInfo {
  kind: 'rsa' | 'ecdsa'
  /** RSA modulus bits. */
  bits?: number
  /** WebCrypto curve name. */
  curve?: 'P-256' | 'P-384'
  /** Signature hash when this key signs (Go's x509 picks SHA-384 for P-384, SHA-256 otherwise). */
  hash: 'SHA-256' | 'SHA-384'
}

export const KEY_ALGORITHM_INFO: Readonly<Record<KeyAlgorithm, KeyAlgorithmInfo>> = Object.freeze({
  'RSA-2048': {kind: 'rsa', bits: 2048, hash: 'SHA-256'},
  'RSA-3072': {kind: 'rsa', bits: 3072, hash: 'SHA-256'},
  'RSA-4096': {kind: 'rsa', bits: 4096, hash: 'SHA-256'},
  'ECDSA-P256': {kind: 'ecdsa', curve: 'P-256', hash: 'SHA-256'},
  'ECDSA-P384': {kind: 'ecdsa', curve: 'P-384', hash: 'SHA-384'},
})

/** Path under pki/ of a leaf for a member (or the cluster). */
export function leafFile(spec: LeafSpec, member?: string): string {
  return spec.file.replace('{member}', member ?? '')
}

export function caSpec(id: CaId): CaSpec {
  return CAS.find((c) => c.id === id) as CaSpec
}

export function leafSpec(id: LeafId): LeafSpec {
  return LEAVES.find((l) => l.id === id) as LeafSpec
}
