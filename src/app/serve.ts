/**
 * `nodegen serve`: bare-metal machines network-boot (iPXE) and fetch their seed over HTTP, chosen
 * by MAC address (or SMBIOS UUID), the way matchbox does, from the same profile and state as
 * `render`. Nodes POST their bootstrap phases back, and the server keeps a table of the fleet.
 *
 * Routes:
 *   GET  /boot.ipxe                         iPXE entry: chains to the per-machine script by ${mac}
 *   GET  /ipxe/<mac>                        kernel, initrd and kernel arguments for the node's OS
 *   GET  /nocloud/<mac|uuid>/{user-data,meta-data,network-config,vendor-data}
 *   GET  /ignition/<mac|uuid>               Ignition config (Flatcar)
 *   POST /status/<node>                     a bootstrap phase change (JSON from the node)
 *   GET  /status                            every node's last phase (JSON)
 * Unknown machines get 404. With a token required, per-node URLs carry ?token=<hmac>.
 */
import {createHmac, timingSafeEqual} from 'node:crypto'
import {createReadStream, readFileSync, statSync} from 'node:fs'
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {ipxeEntryScript, ipxeNodeScript, matchByOf} from '../media/pxe.js'
import type {ClusterMaterial} from '../plan/build.js'
import type {Cluster, ClusterNode} from '../profile/index.js'
import {readProfile} from './profile-file.js'
import {readCniManifest, renderNode} from './render.js'

export interface ServeOptions {
  profilePath: string
  /** Builds the cluster's material (the state is read by the caller's closure). */
  material: (cluster: Cluster) => Promise<ClusterMaterial>
  host: string
  port: number
  /** The base URL nodes use to reach this server (defaults to http(s)://host:port). */
  publicUrl?: string
  /** Require a per-node token in node URLs: the HMAC key. */
  tokenKey?: string
  tls?: {cert: string; key: string}
  /** A directory served under /assets/ (kernels and initrds for iPXE). */
  assetsDir?: string
  log?: (line: string) => void
}

export interface NodeStatus {
  node: string
  role?: string
  phase?: string
  state?: string
  reason?: string
  time?: string
  received: string
}

export interface RunningServer {
  url: string
  status: Map<string, NodeStatus>
  close(): Promise<void>
}

/** The per-node token of `--require-token`: an HMAC of the node name, so nothing is stored. */
export function nodeUrlToken(key: string, node: string): string {
  return createHmac('sha256', key).update(`nodegen-serve:${node}`).digest('hex').slice(0, 32)
}

