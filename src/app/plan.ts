/**
 * `nodegen plan`: what nodegen will make of a profile, as data. Writes nothing: the user-data sizes
 * come from the cluster's state, or from a throwaway PKI of the same key algorithm removed after.
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {isBudgetProblem} from '../emit/budget.js'
import {
  type Calendar,
  type ClusterSecrets,
  deriveWindowToken,
  loadOrCreateCalendar,
  loadOrCreateState,
  loadState,
  passphraseFrom,
  systemPkiContext,
  windowOf,
} from '../pki/index.js'
import type {Cluster} from '../profile/index.js'
import {envPkiContext, materialFromSecrets} from './material.js'
import {readCniManifest, renderNode} from './render.js'

export interface PlanNode {
  name: string
  role: string
  ordinal: number
  os: string
  format: string
  ip: string
  prefix: number
  mac?: string
  gateway?: string
  /** The node's user-data against its platform's budget (bytes as the platform counts them). */
  userData?: {size: number; rawSize: number; encoding: string; budget: number | null; fits: boolean}
  /** Joining nodes: the token-calendar window their token belongs to (the id only; never the secret). */
  token?: {window: number; tokenId: string; validFrom: string; expires: string}
}

export interface PlanResult {
  cluster: {
    name: string
    kubernetes: {version: string; kubeadmApi: string; imageRepository: string; packageRepository: string}
    topology: string
    endpoint: {host: string; port: number; kind: string}
    loadBalancer: string
    networking: {podSubnet: string; serviceSubnet: string; dnsDomain: string; cni: string}
    platform: string
  }
  nodes: PlanNode[]
  /** Sizes come from the cluster's state, or from a throwaway PKI of the same algorithm when there is none yet. */
  sizes?: 'state' | 'estimated'
}

export function planSummary(c: Cluster): PlanResult {
  return {
    cluster: {
      name: c.name,
      kubernetes: {
        version: c.kubernetes.version,
        kubeadmApi: c.kubernetes.kubeadmApi,
        imageRepository: c.kubernetes.imageRepository,
        packageRepository: c.kubernetes.packageRepository,
      },
      topology: c.topology,
      endpoint: c.endpoint,
      loadBalancer: c.loadBalancer.type,
      networking: {
        podSubnet: c.networking.podSubnet,
        serviceSubnet: c.networking.serviceSubnet,
        dnsDomain: c.networking.dnsDomain,
        cni: c.networking.cni.type,
      },
      platform: c.platform.type,
    },
    nodes: c.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      ordinal: n.ordinal,
      os: n.os,
      format: n.format,
      ip: n.ip,
      prefix: n.prefix,
      ...(n.mac ? {mac: n.mac} : {}),
      ...(n.gateway ? {gateway: n.gateway} : {}),
    })),
  }
}

/** The plan of a profile with each node's user-data size and token window, when they can be had. */
export async function planCluster(
  cluster: Cluster,
  opts: {stateDir: string; profilePath: string; at: Date; warn: (message: string) => void},
): Promise<PlanResult> {
  const result = planSummary(cluster)
  const sized = await sizes(cluster, opts.stateDir, opts.profilePath, opts.at, opts.warn)
  if (sized) {
    result.sizes = sized.kind
    for (const n of result.nodes) {
      const u = sized.byNode.get(n.name)
      if (u) n.userData = u
      const t = sized.tokens.get(n.name)
      if (t) n.token = t
    }
  }
  return result
}

/** Each node's user-data size, from the state when it exists, else from a throwaway PKI; `warn` says why when neither works. */
async function sizes(cluster: Cluster, stateDir: string, profilePath: string, at: Date, warn: (message: string) => void) {
  let secrets: ClusterSecrets | undefined
  let calendar: Calendar | undefined
  let kind: 'state' | 'estimated' = 'state'
  let scratch: string | undefined
  try {
    if (existsSync(path.join(stateDir, 'state.json'))) {
      secrets = await loadState(stateDir, cluster, {passphrase: passphraseFrom(process.env)})
      calendar = existsSync(path.join(stateDir, 'calendar.json')) ? await loadOrCreateCalendar(stateDir, envPkiContext()) : undefined
    } else {
      kind = 'estimated'
      scratch = mkdtempSync(path.join(os.tmpdir(), 'nodegen-plan-'))
      secrets = (await loadOrCreateState(path.join(scratch, cluster.name), cluster, systemPkiContext())).secrets
      calendar = await loadOrCreateCalendar(path.join(scratch, cluster.name), systemPkiContext())
    }
    const material = materialFromSecrets(cluster, secrets, calendar, at)
    const tokens = new Map<string, NonNullable<PlanNode['token']>>()
    if (calendar && kind === 'state') {
      const ws = cluster.bootstrapToken.windowSeconds
      const t = deriveWindowToken(calendar.secret, windowOf(Math.floor(at.getTime() / 1000), ws), ws)
      for (const n of cluster.nodes) {
        if (n.role === 'etcd' || (n.role === 'control-plane' && n.ordinal === 0)) continue
        tokens.set(n.name, {
          window: t.window,
          tokenId: t.tokenId,
          validFrom: new Date(t.start * 1000).toISOString(),
          expires: new Date(t.end * 1000).toISOString(),
        })
      }
    }
    const cni = readCniManifest(cluster, profilePath)
    const byNode = new Map<string, NonNullable<PlanNode['userData']>>()
    for (const node of cluster.nodes) {
      const {fitted} = renderNode(cluster, node, material, cni)
      if (isBudgetProblem(fitted))
        byNode.set(node.name, {size: fitted.size, rawSize: fitted.size, encoding: 'gzip', budget: fitted.budget, fits: false})
      else
        byNode.set(node.name, {
          size: fitted.size,
          rawSize: fitted.rawSize,
          encoding: fitted.encoding,
          budget: Number.isFinite(fitted.budget) ? fitted.budget : null,
          fits: true,
        })
    }
    return {kind, byNode, tokens}
  } catch (e) {
    warn(`user-data sizes unavailable: ${(e as Error).message}`)
    return undefined
  } finally {
    if (scratch) rmSync(scratch, {recursive: true, force: true})
  }
}
