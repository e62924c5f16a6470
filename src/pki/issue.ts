/**
 * Issuing the cluster's PKI in memory, from kubeadm's table (certs.ts). Pure: the clock, key
 * generation and randomness come in through the {@link PkiContext}; nothing here reads or writes
 * files. Certificates are built like Go's `x509.CreateCertificate` builds kubeadm's: random 63-bit
 * serials, key usage (critical), extended key usage, basic constraints (critical), a SHA-1 subject
 * key id on CAs, the issuer's key id on leaves, SANs last.
 */
import {createHash, type KeyObject, webcrypto, X509Certificate} from 'node:crypto'
import type {Cluster, ClusterNode, KeyAlgorithm, KubernetesTarget} from '../profile/index.js'
import {
  CAS,
  type CaId,
  type CaSpec,
  CERTIFICATE_BACKDATE_SECONDS,
  KEY_ALGORITHM_INFO,
  KEY_USAGES,
  type LeafId,
  type LeafSpec,
  leafSpec,
} from './certs.js'
import {keyAlgorithmOf, keyObjectOf, signingKey} from './keys.js'
import {buildKubeconfig, serverUrl} from './kubeconfig.js'
import {newBootstrapToken, wholeSeconds} from './token.js'
import type {BootstrapToken, CryptoKeyPair, PkiContext} from './types.js'
import type {x509} from './x509.js'

/**
 * @peculiar/x509 (with its asn1 schemas, most of the PKI's load time) loads when a certificate is
 * issued, not when a command only reads the state.
 */
async function loadX509(): Promise<typeof x509> {
  return (await import('./x509.js')).x509
}

/** A certificate with its private key, as issued (the key is not encoded yet). */
export interface IssuedPair {
  cert: string
  key: KeyObject
}

/** A CA able to sign: its certificate and its private key. */
export interface SigningCa {
  cert: string
  key: KeyObject
}

/** The whole set for one cluster, in memory. */
export interface IssuedPki {
  keyAlgorithm: KeyAlgorithm
  cas: Record<CaId, IssuedPair>
  serviceAccount: KeyObject
  admin: IssuedPair
  apiserverEtcdClient?: IssuedPair
  etcdHealthcheckClient?: IssuedPair
  etcdMembers: Record<string, {server: IssuedPair; peer: IssuedPair}>
  /** The init token. */
  token: BootstrapToken
  caCertHash: string
}

export interface Validity {
  /** Creation time, whole seconds. */
  created: Date
  notBefore: Date
  notAfter: Date
}

/** kubeadm's validity: backdated by 5 minutes, ending `seconds` after creation. */
export function validityFor(now: Date, seconds: number): Validity {
  const created = wholeSeconds(now)
  return {
    created,
    notBefore: new Date(created.getTime() - CERTIFICATE_BACKDATE_SECONDS * 1000),
    notAfter: new Date(created.getTime() + seconds * 1000),
  }
}

