/**
 * `nodegen serve`: bare-metal machines network-boot (iPXE) and fetch their seed over HTTP, chosen
 * by the identity `spec.platform.pxe.matchBy` names (MAC, SMBIOS UUID or hostname), the way
 * matchbox does, from the same profile and state as `render`. Nodes POST their bootstrap phases
 * back, and the server keeps a table of the fleet.
 *
 * Routes:
 *   GET  /boot.ipxe                         iPXE entry: chains to the per-machine script by ${mac}
 *   GET  /ipxe/<id>?token=T                 kernel, initrd and kernel arguments for the node's OS
 *   GET  /nocloud/<id>/<T>/{user-data,meta-data,network-config,vendor-data}
 *   GET  /ignition/<id>?token=T             Ignition config (Flatcar)
 *   POST /status/<node>                     a bootstrap phase change, with `Authorization: Bearer S`
 *   POST /t/<S>/status/<node>               the same, the status token in the path (what nodes use)
 *   GET  /status                            every node's last phase (JSON)
 *   GET  <bundle path>/…                    the air-gap bundle, read-only, no token (serve-bundle.ts)
 *
 * T is the node's URL token and S its status token, both HMACs of the node name under the serve
 * key (a secret of its own in the state, not the calendar secret). Unless the server runs with
 * `insecureNoToken`, every per-node route needs T and every status report needs S. A node's
 * secret-bearing seed (user-data, Ignition) is served until it reports `ready` or until
 * `seedTtlMs` after it was first served, then 410. Unknown machines get 404. No request, however
 * malformed, ends the process: every failure is answered (or the connection dropped) and logged.
 */
import {createHmac, timingSafeEqual} from 'node:crypto'
import {createReadStream, readFileSync, statSync} from 'node:fs'
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import https from 'node:https'
import type {AddressInfo, Socket} from 'node:net'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {ipxeEntryScript, ipxeNodeScript, type MatchBy, machineId, matchByOf} from '../media/pxe.js'
import {windowOf} from '../pki/calendar.js'
import type {ClusterMaterial} from '../plan/build.js'
import type {Cluster, ClusterNode} from '../profile/index.js'
import {readProfile} from './profile-file.js'
import {type RenderedSeed, readCniManifest, renderNode} from './render.js'
import {isBundlePath, type ServedBundle, serveBundleFile} from './serve-bundle.js'

/** The first path segments serve's own routes take: a bundle served at `/` leaves them to serve. */
const SERVE_ROUTES: ReadonlySet<string> = new Set(['boot.ipxe', 'status', 'ipxe', 'nocloud', 'ignition', 'assets', 't'])

export interface ServeOptions {
  profilePath: string
  /** Builds the cluster's material for a moment (the state is read by the caller's closure). */
  material: (cluster: Cluster, at: Date) => Promise<ClusterMaterial>
  host: string
  port: number
  /** The base URL nodes use to reach this server (defaults to http(s)://host:port). */
  publicUrl?: string
  /** The serve key: per-node URL and status tokens are HMACs under it. Required unless insecureNoToken. */
  tokenKey?: string
  /** Serve every node's seed to anyone who asks and accept unauthenticated status reports (labs only). */
  insecureNoToken?: boolean
  /** How long after a node's seed is first served it is still served. @default 2 hours */
  seedTtlMs?: number
  /** Seeds rendered at the same time; more requests wait in a queue of `maxQueued`, beyond it 503. */
  maxConcurrentRenders?: number
  /** @default 64 */
  maxQueued?: number
  tls?: {cert: string; key: string}
  /** A directory served under /assets/ (kernels and initrds for iPXE). */
  assetsDir?: string
  /** An air-gap bundle served read-only at its path (openServedBundle checked it). */
  bundle?: ServedBundle
  log?: (line: string) => void
  /** The clock (tests move it). */
  now?: () => Date
}

