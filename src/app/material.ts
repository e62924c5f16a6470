/** Adapts the PKI's secrets to what the planners need (plan/ does not depend on pki/'s types). */

import {
  type Calendar,
  type ClusterSecrets,
  deriveWindowToken,
  loadOrCreateCalendar,
  loadOrCreateServeKey,
  loadOrCreateState,
  passphraseFrom,
  secretFilesForNode,
  systemPkiContext,
  windowOf,
} from '../pki/index.js'
import type {ClusterMaterial} from '../plan/build.js'
import type {Cluster} from '../profile/index.js'

/**
 * The PKI context every command works with: the system's clock and keys, and an encrypted state's
 * passphrase from the environment (never a flag).
 */
export function envPkiContext(): ReturnType<typeof systemPkiContext> {
  return systemPkiContext({passphrase: passphraseFrom(process.env)})
}

/** Windows ahead of the current one whose tokens control planes keep registered. */
export const WINDOWS_AHEAD = 2

/**
 * With a calendar, nodes join with the token of the window `at` falls in (and the next one's, for a
 * boot that straddles the boundary); without one, with the state's newest token.
 */
export function materialFromSecrets(cluster: Cluster, secrets: ClusterSecrets, calendar?: Calendar, at?: Date): ClusterMaterial {
  const base = {
    caCert: secrets.cas.ca.cert,
    caCertHash: secrets.caCertHash,
    pkiFiles: (node: Parameters<ClusterMaterial['pkiFiles']>[0]) => secretFilesForNode(cluster, node, secrets),
  }
  if (!calendar) return {...base, token: secrets.bootstrapToken.token, tokenTtlSeconds: secrets.bootstrapToken.ttlSeconds}
  const ws = cluster.bootstrapToken.windowSeconds
  const w = windowOf(Math.floor((at ?? new Date()).getTime() / 1000), ws)
  const current = deriveWindowToken(calendar.secret, w, ws)
  const next = deriveWindowToken(calendar.secret, w + 1, ws)
  return {
    ...base,
    token: current.token,
    tokenTtlSeconds: ws,
    nextToken: {token: next.token, from: next.start},
    calendar: {secret: calendar.secret, windowSeconds: ws, windowsAhead: WINDOWS_AHEAD},
  }
}

/** A cluster's state opened for producing seeds: its secrets, token calendar and what opening it said. */
export interface OpenedState {
  secrets: ClusterSecrets
  calendar: Calendar
  /** The state was created by this call (its CA keys and tokens are new). */
  created: boolean
  /** Things about the state worth telling the user (e.g. certificates close to expiry). */
  warnings: string[]
  /** The key under which `serve` tokens are made, when asked for. */
  serveKey?: string
  /**
   * The planners' material with the bootstrap token of the window `at` falls in, for the cluster the
   * state was opened for or, in `serve`, the profile as it was reloaded since.
   */
  material(at: Date, cluster?: Cluster): ClusterMaterial
}

/**
 * Opens (creating on first use) the state in `dir` the way every seed-producing command does: the
 * PKI, then the token calendar, then the serve key when asked for, with NODEGEN_PKI_PASSPHRASE.
 */
export async function openClusterState(cluster: Cluster, dir: string, opts: {serveKey?: boolean} = {}): Promise<OpenedState> {
  const ctx = envPkiContext()
  const state = await loadOrCreateState(dir, cluster, ctx)
  const calendar = await loadOrCreateCalendar(dir, ctx)
  const serveKey = opts.serveKey ? await loadOrCreateServeKey(dir, ctx) : undefined
  return {
    secrets: state.secrets,
    calendar,
    created: state.created,
    warnings: state.warnings,
    ...(serveKey !== undefined ? {serveKey} : {}),
    material: (at, c = cluster) => materialFromSecrets(c, state.secrets, calendar, at),
  }
}
