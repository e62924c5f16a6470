/**
 * Writing a state: creating it on first load, adding a new external etcd member's pairs, and
 * recording a new bootstrap token. A state is created once: issued in memory, written into a
 * temporary directory beside it, fsynced and renamed into place, so a crash leaves no state or a
 * whole one. Nothing in it is ever replaced. Later additions are atomic too, and made under the
 * state's lock: a new external etcd member's directory is renamed into place whole, and
 * `tokens.json` is replaced by a temp-file rename that only ever appends a token.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {MIN_PASSPHRASE_LENGTH} from '../encryption.js'
import {PkiError} from '../errors.js'
import {externalEtcdMembers, issueClusterPki, issueEtcdMember} from '../issue.js'
import {newBootstrapToken} from '../token.js'
import type {BootstrapToken, ClusterSecrets, PkiContext, StateInfo} from '../types.js'
import {driftWarnings} from './drift.js'
import {
  ensureParent,
  FILE_MODE,
  publishDir,
  removeStaleTemps,
  replaceFile,
  type TreeHooks,
  tempName,
  withLock,
  writeTree,
} from './durable.js'
import {restoreSwapped} from './encrypt.js'
import {memberFiles, renderStateFiles, TOKENS_JSON, tokensFile} from './layout.js'
import {decode, parseTokens, probe, readSecrets, readStateInfo, readText, stateMembers} from './read.js'
import {stateSecretKey} from './secret-key.js'

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