/** The phases and states bootstrap.sh reports; anything else is refused. */
export const STATUS_PHASES = ['start', 'prepare', 'secrets', 'packages', 'firewall', 'images', 'role', 'cleanup', 'ready'] as const
export const STATUS_STATES = ['running', 'failed', 'ready'] as const
const STATUS_ROLES = ['control-plane', 'worker', 'etcd']
const MAX_BODY = 16384

export interface NodeStatus {
  node: string
  role?: string
  phase?: string
  state?: string
  reason?: string
  time?: string
  received: string
}

export interface ServeStats {
  requests: number
  /** Seeds rendered (a cache miss). */
  renders: number
  /** Answers 500 (a bug) and requests dropped at the HTTP parser. */
  errors: number
  clientErrors: number
  /** Requests refused with 503 because the render queue was full. */
  busy: number
}

export interface RunningServer {
  url: string
  status: Map<string, NodeStatus>
  stats: ServeStats
  close(): Promise<void>
}

/** The per-node URL token: an HMAC of the node name under the serve key, so nothing is stored. */
export function nodeUrlToken(key: string, node: string): string {
  return createHmac('sha256', key).update(`nodegen-serve:${node}`).digest('hex').slice(0, 32)
}

/** The per-node token a node sends its status reports with (distinct from the URL token). */
export function nodeStatusToken(key: string, node: string): string {
  return createHmac('sha256', key).update(`nodegen-serve-status:${node}`).digest('hex').slice(0, 32)
}

