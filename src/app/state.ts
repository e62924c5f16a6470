/**
 * What the `pki` and `token` commands (and the commands that need a state before they work: bundle,
 * image build) do with the cluster's state directory. The passphrase of an encrypted state comes
 * from the environment (NODEGEN_PKI_PASSPHRASE), never from a flag; the clock is read here.
 */
import {randomBytes} from 'node:crypto'
import {
  type CertificateInfo,
  createToken,
  type Expiring,
  encryptState,
  expirations,
  inventoryState,
  listStateFiles,
  loadOrCreateState,
  PkiError,
  passphraseFrom,
  readStateInfo,
  rotateCalendar,
  type StateInventory,
} from '../pki/index.js'
import type {Cluster} from '../profile/index.js'
import {envPkiContext} from './material.js'
import {type ServedCertificates, servedCertificates} from './served-certificates.js'
import {residual, table} from './table.js'

export {MIN_PASSPHRASE_LENGTH, PASSPHRASE_ENV} from '../pki/index.js'

/** The environment variable holding the new passphrase of `pki encrypt`. */
export const NEW_PASSPHRASE_ENV = 'NODEGEN_PKI_NEW_PASSPHRASE'

export interface PkiInitResult {
  cluster: string
  state: string
  /** True when this run created the state; false when it existed (and was left as it was). */
  created: boolean
  /** Files added to an existing state (a new external etcd member's pairs). */
  added: string[]
  warnings: string[]
  keyAlgorithm: string
  encrypted: boolean
  caCertHash: string
  /** The current bootstrap token's public id (the secret stays in tokens.json). */
  tokenId: string
  /** Every file of the state, relative to it. */
  files: string[]
}

/** Creates the state, or completes an existing one with what the profile added; never overwrites. */
export async function initState(cluster: Cluster, dir: string): Promise<PkiInitResult> {
  const r = await loadOrCreateState(dir, cluster, envPkiContext())
  const s = r.secrets
  return {
    cluster: cluster.name,
    state: dir,
    created: r.created,
    added: r.added,
    warnings: [...r.warnings],
    keyAlgorithm: s.keyAlgorithm,
    encrypted: s.encrypted,
    caCertHash: s.caCertHash,
    tokenId: s.bootstrapToken.tokenId,
    files: await listStateFiles(dir),
  }
}

/**
 * Makes the state when there is none yet (as render or serve would), for a command that keeps
 * something of its own in it (the bundle key), so that render finds a state and not a stray folder.
 */
export async function ensureState(cluster: Cluster, dir: string): Promise<{created: boolean}> {
  const r = await loadOrCreateState(dir, cluster, envPkiContext())
  return {created: r.created}
}

export interface PkiShowResult {
  cluster: string
  state: string
  created: string
  keyAlgorithm: string
  topology: string
  encrypted: boolean
  /** kubeadm's `--discovery-token-ca-cert-hash`. */
  caCertHash: string
  certificates: CertificateInfo[]
  serviceAccount: StateInventory['serviceAccount']
  /** Token ids and lifetimes; never the secrets. */
  tokens: StateInventory['tokens']
}

/** The state's certificates, keys and token ids, read without its passphrase. */
export async function showState(cluster: Cluster, dir: string, profileArg?: string): Promise<PkiShowResult> {
  const inv = await inventoryState(dir, cluster, profileArg)
  return {
    cluster: inv.info.cluster,
    state: dir,
    created: inv.info.created,
    keyAlgorithm: inv.info.keyAlgorithm,
    topology: inv.info.topology,
    encrypted: inv.info.encrypted,
    caCertHash: inv.info.caCertHash,
    certificates: inv.certificates,
    serviceAccount: inv.serviceAccount,
    tokens: inv.tokens,
  }
}

/** Whether the state's keys are encrypted (the state must exist). */
export async function stateEncrypted(cluster: Cluster, dir: string, profileArg?: string): Promise<boolean> {
  return (await readStateInfo(dir, cluster, profileArg)).encrypted
}

/** Encrypts the state's keys under `newPassphrase`, or re-keys them (the current one from the environment). */
export async function encryptClusterState(
  cluster: Cluster,
  dir: string,
  opts: {rekey: boolean; newPassphrase: string},
): Promise<{state: string; files: number; rekeyed: boolean}> {
  const current = opts.rekey ? passphraseFrom(process.env) : undefined
  const r = await encryptState(dir, cluster, {...(current !== undefined ? {passphrase: current} : {}), newPassphrase: opts.newPassphrase})
  return {state: dir, ...r}
}

