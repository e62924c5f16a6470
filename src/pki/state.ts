/**
 * The state dir: the I/O adapter that keeps the cluster's secrets. Layout (every file 0600, every
 * directory 0700):
 *
 * ```
 * state.json      cluster, created, key algorithm, topology, encrypted, caCertHash (written once)
 * tokens.json     bootstrap tokens, oldest first; the first is the init token (sealed when encrypted)
 * calendar.json   the token calendar's secret (calendar.ts; sealed when encrypted)
 * serve-key       the key of `nodegen serve`'s node tokens (servekey.ts; sealed when encrypted)
 * admin.conf      the operator's kubeconfig
 * pki/            kubeadm's names: ca.*, front-proxy-ca.*, etcd/ca.*, sa.key, sa.pub and, for
 *                 external etcd, apiserver-etcd-client.*, etcd/healthcheck-client.*,
 *                 etcd/<member>/{server,peer}.*
 * ```
 *
 * A state is created once: issued in memory, written into a temporary directory beside it, fsynced
 * and renamed into place, so a crash leaves no state or a whole one. Nothing in it is ever replaced.
 * Later additions are atomic too: a new external etcd member's directory is renamed into place
 * whole, and `tokens.json` is replaced by a temp-file rename that only ever appends a token.
 */
import {createPublicKey, X509Certificate} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import type {Cluster, ClusterNode, KeyAlgorithm} from '../profile/index.js'
import {CAS, type CaId, KEY_ALGORITHM_INFO, leafFile, leafSpec} from './certs.js'
import {
  ensureParent,
  FILE_MODE,
  fsyncPath,
  linkNewFile,
  publishDir,
  removeStaleTemps,
  replaceFile,
  type TreeHooks,
  tempName,
  withLock,
  writeTree,
} from './durable.js'
import {isKdfParams, isSealed, MIN_PASSPHRASE_LENGTH, newStateKey, openStateKey, type StateKey} from './encryption.js'
import {PkiError} from './errors.js'
import type {CertificateInfo} from './inspect.js'
import {
  adminKubeconfig,
  caCertHash,
  externalEtcdMembers,
  type IssuedPair,
  type IssuedPki,
  issueClusterPki,
  issueEtcdMember,
} from './issue.js'
import {decodePrivateKey, encodePrivateKey, KeyDecodeError, keyAlgorithmOf, kubeadmKeyPem, publicKeyPem} from './keys.js'
import {parseKubeconfigCredentials, replaceClientKey} from './kubeconfig.js'
import {newBootstrapToken, redactToken, TOKEN_PATTERN, wholeSeconds} from './token.js'
import type {BootstrapToken, CertKeyPem, ClusterSecrets, PkiContext, StateInfo} from './types.js'

export const STATE_SCHEMA_VERSION = 1
export const STATE_JSON = 'state.json'
export const TOKENS_JSON = 'tokens.json'
export const ADMIN_CONF = 'admin.conf'
const ENCRYPTED_ADMIN_NOTE =
  '# client-key-data holds an encrypted PKCS#8 key (NODEGEN_PKI_PASSPHRASE): nodegen decrypts it, kubectl cannot use this file as is.\n'

/** Options of the state functions. `onWrite` is a test seam: it runs after each file is written. */
export type StateOptions = TreeHooks

export interface LoadOrCreateResult {
  secrets: ClusterSecrets
  /** True when this call created the state. */
  created: boolean
  /** Files added to an existing state (a new external etcd member's pairs), relative to the state dir. */
  added: string[]
  /** Things the profile asks for that the state cannot give (it is never rewritten). */
  warnings: string[]
}

