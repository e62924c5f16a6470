/**
 * Reading a state: whether a directory holds one, state.json checked against the cluster, and
 * every certificate, key and token checked as it is read (private keys come back decrypted).
 * Nothing here changes the state; loadState is the read-only way in. The writers, the inventory
 * and the encrypter read through the same helpers, so a damaged or missing file is reported the
 * same way wherever it is found.
 */
import {X509Certificate} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import type {Cluster, KeyAlgorithm} from '../../profile/index.js'
import {CAS, type CaId, KEY_ALGORITHM_INFO, leafFile, leafSpec} from '../certs.js'
import {isKdfParams} from '../encryption.js'
import {PkiError} from '../errors.js'
import {caCertHash, externalEtcdMembers} from '../issue.js'
import {decodePrivateKey, KeyDecodeError, kubeadmKeyPem, publicKeyPem} from '../keys.js'
import {parseKubeconfigCredentials, replaceClientKey} from '../kubeconfig.js'
import {TOKEN_PATTERN} from '../token.js'
import type {BootstrapToken, CertKeyPem, ClusterSecrets, PkiContext, StateInfo} from '../types.js'
import {ADMIN_CONF, ENCRYPTED_ADMIN_NOTE, STATE_JSON, STATE_SCHEMA_VERSION, TOKENS_JSON} from './layout.js'
import {type StateSecretKey, stateSecretKey} from './secret-key.js'

type Probe = 'absent' | 'empty' | 'state' | 'foreign'

export async function probe(dir: string): Promise<Probe> {
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return 'absent'
    if (code === 'ENOTDIR') return 'foreign'
    throw new PkiError('NG0912', {dir, reason: (e as Error).message})
  }
  if (names.includes(STATE_JSON)) return 'state'
  return names.length === 0 ? 'empty' : 'foreign'
}

