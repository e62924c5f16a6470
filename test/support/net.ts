/** Raw network helpers for tests of nodegen's servers (loopback only). */
import net from 'node:net'

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