// ---------------------------------------------------------------------------------------------
// Rendering a new state (pure)

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`

function memberFiles(pair: {server: IssuedPair; peer: IssuedPair}, passphrase: string | undefined): Map<string, string> {
  return new Map([
    ['server.crt', pair.server.cert],
    ['server.key', encodePrivateKey(pair.server.key, passphrase)],
    ['peer.crt', pair.peer.cert],
    ['peer.key', encodePrivateKey(pair.peer.key, passphrase)],
  ])
}

/** The sealed form of tokens.json: the tokens without their secrets in the clear, the whole list sealed. */
function tokensFile(tokens: readonly BootstrapToken[], key: StateKey | undefined, extra: Record<string, unknown> = {}): string {
  if (!key) return json({...extra, schemaVersion: STATE_SCHEMA_VERSION, tokens})
  return json({
    ...extra,
    schemaVersion: STATE_SCHEMA_VERSION,
    publicTokens: tokens.map(redactToken),
    tokens: [],
    sealed: key.seal(TOKENS_JSON, JSON.stringify(tokens)).trim(),
  })
}

/**
 * Every file of a new state, relative path → content. With `passphrase` set (at least
 * MIN_PASSPHRASE_LENGTH characters), keys and tokens are encrypted under a state key stretched from
 * it with scrypt over `salt`.
 */
export function renderStateFiles(
  cluster: Cluster,
  issued: IssuedPki,
  created: Date,
  passphrase: string | undefined,
  salt?: Uint8Array,
): Map<string, string> {
  const sk = passphrase === undefined ? undefined : newStateKey(passphrase, salt)
  const files = new Map<string, string>()
  const pemPass = sk?.key.pemPassphrase
  passphrase = pemPass
  const pair = (file: string, p: IssuedPair) => {
    files.set(`pki/${file}.crt`, p.cert)
    files.set(`pki/${file}.key`, encodePrivateKey(p.key, passphrase))
  }
  for (const spec of CAS) pair(spec.file, issued.cas[spec.id])
  files.set('pki/sa.key', encodePrivateKey(issued.serviceAccount, passphrase))
  files.set('pki/sa.pub', publicKeyPem(issued.serviceAccount))
  if (issued.apiserverEtcdClient) pair(leafFile(leafSpec('apiserver-etcd-client')), issued.apiserverEtcdClient)
  if (issued.etcdHealthcheckClient) pair(leafFile(leafSpec('etcd-healthcheck-client')), issued.etcdHealthcheckClient)
  for (const [member, p] of Object.entries(issued.etcdMembers)) {
    for (const [name, content] of memberFiles(p, passphrase)) files.set(`pki/etcd/${member}/${name}`, content)
  }
  const admin = adminKubeconfig(cluster, issued.cas.ca.cert, {
    cert: issued.admin.cert,
    keyPem: encodePrivateKey(issued.admin.key, passphrase),
  })
  files.set(ADMIN_CONF, passphrase === undefined ? admin : ENCRYPTED_ADMIN_NOTE + admin)
  files.set(TOKENS_JSON, tokensFile([issued.token], sk?.key))
  const info: StateInfo = {
    schemaVersion: STATE_SCHEMA_VERSION,
    cluster: cluster.name,
    created: wholeSeconds(created).toISOString(),
    keyAlgorithm: issued.keyAlgorithm,
    topology: cluster.topology,
    encrypted: sk !== undefined,
    caCertHash: issued.caCertHash,
    kubernetesVersion: cluster.kubernetes.version,
    ...(sk ? {kdf: sk.kdf} : {}),
  }
  files.set(STATE_JSON, json(info))
  return files
}

// ---------------------------------------------------------------------------------------------
// Reading

type Probe = 'absent' | 'empty' | 'state' | 'foreign'

async function probe(dir: string): Promise<Probe> {
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

async function readText(dir: string, rel: string): Promise<string> {
  try {
    return await fs.readFile(path.join(dir, rel), 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new PkiError('NG0904', {dir, reason: code === 'ENOENT' ? `${rel} is missing` : `${rel}: ${(e as Error).message}`})
  }
}

function damaged(dir: string, reason: string): PkiError {
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

/** How a state's secrets open: the PKCS#8 passphrase of its keys and the key of its sealed files. */
export interface StateSecretKey {
  pem: string | undefined
  sealing: StateKey | undefined
}

/** The state's secret key for `passphrase`: NG0905 without one, NG0906 when it is not the state's. */
export function stateSecretKey(dir: string, info: StateInfo, passphrase: string | undefined): StateSecretKey {
  if (!info.encrypted) return {pem: undefined, sealing: undefined}
  if (passphrase === undefined) throw new PkiError('NG0905', {dir})
  // A state encrypted before the scrypt scheme: the passphrase is the PKCS#8 passphrase itself.
  if (!info.kdf) return {pem: passphrase, sealing: undefined}
  const key = openStateKey(passphrase, info.kdf)
  if (!key) throw new PkiError('NG0906', {dir, file: STATE_JSON})
  return {pem: key.pemPassphrase, sealing: key}
}

/** Reads a secret file that is sealed when the state is encrypted (calendar.json, serve-key). */
export function openSecretFile(dir: string, rel: string, text: string, key: StateSecretKey): string {
  if (!isSealed(text)) return text
  if (!key.sealing) throw new PkiError('NG0905', {dir})
  const plain = key.sealing.open(rel, text)
  if (plain === undefined) throw new PkiError('NG0906', {dir, file: rel})
  return plain
}

/** The state's secret key, read from state.json, for files kept beside the PKI (calendar, serve key). */
export async function secretKeyOf(dir: string, passphrase: string | undefined): Promise<StateSecretKey> {
  let raw: Partial<StateInfo>
  try {
    raw = JSON.parse(await fs.readFile(path.join(dir, STATE_JSON), 'utf8'))
  } catch {
    return {pem: undefined, sealing: undefined}
  }
  return stateSecretKey(
    dir,
    {...(raw as StateInfo), encrypted: raw.encrypted === true, ...(isKdfParams(raw.kdf) ? {kdf: raw.kdf} : {})},
    passphrase,
  )
}

/**
 * A secret file kept beside the PKI (calendar.json, serve-key) as plain text: opened when it is
 * sealed (only then is the passphrase stretched), and, when there is none yet, created once from
 * `make` — sealed in an encrypted state and linked into place whole; when another process created
 * it first, theirs stands.
 */
export async function loadOrCreateSecretFile(
  dir: string,
  rel: string,
  passphrase: string | undefined,
  make: () => string,
): Promise<string> {
  const file = path.join(dir, rel)
  const open = async (text: string) => (isSealed(text) ? openSecretFile(dir, rel, text, await secretKeyOf(dir, passphrase)) : text)
  try {
    return await open(await fs.readFile(file, 'utf8'))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  await linkNewFile(file, sealSecretFile(rel, make(), await secretKeyOf(dir, passphrase)))
  return open(await fs.readFile(file, 'utf8'))
}

/** A secret file's content as the state stores it: sealed when the state is encrypted. */
export function sealSecretFile(rel: string, text: string, key: StateSecretKey): string {
  return key.sealing ? key.sealing.seal(rel, text) : text
}

/** The external etcd members the state has certificates for, sorted by name. */
async function stateMembers(dir: string, info: StateInfo): Promise<string[]> {
  if (info.topology !== 'external') return []
  const entries = await fs.readdir(path.join(dir, 'pki', 'etcd'), {withFileTypes: true}).catch(() => [])
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort()
}

function decode(dir: string, rel: string, pem: string, passphrase: string | undefined) {
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

function parseTokens(dir: string, text: string, key?: StateSecretKey): TokensFile {
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
async function readSecrets(dir: string, info: StateInfo, passphrase: string | undefined): Promise<ClusterSecrets> {
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

function driftWarnings(cluster: Cluster, secrets: ClusterSecrets): string[] {
  const w: string[] = []
  if (cluster.pki.keyAlgorithm !== secrets.keyAlgorithm)
    w.push(
      `the profile asks for ${cluster.pki.keyAlgorithm} keys; this state's are ${secrets.keyAlgorithm} (fixed when it was created) and stay so`,
    )
  const members = externalEtcdMembers(cluster)
  for (const m of members) {
    const pair = secrets.etcdMembers[m.name]
    if (!pair) continue
    for (const kind of ['server', 'peer'] as const) {
      const c = new X509Certificate(pair[kind].cert)
      if (!c.checkIP(m.ip))
        w.push(
          `etcd member ${m.name}: pki/etcd/${m.name}/${kind}.crt was issued without its current IP ${m.ip}; certificates are never replaced`,
        )
    }
  }
  for (const name of Object.keys(secrets.etcdMembers)) {
    if (!members.some((m) => m.name === name))
      w.push(`the state has certificates for etcd member ${name}, which the profile no longer lists`)
  }
  return w
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Loads the cluster's state, or creates it when the directory does not exist (or is empty). An
 * existing state is never replaced: it must belong to the same cluster and topology. External etcd
 * members the profile lists but the state lacks get their server and peer pairs added.
 */