/** Text without C0 and C1 control characters (no terminal escapes reach the operator's screen or log). */
export function printable(s: string | undefined): string {
  return (s ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
}

function sameToken(got: string | undefined | null, want: string): boolean {
  const a = Buffer.from(got ?? '')
  const b = Buffer.from(want)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** A node id as it appears in URLs, compared case-insensitively with `-` and `:` alike (MACs come as both). */
function normaliseId(s: string): string {
  return s.toLowerCase().replace(/-/g, ':')
}

/** The request path for the access log: no query string, tokens in the path replaced by `***`. */
export function redactPath(url: string): string {
  const p = printable(url.split('?')[0]).slice(0, 200)
  return p.replace(/^\/nocloud\/([^/]+)\/[^/]+\/(.+)$/, '/nocloud/$1/***/$2').replace(/^\/t\/[^/]+(\/|$)/, '/t/***$1')
}

/** A counting semaphore with a bounded queue: seed renders are CPU-bound. */
function limiter(max: number, maxQueued: number) {
  let active = 0
  const queue: Array<() => void> = []
  return async <T>(fn: () => Promise<T>): Promise<T | 'busy'> => {
    if (active >= max) {
      if (queue.length >= maxQueued) return 'busy'
      await new Promise<void>((r) => queue.push(r))
    } else active++
    try {
      return await fn()
    } finally {
      const next = queue.shift()
      if (next) next()
      else active--
    }
  }
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  if (!o.tokenKey && !o.insecureNoToken) throw new Error('internal: startServer needs a tokenKey, or insecureNoToken set explicitly')
  const log = o.log ?? (() => {})
  const now = o.now ?? (() => new Date())
  const ttl = o.seedTtlMs ?? 2 * 3600_000
  const status = new Map<string, NodeStatus>()
  const stats: ServeStats = {requests: 0, renders: 0, errors: 0, clientErrors: 0, busy: 0}
  const firstServed = new Map<string, number>()
  const ready = new Set<string>()
  const limit = limiter(Math.max(1, o.maxConcurrentRenders ?? 2), o.maxQueued ?? 64)

  // The profile is re-read when it changes on disk: a fixed MAC or a new node is served at once.
  // Material (which carries the bootstrap token of the current window) and rendered seeds are kept
  // per profile version and token window, so a long-running server never hands out a past window's
  // token and repeated requests do not re-render.
  let profileCache: {mtimeMs: number; cluster: Cluster} | undefined
  let materialCache: {key: string; material: Promise<ClusterMaterial>} | undefined
  const seeds = new Map<string, Promise<RenderedSeed | 'busy'>>()
  const loadProfile = () => {
    const mtimeMs = statSync(o.profilePath).mtimeMs
    if (profileCache && profileCache.mtimeMs === mtimeMs) return profileCache
    const p = readProfile(o.profilePath)
    if (!p.cluster)
      throw new Error(
        `${o.profilePath} has errors: ${p.diagnostics.filter((d) => d.severity === 'error').length}; keeping the previous profile`,
      )
    profileCache = {mtimeMs, cluster: p.cluster}
    return profileCache
  }
  const windowKey = (cluster: Cluster, at: Date) =>
    `${profileCache?.mtimeMs}:${windowOf(Math.floor(at.getTime() / 1000), cluster.bootstrapToken.windowSeconds)}`
  const materialFor = (cluster: Cluster, at: Date): Promise<ClusterMaterial> => {
    const key = windowKey(cluster, at)
    if (materialCache?.key !== key) {
      seeds.clear()
      const material = o.material(cluster, at)
      material.catch(() => {
        if (materialCache?.key === key) materialCache = undefined
      })
      materialCache = {key, material}
    }
    return materialCache.material
  }

  const server = (o.tls ? https.createServer({cert: o.tls.cert, key: o.tls.key}) : http.createServer()) as http.Server
  // Slow clients are cut off: headers within 10 s, a whole request within 30 s.
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  server.keepAliveTimeout = 5_000
  server.maxHeadersCount = 50
  const base = () => o.publicUrl ?? `${o.tls ? 'https' : 'http'}://${o.host}:${(server.address() as AddressInfo).port}`

  const find = (cluster: Cluster, matchBy: MatchBy, id: string): ClusterNode | undefined => {
    const want = normaliseId(id)
    return cluster.nodes.find((n) => normaliseId(machineId(n, matchBy)) === want)
  }

  /** The cluster as a node's seed shows it: a statusUrl at this server carries the node's status token. */
  const clusterForNode = (cluster: Cluster, node: ClusterNode): Cluster => {
    const su = cluster.bootstrap.statusUrl
    if (!o.tokenKey || !su) return cluster
    let same = false
    try {
      same = new URL(su).origin === new URL(base()).origin
    } catch {
      same = false
    }
    if (!same) return cluster
    const statusUrl = `${su.replace(/\/+$/, '')}/t/${nodeStatusToken(o.tokenKey, node.name)}`
    return {...cluster, bootstrap: {...cluster.bootstrap, statusUrl}}
  }

  const readBody = (req: IncomingMessage): Promise<Buffer | 'too-large'> =>
    new Promise((resolve, reject) => {
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return resolve('too-large')
      const chunks: Buffer[] = []
      let size = 0
      const onData = (c: Buffer) => {
        size += c.length
        if (size > MAX_BODY) {
          req.off('data', onData)
          req.pause()
          resolve('too-large')
          return
        }
        chunks.push(c)
      }
      req.on('data', onData)
      req.once('end', () => resolve(Buffer.concat(chunks)))
      req.once('error', reject)
    })

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://x')
    // The bundle holds nothing secret: no token, GET and HEAD with ranges (serve-bundle.ts).
    if (o.bundle && isBundlePath(o.bundle, url.pathname, SERVE_ROUTES)) return serveBundleFile(o.bundle, req, res, url.pathname)
    const parts = url.pathname.split('/').filter(Boolean)
    const send = (code: number, body: string | Buffer, type = 'text/plain; charset=utf-8', close = false) => {
      res.writeHead(code, {'content-type': type, 'cache-control': 'no-store', ...(close ? {connection: 'close'} : {})}).end(body)
      return code
    }
    // POST /status/<node> (bearer) or /t/<token>/status/<node>
    const statusPath =
      parts[0] === 'status' && parts.length === 2
        ? {node: parts[1] as string, token: /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]}
        : parts[0] === 't' && parts[2] === 'status' && parts.length === 4
          ? {node: parts[3] as string, token: parts[1]}
          : undefined
    if (req.method === 'POST' && statusPath) {
      if (o.tokenKey && !sameToken(statusPath.token, nodeStatusToken(o.tokenKey, statusPath.node)))
        return send(401, 'status token required\n', undefined, true)
      const raw = await readBody(req)
      if (raw === 'too-large') return send(413, 'too large\n', undefined, true)
      let body: Record<string, unknown>
      try {
        body = JSON.parse(raw.toString('utf8'))
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object')
      } catch {
        return send(400, 'not a JSON object\n')
      }
      const {cluster} = loadProfile()
      const node = cluster.nodes.find((n) => n.name === statusPath.node)
      if (!node) return send(404, 'unknown node\n')
      const str = (k: string) => (typeof body[k] === 'string' ? printable(body[k] as string).slice(0, 500) : undefined)
      const phase = str('phase')
      const state = str('state')
      const role = str('role')
      if (!(STATUS_PHASES as readonly string[]).includes(phase ?? '')) return send(400, 'unknown phase\n')
      if (!(STATUS_STATES as readonly string[]).includes(state ?? '')) return send(400, 'unknown state\n')
      if (role !== undefined && !STATUS_ROLES.includes(role)) return send(400, 'unknown role\n')
      const time = str('time')
      status.set(node.name, {
        node: node.name,
        ...(role ? {role} : {}),
        phase,
        state,
        reason: str('reason'),
        ...(time && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(time) ? {time} : {}),
        received: now().toISOString(),
      })
      // A node that is up needs its seed no more: its secrets stop being served.
      if (state === 'ready') ready.add(node.name)
      return send(204, '')
    }
    if (req.method !== 'GET') return send(405, 'method not allowed\n', undefined, true)
    if (url.pathname === '/status') return send(200, `${JSON.stringify([...status.values()], null, 2)}\n`, 'application/json')
    if (url.pathname === '/boot.ipxe') return send(200, ipxeEntryScript(base(), matchByOf(loadProfile().cluster)))
    if (parts[0] === 'assets' && o.assetsDir) {
      const rel = parts.slice(1)
      if (rel.length === 0 || rel.some((x) => x === '..' || x.startsWith('.'))) return send(404, 'not found\n')
      const file = path.join(o.assetsDir, ...rel)
      try {
        const st = statSync(file)
        if (!st.isFile()) return send(404, 'not found\n')
        res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': String(st.size)})
        await pipeline(createReadStream(file), res)
        return 200
      } catch {
        if (!res.headersSent) return send(404, 'not found\n')
        res.destroy()
        return 500
      }
    }
    if (!['ipxe', 'nocloud', 'ignition'].includes(parts[0] ?? '')) return send(404, 'not found\n')

    const {cluster} = loadProfile()
    const matchBy = matchByOf(cluster)
    const id = parts[1]
    const node = id ? find(cluster, matchBy, id) : undefined
    if (!node) return send(404, 'no such machine\n')
    // NoCloud appends file names to its seed URL, so there the token is a path segment:
    // /nocloud/<id>/<token>/user-data; elsewhere it is ?token=.
    const nocloudToken = parts[0] === 'nocloud' && parts.length === 4 ? parts[2] : undefined
    const token = o.tokenKey ? nodeUrlToken(o.tokenKey, node.name) : undefined
    if (token && !sameToken(nocloudToken ?? url.searchParams.get('token'), token)) return send(403, 'token required\n')
    if (parts[0] === 'ipxe' && parts.length === 2) {
      const script = ipxeNodeScript(cluster, node, {base: base(), matchBy, ...(token ? {token} : {})})
      if (!script) return send(404, `no kernel for ${node.os} in spec.platform.pxe.kernel\n`)
      return send(200, script)
    }
    const file = parts[0] === 'nocloud' ? parts[parts.length - 1] : undefined
    const nocloudShape = parts[0] === 'nocloud' && (parts.length === 3 || (parts.length === 4 && o.tokenKey))
    if (!(parts[0] === 'ignition' && parts.length === 2) && !nocloudShape) return send(404, 'not found\n')
    if (parts[0] === 'nocloud' && !['user-data', 'meta-data', 'network-config', 'vendor-data'].includes(file ?? ''))
      return send(404, 'not found\n')
    if (file === 'vendor-data') return send(200, '#cloud-config\n{}\n')

    const secretBearing = parts[0] === 'ignition' || file === 'user-data'
    const t = now().getTime()
    if (secretBearing) {
      if (ready.has(node.name)) return send(410, `${node.name} has reported ready: its seed is no longer served\n`)
      const first = firstServed.get(node.name)
      if (first !== undefined && t - first > ttl) return send(410, `${node.name}'s seed expired: restart nodegen serve to serve it again\n`)
    }
    const at = new Date(t)
    const key = `${node.name}:${windowKey(cluster, at)}`
    let seed = seeds.get(key)
    if (!seed) {
      // Kept before it settles, so concurrent requests for the node share one render.
      seed = materialFor(cluster, at).then((material) =>
        limit(async () => {
          stats.renders++
          return renderNode(clusterForNode(cluster, node), node, material, readCniManifest(cluster, o.profilePath))
        }),
      )
      seeds.set(key, seed)
      seed.then(
        (r) => r === 'busy' && seeds.get(key) === seed && seeds.delete(key),
        () => seeds.get(key) === seed && seeds.delete(key),
      )
    }
    const rendered = await seed
    if (rendered === 'busy') {
      stats.busy++
      res.setHeader('retry-after', '5')
      return send(503, 'busy\n')
    }
    if (secretBearing && !firstServed.has(node.name)) firstServed.set(node.name, t)
    if (parts[0] === 'ignition') {
      if (rendered.format !== 'ignition') return send(404, 'this node boots with cloud-init\n')
      return send(200, rendered.ignition, 'application/json')
    }
    if (rendered.format !== 'cloud-init') return send(404, 'this node boots with Ignition\n')
    switch (file) {
      case 'user-data':
        return send(200, rendered.ci.userData)
      case 'meta-data':
        return send(200, rendered.ci.metaData)
      default:
        return rendered.ci.networkConfig !== undefined ? send(200, rendered.ci.networkConfig) : send(404, 'no network-config\n')
    }
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const t0 = Date.now()
    stats.requests++
    // Read before anything can go wrong: the socket may be gone by the time the answer is logged.
    const remote = printable(req.socket?.remoteAddress ?? '-')
    const method = printable(req.method ?? '-').slice(0, 16)
    const where = redactPath(req.url ?? '')
    res.once('finish', () => {
      // A refused upload is not read: the connection is closed rather than drained.
      if (res.getHeader('connection') === 'close') req.socket?.destroySoon?.()
    })
    handle(req, res)
      .catch((e) => {
        stats.errors++
        log(`error ${printable((e as Error).message)}`)
        try {
          if (!res.headersSent) res.writeHead(500, {'content-type': 'text/plain', connection: 'close'}).end('internal error\n')
          else res.destroy()
        } catch {
          res.destroy()
        }
        return 500
      })
      .then((code) => {
        // Access log: no query string and no path token (either may carry a node token), no bodies.
        log(`${remote} ${method} ${where} ${code} ${Date.now() - t0}ms`)
      })
      .catch(() => {})
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    stats.clientErrors++
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const code = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
    socket.end(`HTTP/1.1 ${code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
  })
  // TLS handshakes that fail are a client's problem, not the server's.
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => resolve())
  })
  server.on('error', (e) => log(`error ${printable(e.message)}`))
  return {
    url: base(),
    status,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

export function readTls(cert?: string, key?: string): {cert: string; key: string} | undefined {
  if (!cert || !key) return undefined
  return {cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8')}
}