/** `sha256:<hex>` of the certificate's SubjectPublicKeyInfo: kubeadm's `--discovery-token-ca-cert-hash`. */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({type: 'spki', format: 'der'})
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`
}

/**
 * A serial number like kubeadm's: uniform in [1, 2^63-1), as hex. Go draws it with
 * `rand.Int(MaxInt64-1) + 1`; eight random bytes with the top bit cleared is the same range.
 */
export function randomSerial(randomBytes: (n: number) => Uint8Array): string {
  const b = Uint8Array.from(randomBytes(8))
  b[0] = (b[0] ?? 0) & 0x7f
  let hex = Buffer.from(b).toString('hex')
  if (/^0+$/.test(hex) || hex === '7fffffffffffffff') hex = '01'
  return hex
}

function keyUsage(lib: typeof x509, names: readonly string[]): x509.KeyUsagesExtension {
  const flags: Record<string, x509.KeyUsageFlags> = {
    digitalSignature: lib.KeyUsageFlags.digitalSignature,
    keyEncipherment: lib.KeyUsageFlags.keyEncipherment,
    keyCertSign: lib.KeyUsageFlags.keyCertSign,
  }
  return new lib.KeyUsagesExtension(
    names.reduce((f, n) => f | (flags[n] ?? 0), 0),
    true,
  )
}

function extendedKeyUsage(lib: typeof x509, usage: 'serverAuth' | 'clientAuth'): string {
  return usage === 'serverAuth' ? lib.ExtendedKeyUsage.serverAuth : lib.ExtendedKeyUsage.clientAuth
}

/** Go's SubjectKeyId for CAs: SHA-1 of the subjectPublicKey bit string (RFC 5280 4.2.1.2, method 1). */
async function subjectKeyId(publicKey: x509.PublicKey): Promise<string> {
  return Buffer.from(await publicKey.getKeyIdentifier('SHA-1')).toString('hex')
}

function subjectName(cn: string, organization: readonly string[]): x509.JsonName {
  // Go's pkix.Name order: O before CN.
  return [...(organization.length ? [{O: [...organization]}] : []), {CN: [cn]}]
}

/** The signature algorithm for a CA key: SHA-256 with RSA, or ECDSA with the curve's hash. */
function signingAlgorithm(caKeyAlg: KeyAlgorithm): webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams {
  const info = KEY_ALGORITHM_INFO[caKeyAlg]
  return info.kind === 'rsa' ? {name: 'RSASSA-PKCS1-v1_5', hash: info.hash} : {name: 'ECDSA', hash: info.hash}
}

/** A self-signed CA as kubeadm's `NewSelfSignedCACert` makes it. */
export async function issueCa(spec: CaSpec, keys: CryptoKeyPair, ctx: PkiContext, validitySeconds: number): Promise<IssuedPair> {
  const key = keyObjectOf(keys.privateKey)
  const alg = keyAlgorithmOf(key)
  if (!alg) throw new Error(`${spec.id}: the key is not one of the supported algorithms`)
  const v = validityFor(ctx.now, validitySeconds)
  const lib = await loadX509()
  const pub = new lib.PublicKey(await webcrypto.subtle.exportKey('spki', keys.publicKey))
  const name = subjectName(spec.cn, [])
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: randomSerial(ctx.randomBytes),
    subject: name,
    issuer: name,
    notBefore: v.notBefore,
    notAfter: v.notAfter,
    publicKey: pub,
    signingKey: keys.privateKey as never,
    signingAlgorithm: signingAlgorithm(alg),
    extensions: [
      keyUsage(lib, KEY_USAGES.ca),
      new lib.BasicConstraintsExtension(true, undefined, true),
      new lib.SubjectKeyIdentifierExtension(await subjectKeyId(pub)),
      new lib.SubjectAlternativeNameExtension([{type: 'dns', value: spec.cn}]),
    ],
  })
  return {cert: cert.toString('pem'), key}
}

export interface LeafSubject {
  cn: string
  organization: readonly string[]
  dns: string[]
  ips: string[]
}

/** The subject and SANs of a leaf for a cluster (and an etcd member, for per-member leaves). */
export function leafSubject(
  spec: LeafSpec,
  target: Pick<KubernetesTarget, 'minor' | 'clusterAdminsGroup'>,
  member?: ClusterNode,
): LeafSubject {
  const cn = spec.cn.replace('{member}', member?.name ?? '')
  if (spec.sans === 'none' || !member) return {cn, organization: spec.organization(target), dns: [], ips: []}
  // kubeadm's getAltNames: node name and localhost (deduplicated and sorted, as RemoveDuplicateAltNames
  // does), then the advertise address, 127.0.0.1 and ::1 in that order.
  const dns = [...new Set([member.name, 'localhost'])].sort()
  const ips = [...new Set([member.ip, '127.0.0.1', '::1'])]
  return {cn, organization: spec.organization(target), dns, ips}
}

/** A leaf signed by a CA, as kubeadm's `NewSignedCert` makes it. */
export async function issueLeaf(
  spec: LeafSpec,
  subject: LeafSubject,
  keys: CryptoKeyPair,
  ca: SigningCa,
  ctx: PkiContext,
  validitySeconds: number,
): Promise<IssuedPair> {
  const v = validityFor(ctx.now, validitySeconds)
  const lib = await loadX509()
  const caCert = new lib.X509Certificate(ca.cert)
  const caSki = caCert.getExtension(lib.SubjectKeyIdentifierExtension)
  const caAlg = keyAlgorithmOf(ca.key)
  if (!caAlg) throw new Error(`${spec.id}: the CA key is not one of the supported algorithms`)
  const sans: x509.JsonGeneralNames = [
    ...subject.dns.map((value) => ({type: 'dns' as const, value})),
    ...subject.ips.map((value) => ({type: 'ip' as const, value})),
  ]
  const extensions: x509.Extension[] = [
    keyUsage(lib, KEY_USAGES.leaf),
    new lib.ExtendedKeyUsageExtension(spec.usages.map((u) => extendedKeyUsage(lib, u))),
    new lib.BasicConstraintsExtension(false, undefined, true),
    ...(caSki ? [new lib.AuthorityKeyIdentifierExtension(caSki.keyId)] : []),
    ...(sans.length ? [new lib.SubjectAlternativeNameExtension(sans)] : []),
  ]
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: randomSerial(ctx.randomBytes),
    subject: subjectName(subject.cn, subject.organization),
    issuer: caCert.subjectName,
    notBefore: v.notBefore,
    notAfter: v.notAfter,
    publicKey: keys.publicKey as never,
    signingKey: (await signingKey(ca.key)) as never,
    signingAlgorithm: signingAlgorithm(caAlg),
    extensions,
  })
  return {cert: cert.toString('pem'), key: keyObjectOf(keys.privateKey)}
}

/** The external etcd members of a cluster (empty for stacked etcd). */
export function externalEtcdMembers(cluster: Cluster): ClusterNode[] {
  return cluster.topology === 'external' ? cluster.nodes.filter((n) => n.role === 'etcd') : []
}

/** One external etcd member's server and peer pairs. */
export async function issueEtcdMember(
  cluster: Cluster,
  member: ClusterNode,
  etcdCa: SigningCa,
  alg: KeyAlgorithm,
  ctx: PkiContext,
): Promise<{server: IssuedPair; peer: IssuedPair}> {
  const [serverKeys, peerKeys] = requestKeys(ctx, alg, 2)
  return issueMemberPairs(cluster, member, etcdCa, ctx, await serverKeys!, await peerKeys!)
}

async function issueMemberPairs(
  cluster: Cluster,
  member: ClusterNode,
  etcdCa: SigningCa,
  ctx: PkiContext,
  serverKeys: CryptoKeyPair,
  peerKeys: CryptoKeyPair,
): Promise<{server: IssuedPair; peer: IssuedPair}> {
  const one = (id: LeafId, keys: CryptoKeyPair) => {
    const spec = leafSpec(id)
    return issueLeaf(spec, leafSubject(spec, cluster.kubernetes, member), keys, etcdCa, ctx, cluster.pki.certValiditySeconds)
  }
  return {server: await one('etcd-server', serverKeys), peer: await one('etcd-peer', peerKeys)}
}

/**
 * Asks for `n` key pairs at once, in order: key generation (slow for RSA) runs on libuv's thread
 * pool in parallel, while signing stays sequential, so serials are drawn in a fixed order.
 */
function requestKeys(ctx: PkiContext, alg: KeyAlgorithm, n: number): Array<Promise<CryptoKeyPair>> {
  const keys = Array.from({length: n}, () => ctx.generateKey(alg))
  // Nobody awaits the later ones if an earlier step fails: keep their rejections from going unhandled.
  for (const k of keys) k.catch(() => undefined)
  return keys
}

/** admin.conf's text for an issued admin pair, with the client key as given (clear or encrypted). */
export function adminKubeconfig(cluster: Cluster, caCert: string, admin: {cert: string; keyPem: string}): string {
  return buildKubeconfig({
    clusterName: cluster.name,
    server: serverUrl(cluster.endpoint.host, cluster.endpoint.port),
    caCert,
    userName: leafSpec('admin').cn,
    clientCert: admin.cert,
    clientKey: admin.keyPem,
  })
}

/**
 * Issues the whole set for the cluster: the three CAs, the service-account key, admin.conf's client
 * pair, for external etcd the two etcd client pairs and every member's server and peer pairs, and the
 * init token (TTL from the profile).
 */
export async function issueClusterPki(cluster: Cluster, ctx: PkiContext): Promise<IssuedPki> {
  const alg = cluster.pki.keyAlgorithm
  const external = cluster.topology === 'external'
  const members = externalEtcdMembers(cluster)
  // Keys in a fixed order: the CAs, sa, admin, the two etcd clients, then each member's server and peer.
  const keys = requestKeys(ctx, alg, CAS.length + 2 + (external ? 2 : 0) + 2 * members.length)
  let next = 0
  const key = () => keys[next++] as Promise<CryptoKeyPair>
  const cas = {} as Record<CaId, IssuedPair>
  for (const spec of CAS) cas[spec.id] = await issueCa(spec, await key(), ctx, cluster.pki.caValiditySeconds)
  const serviceAccount = keyObjectOf((await key()).privateKey)
  const leaf = async (id: LeafId) => {
    const spec = leafSpec(id)
    return issueLeaf(spec, leafSubject(spec, cluster.kubernetes), await key(), cas[spec.ca], ctx, cluster.pki.certValiditySeconds)
  }
  const admin = await leaf('admin')
  const clients = external
    ? {apiserverEtcdClient: await leaf('apiserver-etcd-client'), etcdHealthcheckClient: await leaf('etcd-healthcheck-client')}
    : {}
  const etcdMembers: IssuedPki['etcdMembers'] = {}
  for (const m of members) etcdMembers[m.name] = await issueMemberPairs(cluster, m, cas['etcd-ca'], ctx, await key(), await key())
  return {
    keyAlgorithm: alg,
    cas,
    serviceAccount,
    admin,
    ...clients,
    etcdMembers,
    token: newBootstrapToken(ctx, cluster.bootstrapToken.ttlSeconds, 'init token (kubeadm init)'),
    caCertHash: caCertHash(cas.ca.cert),
  }
}