export async function loadOrCreateState(
  dir: string,
  cluster: Cluster,
  ctx: PkiContext,
  options: StateOptions = {},
): Promise<LoadOrCreateResult> {
  const p = await probe(dir)
  let created = false
  if (p === 'foreign') throw new PkiError('NG0903', {dir})
  if (p === 'absent' || p === 'empty') {
    if (ctx.passphrase !== undefined && ctx.passphrase.length < MIN_PASSPHRASE_LENGTH)
      throw new PkiError('NG0913', {min: MIN_PASSPHRASE_LENGTH})
    if (!(await restoreSwapped(dir))) created = await createState(dir, cluster, ctx, options)
  }
  const info = await readStateInfo(dir, cluster)
  const added = await addMissingMembers(dir, cluster, info, ctx, options)
  const secrets = await readSecrets(dir, info, ctx.passphrase)
  const warnings = driftWarnings(cluster, secrets)
  if (ctx.passphrase !== undefined && !info.encrypted)
    warnings.push(
      'NODEGEN_PKI_PASSPHRASE is set, but this state is not encrypted: its secrets stay in the clear until you run `nodegen pki encrypt PROFILE`',
    )
  else if (info.encrypted && !info.kdf)
    warnings.push(
      'this state is encrypted with the old, weak key derivation: run `nodegen pki encrypt PROFILE --rekey` to move it to scrypt',
    )
  return {secrets, created, added, warnings}
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

async function createState(dir: string, cluster: Cluster, ctx: PkiContext, options: StateOptions): Promise<boolean> {
  const issued = await issueClusterPki(cluster, ctx)
  const files = renderStateFiles(cluster, issued, ctx.now, ctx.passphrase, ctx.passphrase === undefined ? undefined : ctx.randomBytes(16))
  const parent = path.dirname(path.resolve(dir))
  const base = path.basename(path.resolve(dir))
  try {
    await ensureParent(path.resolve(dir))
    await removeStaleTemps(parent, base)
    const tmp = path.join(parent, tempName(base))
    try {
      await writeTree(tmp, files, options)
    } catch (e) {
      await fs.rm(tmp, {recursive: true, force: true})
      throw e
    }
    return await publishDir(tmp, path.resolve(dir))
  } catch (e) {
    if (e instanceof PkiError) throw e
    throw new PkiError('NG0912', {dir, reason: (e as Error).message})
  }
}

async function addMissingMembers(
  dir: string,
  cluster: Cluster,
  info: StateInfo,
  ctx: PkiContext,
  options: StateOptions,
): Promise<string[]> {
  const etcdDir = path.join(dir, 'pki', 'etcd')
  const have = new Set(await stateMembers(dir, info))
  if (externalEtcdMembers(cluster).every((m) => have.has(m.name))) return []
  const pass = stateSecretKey(dir, info, ctx.passphrase).pem
  return withLock(
    dir,
    async () => {
      await removeStaleTemps(etcdDir)
      const present = new Set(await stateMembers(dir, info))
      const missing: ClusterNode[] = externalEtcdMembers(cluster).filter((m) => !present.has(m.name))
      if (missing.length === 0) return []
      const etcdCa = {
        cert: await readText(dir, 'pki/etcd/ca.crt'),
        key: decode(dir, 'pki/etcd/ca.key', await readText(dir, 'pki/etcd/ca.key'), pass),
      }
      const added: string[] = []
      for (const m of missing) {
        const pair = await issueEtcdMember(cluster, m, etcdCa, info.keyAlgorithm, ctx)
        const files = memberFiles(pair, pass)
        const tmp = path.join(etcdDir, tempName(m.name))
        try {
          await writeTree(tmp, files, options)
        } catch (e) {
          await fs.rm(tmp, {recursive: true, force: true})
          throw new PkiError('NG0912', {dir, reason: (e as Error).message})
        }
        if (await publishDir(tmp, path.join(etcdDir, m.name))) added.push(...[...files.keys()].map((f) => `pki/etcd/${m.name}/${f}`))
      }
      return added.sort()
    },
    (pid, lock) => new PkiError('NG0909', {dir, pid, lock}),
  )
}

export interface CreateTokenOptions {
  ttlSeconds: number
  /** @default 'nodegen token create' */
  description?: string
}

/** Records a new bootstrap token in the state (it becomes the current one) and returns it. */
export async function createToken(
  dir: string,
  cluster: Pick<Cluster, 'name'>,
  ctx: Pick<PkiContext, 'now' | 'randomBytes' | 'passphrase'>,
  options: CreateTokenOptions,
): Promise<BootstrapToken> {
  const info = await readStateInfo(dir, cluster)
  const sk = stateSecretKey(dir, info, ctx.passphrase)
  return withLock(
    dir,
    async () => {
      await removeStaleTemps(dir, TOKENS_JSON)
      const file = parseTokens(dir, await readText(dir, TOKENS_JSON), sk)
      let token: BootstrapToken
      do token = newBootstrapToken(ctx, options.ttlSeconds, options.description ?? 'nodegen token create')
      while (file.tokens.some((t) => t.tokenId === token.tokenId))
      try {
        const {tokens, sealed: _s, publicTokens: _p, schemaVersion: _v, ...rest} = file
        await replaceFile(path.join(dir, TOKENS_JSON), tokensFile([...tokens, token], sk.sealing, rest), FILE_MODE)
      } catch (e) {
        throw new PkiError('NG0912', {dir, reason: (e as Error).message})
      }
      return token
    },
    (pid, lock) => new PkiError('NG0909', {dir, pid, lock}),
  )
}

export interface StateInventory {
  dir: string
  info: StateInfo
  certificates: CertificateInfo[]
  serviceAccount: {file: string; keyAlgorithm: string}
  /** Tokens without their secrets. */
  tokens: Array<ReturnType<typeof redactToken>>
}

/** The state's public side (certificates, key algorithms, token ids): no passphrase needed. */
export async function inventoryState(dir: string, cluster: Pick<Cluster, 'name'>, profile = 'PROFILE'): Promise<StateInventory> {
  const info = await readStateInfo(dir, cluster, profile)
  // Describing certificates loads @peculiar/x509, which only the inventory needs of this module.
  const {describeCertificate} = await import('./inspect.js')
  const certificates: CertificateInfo[] = []
  const add = async (rel: string, name: string, member?: string) => {
    const pem = await readText(dir, rel)
    try {
      certificates.push(describeCertificate(rel, name, pem, member))
    } catch {
      throw damaged(dir, `${rel} is not a certificate`)
    }
  }
  for (const spec of CAS) await add(`pki/${spec.file}.crt`, spec.id)
  if (info.topology === 'external') {
    for (const id of ['apiserver-etcd-client', 'etcd-healthcheck-client'] as const) await add(`pki/${leafFile(leafSpec(id))}.crt`, id)
    for (const m of await stateMembers(dir, info)) {
      for (const id of ['etcd-server', 'etcd-peer'] as const) await add(`pki/${leafFile(leafSpec(id), m)}.crt`, id, m)
    }
  }
  const admin = parseKubeconfigCredentials(await readText(dir, ADMIN_CONF))
  if (!admin.clientCert) throw damaged(dir, `${ADMIN_CONF} has no client certificate`)
  certificates.push(describeCertificate(ADMIN_CONF, 'admin', admin.clientCert))
  const sa = await readText(dir, 'pki/sa.pub')
  let saAlg: string
  try {
    saAlg = keyAlgorithmOf(createPublicKey(sa)) ?? 'unknown'
  } catch {
    throw damaged(dir, 'pki/sa.pub is not a public key')
  }
  const tokensText = await readText(dir, TOKENS_JSON)
  const sealedTokens = (() => {
    try {
      const raw = JSON.parse(tokensText) as {sealed?: unknown; publicTokens?: BootstrapToken[]}
      return typeof raw.sealed === 'string' && Array.isArray(raw.publicTokens) ? raw.publicTokens : undefined
    } catch {
      return undefined
    }
  })()
  const tokens = sealedTokens ?? parseTokens(dir, tokensText).tokens.map(redactToken)
  return {dir, info, certificates, serviceAccount: {file: 'pki/sa.pub', keyAlgorithm: saAlg}, tokens}
}

/** Every file of a state, relative and sorted (temporary and lock files left out). */
export async function listStateFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string) => {
    for (const e of await fs.readdir(path.join(dir, rel), {withFileTypes: true})) {
      if (e.name.startsWith('.')) continue
      const r = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) await walk(r)
      else out.push(r)
    }
  }
  await walk('')
  return out.sort()
}