export interface CheckExpirationResult {
  cluster: string
  state: string
  now: string
  within: string
  withinSeconds: number
  /** Certificates that expire inside the window (or have expired). */
  expiring: number
  certificates: Expiring[]
  /** With --kubeconfig or --server: what the running API server presents over TLS. */
  served?: ServedCertificates
}

/** The state's certificates, and with `running` the API server's as presented, against a window. */
export async function checkExpiration(
  cluster: Cluster,
  dir: string,
  opts: {profileArg?: string; within: string; withinSeconds: number; running?: {kubeconfig?: string; server?: string}},
): Promise<CheckExpirationResult> {
  const now = new Date()
  const certificates = expirations((await inventoryState(dir, cluster, opts.profileArg)).certificates, now, opts.withinSeconds)
  let served: ServedCertificates | undefined
  if (opts.running) {
    try {
      served = await servedCertificates(opts.running, now, opts.withinSeconds)
    } catch (e) {
      throw new PkiError('NG0914', {reason: (e as Error).message})
    }
  }
  return {
    cluster: cluster.name,
    state: dir,
    now: now.toISOString(),
    within: opts.within,
    withinSeconds: opts.withinSeconds,
    expiring: certificates.filter((c) => c.within).length + (served?.certificates.filter((c) => c.within).length ?? 0),
    certificates,
    ...(served ? {served} : {}),
  }
}

export interface TokenCreateResult {
  cluster: string
  state: string
  tokenId: string
  ttlSeconds: number
  created: string
  expires: string
  description: string
  /** `<id>.<secret>`: only when asked for. */
  token?: string
}

/** A new bootstrap token recorded in the state (the profile's TTL unless given). */
export async function createJoinToken(
  cluster: Cluster,
  dir: string,
  opts: {ttlSeconds?: number; description: string; withSecret: boolean},
): Promise<TokenCreateResult> {
  const t = await createToken(dir, cluster, envPkiContext(), {
    ttlSeconds: opts.ttlSeconds ?? cluster.bootstrapToken.ttlSeconds,
    description: opts.description,
  })
  return {
    cluster: cluster.name,
    state: dir,
    tokenId: t.tokenId,
    ttlSeconds: t.ttlSeconds,
    created: t.created,
    expires: t.expires,
    description: t.description,
    ...(opts.withSecret ? {token: t.token} : {}),
  }
}

export interface RotateCalendarResult {
  cluster: string
  state: string
  /** The new calendar's generation (the secret itself is never printed). */
  generation: number
}

/** A new token-calendar secret in the state (the state must exist). */
export async function rotateTokenCalendar(cluster: Cluster, dir: string, profileArg?: string): Promise<RotateCalendarResult> {
  await readStateInfo(dir, cluster, profileArg)
  const c = await rotateCalendar(dir, {now: new Date(), randomBytes: (n) => randomBytes(n), passphrase: passphraseFrom(process.env)})
  return {cluster: cluster.name, state: dir, generation: c.generation}
}

/** The human form of {@link checkExpiration}: the state's table, the served chain's, and the count. */
export function expirationReport(r: CheckExpirationResult): string {
  const status = (c: {expired: boolean; within: boolean}) => (c.expired ? 'EXPIRED' : c.within ? `expires within ${r.within}` : 'ok')
  const lines = [
    table(
      ['FILE', 'CERTIFICATE', 'EXPIRES', 'RESIDUAL', 'STATUS'],
      r.certificates.map((c) => [
        c.file,
        c.member ? `${c.name} (${c.member})` : c.name,
        c.notAfter,
        residual(c.remainingSeconds),
        status(c),
      ]),
    ),
  ]
  if (r.served) {
    lines.push('', `presented by ${r.served.server}${r.served.version ? ` (Kubernetes ${r.served.version})` : ''}:`)
    lines.push(
      table(
        ['CERTIFICATE', 'SUBJECT', 'EXPIRES', 'RESIDUAL', 'STATUS'],
        r.served.certificates.map((c) => [c.name, c.subject, c.notAfter, residual(c.remainingSeconds), status(c)]),
      ),
    )
  }
  if (r.expiring > 0) lines.push('', `${r.expiring} certificate(s) expire within ${r.within}.`)
  return lines.join('\n')
}
