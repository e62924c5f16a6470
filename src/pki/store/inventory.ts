/**
 * A state's public side, for `pki show` and `pki check-expiration`: its certificates described,
 * the service-account key's algorithm and the tokens without their secrets, all read without the
 * passphrase. Also the list of a state's files, which `pki init` prints and the encrypter walks.
 */
import {createPublicKey} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import type {Cluster} from '../../profile/index.js'
import {CAS, leafFile, leafSpec} from '../certs.js'
import type {CertificateInfo} from '../inspect.js'
import {keyAlgorithmOf} from '../keys.js'
import {parseKubeconfigCredentials} from '../kubeconfig.js'
import {redactToken} from '../token.js'
import type {BootstrapToken, StateInfo} from '../types.js'
import {ADMIN_CONF, TOKENS_JSON} from './layout.js'
import {damaged, parseTokens, readStateInfo, readText, stateMembers} from './read.js'

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
  // Describing certificates loads @peculiar/x509, which nothing else of the state store needs: it is
  // imported here, when the inventory runs, not when the store is.
  const {describeCertificate} = await import('../inspect.js')
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