// ---------------------------------------------------------------------------------------------
// Encrypting and re-keying a state

const SWAP_MARK = '.nodegen-swap-'

/**
 * A state being swapped by `encryptState` is, for an instant, only under its swap name beside the
 * state dir. When the dir is missing and such a copy exists (the swap was cut short), it is put
 * back rather than a new state created. Returns true when one was restored.
 */
async function restoreSwapped(dir: string): Promise<boolean> {
  const abs = path.resolve(dir)
  const parent = path.dirname(abs)
  const base = path.basename(abs)
  const names = await fs.readdir(parent).catch(() => [] as string[])
  const swapped = names.filter((n) => n.startsWith(`.${base}${SWAP_MARK}`)).sort()
  if (swapped.length === 0) return false
  await fs.rmdir(abs).catch(() => {})
  await fs.rename(path.join(parent, swapped[swapped.length - 1] as string), abs)
  await fsyncPath(parent)
  return true
}

export interface EncryptStateOptions {
  /** The state's current passphrase (an encrypted state only). */
  passphrase?: string
  /** The passphrase to encrypt under: at least MIN_PASSPHRASE_LENGTH characters. */
  newPassphrase: string
  /** Test seam: runs after each file of the new tree is written. */
  onWrite?: TreeHooks['onWrite']
  /** Random bytes for the new salt. */
  randomBytes?: (n: number) => Uint8Array
}

