/** The shapes the PKI hands to the rest of nodegen. */
import type {webcrypto} from 'node:crypto'
import type {KeyAlgorithm} from '../profile/index.js'
import type {CaId} from './certs.js'
import type {KdfParams} from './encryption.js'

export type CryptoKeyPair = webcrypto.CryptoKeyPair

/**
 * Everything ambient the PKI needs, passed in so issuance stays pure and tests stay fast. The real
 * one is {@link import('./context.js').systemPkiContext}; tests use a fixed clock and a key pool.
 */
export interface PkiContext {
  /** The clock: certificate validity and token expiry derive from it. */
  now: Date
  /** Generates an extractable key pair for the algorithm (RSASSA-PKCS1-v1_5/SHA-256 or ECDSA). */
  generateKey: (alg: KeyAlgorithm) => Promise<CryptoKeyPair>
  /** A CSPRNG (crypto.randomBytes in the command layer): serial numbers and bootstrap tokens. */
  randomBytes: (n: number) => Uint8Array
  /**
   * Encryption at rest (NODEGEN_PKI_PASSPHRASE, read by the command layer). When a state is created
   * with it, every secret in it is encrypted under a key stretched from it (encryption.ts), and it is
   * needed to load them.
   */
  passphrase?: string
}

/** A certificate and its private key, both PEM; the key in kubeadm's format (PKCS#1 or SEC1), never encrypted. */
export interface CertKeyPem {
  cert: string
  key: string
}

/** A bootstrap token as kubeadm knows it (`<id>.<secret>`), with when nodegen made it. */
export interface BootstrapToken {
  /** `[a-z0-9]{6}`: public, appears in the cluster as `bootstrap-token-<id>`. */
  tokenId: string
  /** `[a-z0-9]{16}`: the secret part. */
  tokenSecret: string
  /** `<tokenId>.<tokenSecret>` */
  token: string
  /** ISO time nodegen generated it. */
  created: string
  /** kubeadm's `ttl`: counted from when the token is registered in the cluster. */
  ttlSeconds: number
  /** `created + ttl`: the latest a token registered at creation time would live. */
  expires: string
  description: string
  usages: readonly string[]
  groups: readonly string[]
}

/** What state.json holds: written once, never changed. */
export interface StateInfo {
  schemaVersion: number
  cluster: string
  /** ISO time the state was created. */
  created: string
  keyAlgorithm: KeyAlgorithm
  topology: 'stacked' | 'external'
  /** Private keys are encrypted PKCS#8 (NODEGEN_PKI_PASSPHRASE). */
  encrypted: boolean
  /** `sha256:<hex>` of the cluster CA's SubjectPublicKeyInfo: kubeadm's discovery-token-ca-cert-hash. */
  caCertHash: string
  /** The profile's Kubernetes version when the state was made (decides admin.conf's group). */
  kubernetesVersion: string
  /** Encrypted states: how the state key is stretched from the passphrase (absent on old states). */
  kdf?: KdfParams
}

/**
 * The cluster's secrets, decrypted, as planners use them. Everything here is PEM text in kubeadm's
 * formats; nothing is encrypted.
 */
export interface ClusterSecrets extends StateInfo {
  cas: Readonly<Record<CaId, CertKeyPem>>
  /** The service-account signing pair: `sa.key` (private) and `sa.pub` (PKIX public key). */
  serviceAccount: {key: string; pub: string}
  /** External etcd only. */
  apiserverEtcdClient?: CertKeyPem
  /** External etcd only. */
  etcdHealthcheckClient?: CertKeyPem
  /** External etcd only: node name → its server and peer pairs. */
  etcdMembers: Readonly<Record<string, {server: CertKeyPem; peer: CertKeyPem}>>
  /** admin.conf, ready for kubectl: the endpoint, the CA and the kubernetes-admin client pair. */
  adminConf: string
  /** The current token: the newest one in tokens.json (the first is the cluster's init token). */
  bootstrapToken: BootstrapToken
  /** Every token in the state, oldest first. */
  tokens: readonly BootstrapToken[]
}

/** One file a node must have from the PKI. */
export interface NodeSecretFile {
  /** Absolute path on the node, like /etc/kubernetes/pki/ca.key. */
  path: string
  content: string
  /** 0o600 for every PKI file. */
  mode: number
  /** Private key material: redacted from logs and --json. */
  secret: boolean
}