export async function readText(dir: string, rel: string): Promise<string> {
  try {
    return await fs.readFile(path.join(dir, rel), 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new PkiError('NG0904', {dir, reason: code === 'ENOENT' ? `${rel} is missing` : `${rel}: ${(e as Error).message}`})
  }
}

export function damaged(dir: string, reason: string): PkiError {
  return new PkiError('NG0904', {dir, reason})
}

const KEY_ALGORITHMS = Object.keys(KEY_ALGORITHM_INFO)

/** state.json, checked against the cluster: its name (and, when given, topology) must match. */
export async function readStateInfo(
  dir: string,
  cluster: Pick<Cluster, 'name'> & Partial<Pick<Cluster, 'topology'>>,
  profile = 'PROFILE',
): Promise<StateInfo> {
  const p = await probe(dir)
  if (p === 'absent' || p === 'empty') throw new PkiError('NG0901', {dir, profile})
  if (p === 'foreign') throw new PkiError('NG0903', {dir})
  let raw: unknown
  try {
    raw = JSON.parse(await readText(dir, STATE_JSON))
  } catch (e) {
    if (e instanceof PkiError) throw e
    throw damaged(dir, `${STATE_JSON} is not JSON`)
  }
  const s = raw as Partial<StateInfo>
  if (typeof s !== 'object' || s === null || typeof s.schemaVersion !== 'number') throw damaged(dir, `${STATE_JSON} has no schemaVersion`)
  if (s.schemaVersion !== STATE_SCHEMA_VERSION)
    throw new PkiError('NG0907', {dir, version: s.schemaVersion, supported: STATE_SCHEMA_VERSION})
  if (typeof s.cluster !== 'string') throw damaged(dir, `${STATE_JSON} has no cluster name`)
  if (s.cluster !== cluster.name) throw new PkiError('NG0902', {dir, stateCluster: s.cluster, cluster: cluster.name})
  if (!KEY_ALGORITHMS.includes(s.keyAlgorithm as string)) throw damaged(dir, `${STATE_JSON} has no valid keyAlgorithm`)
  if (s.topology !== 'stacked' && s.topology !== 'external') throw damaged(dir, `${STATE_JSON} has no valid topology`)
  if (cluster.topology !== undefined && s.topology !== cluster.topology)
    throw new PkiError('NG0908', {dir, stateTopology: s.topology, topology: cluster.topology})
  if (typeof s.caCertHash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(s.caCertHash))
    throw damaged(dir, `${STATE_JSON} has no valid caCertHash`)
  return {
    schemaVersion: s.schemaVersion,
    cluster: s.cluster,
    created: String(s.created),
    keyAlgorithm: s.keyAlgorithm as KeyAlgorithm,
    topology: s.topology,
    encrypted: s.encrypted === true,
    caCertHash: s.caCertHash,
    kubernetesVersion: String(s.kubernetesVersion ?? ''),
    ...(s.encrypted === true && isKdfParams(s.kdf) ? {kdf: s.kdf} : {}),
  }
}

/** The external etcd members the state has certificates for, sorted by name. */
export async function stateMembers(dir: string, info: StateInfo): Promise<string[]> {
  if (info.topology !== 'external') return []
  const entries = await fs.readdir(path.join(dir, 'pki', 'etcd'), {withFileTypes: true}).catch(() => [])
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort()
}

export function decode(dir: string, rel: string, pem: string, passphrase: string | undefined) {
  try {
    return decodePrivateKey(pem, passphrase)
  } catch (e) {
    if (!(e instanceof KeyDecodeError)) throw e
    if (e.reason === 'missing-passphrase') throw new PkiError('NG0905', {dir})
    if (e.reason === 'bad-passphrase') throw new PkiError('NG0906', {dir, file: rel})
    throw damaged(dir, `${rel} is not a private key`)
  }
}

function parseCert(dir: string, rel: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch {
    throw damaged(dir, `${rel} is not a certificate`)
  }
}

/** Reads a certificate and its key, checks they match and that the CA (if given) issued it. */
async function readPair(
  dir: string,
  file: string,
  passphrase: string | undefined,
  ca?: X509Certificate,
): Promise<{pem: CertKeyPem; cert: X509Certificate}> {
  const certPem = await readText(dir, `pki/${file}.crt`)
  const cert = parseCert(dir, `pki/${file}.crt`, certPem)
  const key = decode(dir, `pki/${file}.key`, await readText(dir, `pki/${file}.key`), passphrase)
  if (!cert.checkPrivateKey(key)) throw damaged(dir, `pki/${file}.key does not belong to pki/${file}.crt`)
  const issuer = ca ?? cert
  if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) throw damaged(dir, `pki/${file}.crt is not signed by its CA`)
  if (!ca && !cert.ca) throw damaged(dir, `pki/${file}.crt is not a CA certificate`)
  return {pem: {cert: certPem, key: kubeadmKeyPem(key)}, cert}
}

interface TokensFile {
  schemaVersion: number
  tokens: BootstrapToken[]
  [other: string]: unknown
}

export function parseTokens(dir: string, text: string, key?: StateSecretKey): TokensFile {
  let raw: TokensFile
  try {
    raw = JSON.parse(text) as TokensFile
  } catch {
    throw damaged(dir, `${TOKENS_JSON} is not JSON`)
  }
  if (typeof raw?.sealed === 'string') {
    if (!key?.sealing) throw new PkiError('NG0905', {dir})
    const plain = key.sealing.open(TOKENS_JSON, raw.sealed)
    if (plain === undefined) throw new PkiError('NG0906', {dir, file: TOKENS_JSON})
    try {
      raw = {...raw, tokens: JSON.parse(plain) as BootstrapToken[]}
    } catch {
      throw damaged(dir, `${TOKENS_JSON} is not JSON`)
    }
  }
  if (!raw || !Array.isArray(raw.tokens) || raw.tokens.length === 0) throw damaged(dir, `${TOKENS_JSON} holds no token`)
  for (const t of raw.tokens) {
    if (!TOKEN_PATTERN.test(`${t?.tokenId}.${t?.tokenSecret}`) || t.token !== `${t.tokenId}.${t.tokenSecret}`)
      throw damaged(dir, `${TOKENS_JSON} holds a malformed token`)
  }
  return raw
}