/**
 * Encrypts a plaintext state, or re-keys an encrypted one (a new passphrase and salt; old-scheme
 * states move to scrypt). Every secret file is re-encoded under the new state key in a complete
 * copy of the state written beside it, and the copy replaces the state by two renames; a crash in
 * between leaves the old state under a swap name, which the next load puts back. The certificates,
 * keys and tokens themselves do not change.
 */
export async function encryptState(
  dir: string,
  cluster: Pick<Cluster, 'name'>,
  o: EncryptStateOptions,
): Promise<{files: number; rekeyed: boolean}> {
  if (o.newPassphrase.length < MIN_PASSPHRASE_LENGTH) throw new PkiError('NG0913', {min: MIN_PASSPHRASE_LENGTH})
  await restoreSwapped(dir)
  const info = await readStateInfo(dir, cluster)
  const old = stateSecretKey(dir, info, o.passphrase)
  const fresh = newStateKey(o.newPassphrase, o.randomBytes ? o.randomBytes(16) : undefined)
  const next: StateSecretKey = {pem: fresh.key.pemPassphrase, sealing: fresh.key}
  const abs = path.resolve(dir)
  const parent = path.dirname(abs)
  const base = path.basename(abs)
  return withLock(
    dir,
    async () => {
      const files = new Map<string, string>()
      for (const rel of await listStateFiles(dir)) {
        const text = await readText(dir, rel)
        if (rel === STATE_JSON) continue
        if (rel.endsWith('.key')) {
          files.set(rel, encodePrivateKey(decode(dir, rel, text, old.pem), next.pem))
        } else if (rel === ADMIN_CONF) {
          const creds = parseKubeconfigCredentials(text)
          if (!creds.clientKey) throw damaged(dir, `${ADMIN_CONF} has no client key`)
          const key = decode(dir, ADMIN_CONF, creds.clientKey, old.pem)
          files.set(rel, ENCRYPTED_ADMIN_NOTE + replaceClientKey(text.replace(ENCRYPTED_ADMIN_NOTE, ''), encodePrivateKey(key, next.pem)))
        } else if (rel === TOKENS_JSON) {
          const {tokens, sealed: _s, publicTokens: _p, schemaVersion: _v, ...rest} = parseTokens(dir, text, old)
          files.set(rel, tokensFile(tokens, next.sealing, rest))
        } else if (SEALED_FILES.includes(rel)) {
          files.set(rel, sealSecretFile(rel, openSecretFile(dir, rel, text, old), next))
        } else files.set(rel, text)
      }
      const {kdf: _k, ...rest} = info
      files.set(STATE_JSON, json({...rest, encrypted: true, kdf: fresh.kdf}))
      const tmp = path.join(parent, tempName(base))
      try {
        await writeTree(tmp, files, o.onWrite ? {onWrite: o.onWrite} : {})
      } catch (e) {
        await fs.rm(tmp, {recursive: true, force: true})
        throw new PkiError('NG0912', {dir, reason: (e as Error).message})
      }
      const swap = path.join(parent, `.${base}${SWAP_MARK}${process.pid}`)
      await fs.rename(abs, swap)
      await fs.rename(tmp, abs)
      await fsyncPath(parent)
      await fs.rm(swap, {recursive: true, force: true})
      return {files: files.size, rekeyed: info.encrypted}
    },
    (pid, lock) => new PkiError('NG0909', {dir, pid, lock}),
  )
}

/** Files beside the PKI that are sealed when the state is encrypted. */
const SEALED_FILES = ['calendar.json', 'serve-key']
