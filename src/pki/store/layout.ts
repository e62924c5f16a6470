/**
 * The state dir's layout: the names of its files, its schema version, and the content of a new
 * state's files, rendered in memory (pure) for the writers to put on disk. Every file 0600, every
 * directory 0700:
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
 * One place for the files' names and formats, so the readers, the writers and the encrypter agree
 * on them.
 */
import type {Cluster} from '../../profile/index.js'
import {CAS, leafFile, leafSpec} from '../certs.js'
import {newStateKey, type StateKey} from '../encryption.js'
import {adminKubeconfig, type IssuedPair, type IssuedPki} from '../issue.js'
import {encodePrivateKey, publicKeyPem} from '../keys.js'
import {redactToken, wholeSeconds} from '../token.js'
import type {BootstrapToken, StateInfo} from '../types.js'

export const STATE_SCHEMA_VERSION = 1
export const STATE_JSON = 'state.json'
export const TOKENS_JSON = 'tokens.json'
export const ADMIN_CONF = 'admin.conf'
export const ENCRYPTED_ADMIN_NOTE =
  '# client-key-data holds an encrypted PKCS#8 key (NODEGEN_PKI_PASSPHRASE): nodegen decrypts it, kubectl cannot use this file as is.\n'

export const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`

export function memberFiles(pair: {server: IssuedPair; peer: IssuedPair}, passphrase: string | undefined): Map<string, string> {
  return new Map([
    ['server.crt', pair.server.cert],
    ['server.key', encodePrivateKey(pair.server.key, passphrase)],
    ['peer.crt', pair.peer.cert],
    ['peer.key', encodePrivateKey(pair.peer.key, passphrase)],
  ])
}

/** The sealed form of tokens.json: the tokens without their secrets in the clear, the whole list sealed. */
export function tokensFile(tokens: readonly BootstrapToken[], key: StateKey | undefined, extra: Record<string, unknown> = {}): string {
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
