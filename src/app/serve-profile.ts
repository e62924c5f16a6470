/**
 * `nodegen serve` as a use case: the cluster's state opened (its serve key made on first use unless
 * tokens are off), the air-gap bundle mounted, the server started; and the status screen a terminal
 * redraws every second.
 */
import type {Cluster} from '../profile/index.js'
import {bundleMessage} from './bundle/errors.js'
import {openClusterState} from './material.js'
import {printable, type RunningServer, readTls, startServer} from './serve.js'
import {bundleMount, openServedBundle} from './serve-bundle.js'
import {table} from './table.js'

export interface ServeProfileOptions {
  stateDir: string
  host: string
  port: number
  publicUrl?: string
  /** Serve every seed and accept every report without a token (isolated labs only). */
  insecureNoToken: boolean
  seedTtlSeconds: number
  assetsDir?: string
  bundleDir?: string
  bundleLinkRoots: readonly string[]
  tlsCert?: string
  tlsKey?: string
  log: (line: string) => void
}

export interface ServedProfile {
  server: RunningServer
  /** What the user reads after the start: where the bundle is, and a word when the profile names another. */
  notes: string[]
  warnings: string[]
}

export async function serveProfile(cluster: Cluster, profilePath: string, o: ServeProfileOptions): Promise<ServedProfile> {
  const state = await openClusterState(cluster, o.stateDir, {serveKey: !o.insecureNoToken})
  const bundle = o.bundleDir ? openServedBundle(o.bundleDir, bundleMount(cluster.airgap?.bundle), o.stateDir, o.bundleLinkRoots) : undefined
  const tls = readTls(o.tlsCert, o.tlsKey)
  const publicUrl = o.publicUrl ?? cluster.platform.pxe?.serverUrl
  const server = await startServer({
    profilePath,
    material: async (c, at) => state.material(at, c),
    host: o.host,
    port: o.port,
    ...(publicUrl ? {publicUrl} : {}),
    ...(state.serveKey ? {tokenKey: state.serveKey} : {insecureNoToken: true}),
    seedTtlMs: o.seedTtlSeconds * 1000,
    ...(o.assetsDir ? {assetsDir: o.assetsDir} : {}),
    ...(bundle ? {bundle} : {}),
    ...(tls ? {tls} : {}),
    log: o.log,
  })
  const notes = [`serving ${cluster.nodes.length} nodes of ${cluster.name} at ${server.url} (iPXE entry: ${server.url}/boot.ipxe)`]
  const warnings: string[] = []
  if (bundle) {
    const at = `${server.url}${bundle.prefix}`
    notes.push(`serving the air-gap bundle ${o.bundleDir} at ${at}`)
    const named = cluster.airgap?.bundle
    if (named && new URL(named).origin !== new URL(server.url).origin)
      warnings.push(`note: ${bundleMessage('NG1122', {bundle: named, server: at})} (NG1122)`)
  }
  return {server, notes, warnings}
}

/** The terminal's status screen: one row per node with its last report. */
export function statusScreen(cluster: Cluster, server: RunningServer): string {
  const rows = cluster.nodes.map((n) => {
    const s = server.status.get(n.name)
    return [n.name, n.role, n.mac, s?.phase, s?.state, s?.reason, s?.received].map((c) => (c === undefined ? c : printable(c)))
  })
  return `\x1b[H\x1b[2J${server.url}\n\n${table(['NODE', 'ROLE', 'MAC', 'PHASE', 'STATE', 'REASON', 'LAST REPORT'], rows)}\n`
}
