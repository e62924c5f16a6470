/**
 * haproxy's check of the API servers, run by the real haproxy: the rendered backend asks each API
 * server for /readyz (what the clouds' load balancers ask too), so an API server that is alive but
 * not ready (draining, or its etcd gone: /healthz 200, /readyz 503) is taken out of rotation.
 *
 * The rendered haproxy.cfg runs as it is except for its addresses (the frontend on a free loopback
 * port, the three servers pointed at local HTTPS stand-ins) and the process settings a test cannot
 * use (user/group/daemon/syslog); a stats socket reports what haproxy decided.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import https from 'node:https'
import net, {type AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {makeTestCa} from '../../support/bootstrap-harness.js'
import {PROFILES_DIR} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {requireTool} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-haproxy-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

function stat(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    const c = net.createConnection(socket, () => c.end('show stat\n'))
    c.on('data', (d) => {
      out += d
    })
    c.on('end', () => resolve(out))
    c.on('error', reject)
  })
}

describe('haproxy checks the API servers', () => {
  it('the real haproxy takes a server out when its /readyz fails though its /healthz answers', async (t) => {
    const haproxy = requireTool(t, 'haproxy')
    const r = await renderProfile(path.join(PROFILES_DIR, 'quickstart.yaml'))
    const cfg = r.nodes[0]!.plan.files.find((f) => f.path === '/etc/haproxy/haproxy.cfg')
    assert.ok(cfg)
    assert.match(cfg.content, /option httpchk GET \/readyz/)

    const ca = makeTestCa(['127.0.0.1'])
    t.after(() => rmSync(ca.dir, {recursive: true, force: true}))
    // Three API servers: ready, alive but not ready, ready.
    const servers: https.Server[] = []
    const ports: number[] = []
    for (const ready of [true, false, true]) {
      const s = https.createServer({cert: ca.serverCert, key: ca.serverKey}, (req, res) => {
        if (req.url === '/healthz') res.writeHead(200).end('ok')
        else if (req.url === '/readyz') res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : '[-]etcd failed')
        else res.writeHead(404).end()
      })
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
      servers.push(s)
      ports.push((s.address() as AddressInfo).port)
    }
    t.after(() => {
      for (const s of servers) s.close()
    })

    const front = await freePort()
    const socket = path.join(tmp, 'stats.sock')
    let i = 0
    const text = cfg.content
      .split('\n')
      .filter((l) => !/^\s+(user|group|daemon|log \/dev\/log)/.test(l))
      .map((l) => l.replace(/^(\s+bind )\S+$/, `$1127.0.0.1:${front}`))
      .map((l) =>
        l.replace(/^(\s+server \S+ )\S+( .*)$/, (_m, a: string, b: string) => `${a}127.0.0.1:${ports[i++]}${b} inter 200 fall 1 rise 1`),
      )
      .join('\n')
      .replace(/^global$/m, `global\n    stats socket ${socket} mode 600 level admin`)
    assert.equal(i, 3, text)
    const file = path.join(tmp, 'haproxy.cfg')
    // Two binds of the same address are one too many: keep one.
    writeFileSync(file, text.replace(new RegExp(`(bind 127\\.0\\.0\\.1:${front}\\n)\\s+bind 127\\.0\\.0\\.1:${front}\\n`), '$1'))
    const proc = spawn(haproxy, ['-db', '-f', file], {stdio: ['ignore', 'pipe', 'pipe']})
    let log = ''
    proc.stdout.on('data', (d) => {
      log += d
    })
    proc.stderr.on('data', (d) => {
      log += d
    })
    t.after(() => proc.kill('SIGKILL'))

    // haproxy counts a server UP until its first check fails, so wait for the checks' verdict
    // (the expected states, or 10 s) rather than for the first full table.
    const names = r.cluster.nodes.filter((n) => n.role === 'control-plane').map((n) => n.name)
    const expected = {[names[0]!]: 'UP', [names[1]!]: 'DOWN', [names[2]!]: 'UP'}
    let status: Record<string, string> = {}
    for (let n = 0; n < 50; n++) {
      await new Promise((res) => setTimeout(res, 200))
      const csv = await stat(socket).catch(() => '')
      status = Object.fromEntries(
        csv
          .split('\n')
          .filter((l) => l.startsWith('apiserver,') && !/,BACKEND,|,FRONTEND,/.test(l))
          .map((l) => {
            const f = l.split(',')
            return [f[1]!, f[17]!]
          }),
      )
      if (names.every((name) => status[name] === expected[name]) && Object.keys(status).length === names.length) break
    }
    assert.deepEqual(status, expected, log)
  })
})
