/** Raw network helpers for tests of nodegen's servers (loopback only). */
import {existsSync, readFileSync, statSync} from 'node:fs'
import {createServer} from 'node:http'
import net from 'node:net'
import path from 'node:path'

/**
 * Sends raw bytes to host:port and resolves with what came back once the server closes the
 * connection, or after `ms` (a server that waits for more sees a client that goes quiet).
 */
export function rawRequest(port: number, bytes: string | Buffer, ms = 2000, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host)
    let out = ''
    const done = () => {
      s.destroy()
      resolve(out)
    }
    s.on('data', (d) => {
      out += d.toString('latin1')
    })
    s.on('error', done)
    s.on('close', done)
    s.setTimeout(ms, done)
    s.write(bytes)
  })
}

/** A folder served over HTTP on loopback by this process: its base URL, the paths asked for, a close. */
export interface ServedDirectory {
  url: string
  /** Every path asked for, decoded, in order. */
  requests: string[]
  close(): Promise<void>
}

/**
 * Serves the files under `root` on 127.0.0.1 at an ephemeral port (GET of a file, 404 for anything
 * else; paths with `:` as pkgs.k8s.io's included), as the static web servers that carry package
 * repositories and bundles do.
 */
export async function serveDirectory(root: string): Promise<ServedDirectory> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')
    requests.push(url)
    const file = path.join(root, url)
    if (!file.startsWith(`${root}/`) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200).end(readFileSync(file))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  }
}