/** Reads and checks every file of a state; private keys come back decrypted, in kubeadm's format. */
export async function readSecrets(dir: string, info: StateInfo, passphrase: string | undefined): Promise<ClusterSecrets> {
  const sk = stateSecretKey(dir, info, passphrase)
  const pass = sk.pem
  const cas = {} as Record<CaId, CertKeyPem>
  const caCerts = {} as Record<CaId, X509Certificate>
  for (const spec of CAS) {
    const {pem, cert} = await readPair(dir, spec.file, pass)
    cas[spec.id] = pem
    caCerts[spec.id] = cert
  }
  if (caCertHash(cas.ca.cert) !== info.caCertHash) throw damaged(dir, `pki/ca.crt does not match the caCertHash in ${STATE_JSON}`)
  const saKey = decode(dir, 'pki/sa.key', await readText(dir, 'pki/sa.key'), pass)
  const saPub = await readText(dir, 'pki/sa.pub')
  if (publicKeyPem(saKey) !== saPub) throw damaged(dir, 'pki/sa.pub does not belong to pki/sa.key')

  const external = info.topology === 'external'
  const etcdCa = caCerts['etcd-ca']
  const leafPair = async (id: 'apiserver-etcd-client' | 'etcd-healthcheck-client') =>
    (await readPair(dir, leafFile(leafSpec(id)), pass, etcdCa)).pem
  const etcdMembers: Record<string, {server: CertKeyPem; peer: CertKeyPem}> = {}
  for (const m of await stateMembers(dir, info)) {
    etcdMembers[m] = {
      server: (await readPair(dir, leafFile(leafSpec('etcd-server'), m), pass, etcdCa)).pem,
      peer: (await readPair(dir, leafFile(leafSpec('etcd-peer'), m), pass, etcdCa)).pem,
    }
  }

  const adminText = await readText(dir, ADMIN_CONF)
  const creds = parseKubeconfigCredentials(adminText)
  if (!creds.clientCert || !creds.clientKey) throw damaged(dir, `${ADMIN_CONF} has no client certificate`)
  const adminCert = parseCert(dir, ADMIN_CONF, creds.clientCert)
  const adminKey = decode(dir, ADMIN_CONF, creds.clientKey, pass)
  if (!adminCert.checkPrivateKey(adminKey) || !adminCert.verify(caCerts.ca.publicKey))
    throw damaged(dir, `${ADMIN_CONF}'s client certificate is not valid for pki/ca.crt`)
  const adminConf = replaceClientKey(adminText.replace(ENCRYPTED_ADMIN_NOTE, ''), kubeadmKeyPem(adminKey))

  const tokens = parseTokens(dir, await readText(dir, TOKENS_JSON), sk).tokens
  return {
    ...info,
    cas,
    serviceAccount: {key: kubeadmKeyPem(saKey), pub: saPub},
    ...(external
      ? {apiserverEtcdClient: await leafPair('apiserver-etcd-client'), etcdHealthcheckClient: await leafPair('etcd-healthcheck-client')}
      : {}),
    etcdMembers,
    adminConf,
    bootstrapToken: tokens[tokens.length - 1] as BootstrapToken,
    tokens,
  }
}

/**
 * Loads an existing state without changing it. Fails when it is missing, belongs to another cluster
 * or topology, cannot be decrypted, or lacks an external etcd member the profile lists.
 */
export async function loadState(
  dir: string,
  cluster: Cluster,
  ctx: Pick<PkiContext, 'passphrase'>,
  profile = 'PROFILE',
): Promise<ClusterSecrets> {
  const info = await readStateInfo(dir, cluster, profile)
  const secrets = await readSecrets(dir, info, ctx.passphrase)
  for (const m of externalEtcdMembers(cluster)) {
    if (!secrets.etcdMembers[m.name]) throw new PkiError('NG0911', {dir, member: m.name, profile})
  }
  return secrets
}