function normaliseMac(s: string): string {
  return s.toLowerCase().replace(/-/g, ':')
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const log = o.log ?? (() => {})
  const status = new Map<string, NodeStatus>()
  // The profile is re-read when it changes on disk: a fixed MAC or a new node is served at once.
  let cache: {mtimeMs: number; cluster: Cluster; material: ClusterMaterial} | undefined
  const load = async () => {
    const mtimeMs = statSync(o.profilePath).mtimeMs
    if (cache && cache.mtimeMs === mtimeMs) return cache
    const p = readProfile(o.profilePath)
    if (!p.cluster)
      throw new Error(
        `${o.profilePath} has errors: ${p.diagnostics.filter((d) => d.severity === 'error').length}; keeping the previous profile`,
      )
    cache = {mtimeMs, cluster: p.cluster, material: await o.material(p.cluster)}
    return cache
  }

  const server = (o.tls ? https.createServer({cert: o.tls.cert, key: o.tls.key}) : http.createServer()) as http.Server
  const base = () => o.publicUrl ?? `${o.tls ? 'https' : 'http'}://${o.host}:${(server.address() as AddressInfo).port}`

  const find = (cluster: Cluster, id: string): ClusterNode | undefined => {
    const key = id.toLowerCase()
    return cluster.nodes.find((n) => n.mac === normaliseMac(key) || n.uuid === key || n.name === id)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://x')
    const parts = url.pathname.split('/').filter(Boolean)
    const send = (code: number, body: string | Buffer, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, {'content-type': type, 'cache-control': 'no-store'}).end(body)
      return code
    }
    if (req.method === 'POST' && parts[0] === 'status' && parts.length === 2) {
      const chunks: Buffer[] = []
      let size = 0
      for await (const c of req) {
        size += (c as Buffer).length
        if (size > 16384) return send(413, 'too large\n')
        chunks.push(c as Buffer)
      }
      let body: Record<string, unknown>
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return send(400, 'not JSON\n')
      }
      const node = parts[1] as string
      const {cluster} = await load()
      if (!cluster.nodes.some((n) => n.name === node)) return send(404, 'unknown node\n')
      const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string).slice(0, 500) : undefined)
      status.set(node, {
        node,
        role: str('role'),
        phase: str('phase'),
        state: str('state'),
        reason: str('reason'),
        time: str('time'),
        received: new Date().toISOString(),
      })
      return send(204, '')
    }
    if (req.method !== 'GET') return send(405, 'method not allowed\n')
    if (url.pathname === '/status') return send(200, `${JSON.stringify([...status.values()], null, 2)}\n`, 'application/json')
    if (url.pathname === '/boot.ipxe') return send(200, ipxeEntryScript(base(), matchByOf((await load()).cluster)))
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
        return send(404, 'not found\n')
      }
    }

    const {cluster, material} = await load()
    const id = parts[1]
    const node = id ? find(cluster, id) : undefined
    if (!node) return send(404, 'no such machine\n')
    // NoCloud appends file names to its seed URL, so there the token is a path segment:
    // /nocloud/<id>/<token>/user-data; elsewhere it is ?token=.
    const nocloudToken = parts[0] === 'nocloud' && parts.length === 4 ? parts[2] : undefined
    if (o.tokenKey) {
      const want = Buffer.from(nodeUrlToken(o.tokenKey, node.name))
      const got = Buffer.from(nocloudToken ?? url.searchParams.get('token') ?? '')
      if (got.length !== want.length || !timingSafeEqual(got, want)) return send(403, 'token required\n')
    }
    const token = o.tokenKey ? nodeUrlToken(o.tokenKey, node.name) : undefined
    if (parts[0] === 'ipxe' && parts.length === 2) {
      const script = ipxeNodeScript(cluster, node, {base: base(), matchBy: matchByOf(cluster), ...(token ? {token} : {})})
      if (!script) return send(404, `no kernel for ${node.os} in spec.platform.pxe.kernel\n`)
      return send(200, script)
    }
    const rendered = renderNode(cluster, node, material, readCniManifest(cluster, o.profilePath))
    if (parts[0] === 'ignition' && parts.length === 2) {
      if (rendered.format !== 'ignition') return send(404, 'this node boots with cloud-init\n')
      return send(200, rendered.ignition, 'application/json')
    }
    if (parts[0] === 'nocloud' && (parts.length === 3 || (parts.length === 4 && o.tokenKey))) {
      if (rendered.format !== 'cloud-init') return send(404, 'this node boots with Ignition\n')
      switch (parts[parts.length - 1]) {
        case 'user-data':
          return send(200, rendered.ci.userData)
        case 'meta-data':
          return send(200, rendered.ci.metaData)
        case 'network-config':
          return rendered.ci.networkConfig !== undefined ? send(200, rendered.ci.networkConfig) : send(404, 'no network-config\n')
        case 'vendor-data':
          return send(200, '#cloud-config\n{}\n')
      }
    }
    return send(404, 'not found\n')
  }

  server.on('request', (req, res) => {
    const t0 = Date.now()
    handle(req, res)
      .catch((e) => {
        if (!res.headersSent) res.writeHead(500, {'content-type': 'text/plain'}).end('internal error\n')
        log(`error ${(e as Error).message}`)
        return 500
      })
      .then((code) => {
        // Access log: no query string (it may carry a node token), no bodies.
        const pathOnly = (req.url ?? '').split('?')[0]
        log(`${req.socket.remoteAddress ?? '-'} ${req.method} ${pathOnly} ${code} ${Date.now() - t0}ms`)
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => resolve())
  })
  return {
    url: base(),
    status,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      }),
  }
}

export function readTls(cert?: string, key?: string): {cert: string; key: string} | undefined {
  if (!cert || !key) return undefined
  return {cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8')}
}
