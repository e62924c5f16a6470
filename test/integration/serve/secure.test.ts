/**
 * `nodegen serve` secure by default: node tokens, matchBy-only lookup, seeds that stop being served,
 * status reports that need the node's token and cannot inject terminal escapes, redacted logs, a
 * serve key of its own, requests that cannot end the server, and seeds cached per token window.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {before, describe, it} from 'node:test'
import {parse} from 'yaml'
import {materialFromSecrets} from '../../../src/app/material.js'
import {nodeStatusToken, nodeUrlToken, printable, type RunningServer, type ServeOptions, startServer} from '../../../src/app/serve.js'
import {deriveWindowToken, loadOrCreateCalendar, loadOrCreateServeKey, loadOrCreateState, windowOf} from '../../../src/pki/index.js'
import {builtCli} from '../../support/cli.js'
import {fixturePkiContext} from '../../support/pki-fixture.js'
import {PROFILES_DIR} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-serve-sec-'))
process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))
const profile = path.join(tmp, 'pxe.yaml')
const state = path.join(tmp, 'state')
const KEY = 'k'.repeat(64)
const CP = '52:54:00:10:00:10'

function writeProfile(statusUrl?: string): void {
  const text = readFileSync(path.join(PROFILES_DIR, 'single-debian.yaml'), 'utf8')
    .replace(
      '  firewall: disabled',
      `  firewall: disabled${statusUrl ? `\n  bootstrap:\n    statusUrl: ${statusUrl}` : ''}
  platform:
    type: pxe
    pxe:
      kernel:
        debian-12: {kernel: assets/vmlinuz, initrd: [assets/initrd.img], args: console=ttyS0}`,
    )
    .replace('mac: "52:54:00:10:00:20"}', 'mac: "52:54:00:10:00:20", uuid: "4c4c4544-0042-3510-8052-b4c04f4e4d32"}')
  writeFileSync(profile, text)
}

let materialCalls = 0
function serve(extra: Partial<ServeOptions> = {}): Promise<RunningServer> {
  return startServer({
    profilePath: profile,
    material: async (c, at) => {
      materialCalls++
      const {secrets} = await loadOrCreateState(state, c, fixturePkiContext())
      return materialFromSecrets(c, secrets, await loadOrCreateCalendar(state, fixturePkiContext()), at)
    },
    host: '127.0.0.1',
    port: 0,
    tokenKey: KEY,
    ...extra,
  })
}

const cpToken = nodeUrlToken(KEY, 'deb-cp-1')
const cpUserData = `/nocloud/${CP}/${cpToken}/user-data`

/** Sends raw bytes and returns what came back before the server closed (or `ms` passed). */
function raw(url: string, bytes: string | Buffer, ms = 2000): Promise<string> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname)
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

describe('nodegen serve, secure by default', () => {
  before(() => writeProfile())

  it('refuses to start without a token key unless the opt-out is explicit', async () => {
    await assert.rejects(startServer({profilePath: profile, material: async () => ({}) as never, host: '127.0.0.1', port: 0}))
  })

  it('gives no seed to a request without the node token, and matches machines only by matchBy', async () => {
    const s = await serve()
    try {
      for (const p of [`/nocloud/${CP}/user-data`, `/nocloud/${CP}/${'0'.repeat(32)}/user-data`, `/ignition/${CP}`, `/ipxe/${CP}`]) {
        const r = await fetch(`${s.url}${p}`)
        assert.equal(r.status, 403, p)
        assert.doesNotMatch(await r.text(), /PRIVATE KEY/)
      }
      // matchBy is mac: the node's name and UUID name no machine, even with the right token
      assert.equal((await fetch(`${s.url}/nocloud/deb-cp-1/${cpToken}/user-data`)).status, 404)
      const w = nodeUrlToken(KEY, 'deb-worker-1')
      assert.equal((await fetch(`${s.url}/nocloud/4c4c4544-0042-3510-8052-b4c04f4e4d32/${w}/meta-data`)).status, 404)
      assert.equal((await fetch(`${s.url}/nocloud/52-54-00-10-00-20/${w}/meta-data`)).status, 200)
      const ok = await fetch(`${s.url}${cpUserData}`)
      assert.equal(ok.status, 200)
      assert.match(await ok.text(), /PRIVATE KEY/)
    } finally {
      await s.close()
    }
  })

  it("stops serving a node's secret-bearing seed once it reports ready, and after the TTL", async () => {
    let t = Date.parse('2026-06-01T00:00:00Z')
    const s = await serve({now: () => new Date(t), seedTtlMs: 60_000})
    try {
      assert.equal((await fetch(`${s.url}${cpUserData}`)).status, 200)
      const body = JSON.stringify({role: 'control-plane', phase: 'ready', state: 'ready', reason: ''})
      const r = await fetch(`${s.url}/t/${nodeStatusToken(KEY, 'deb-cp-1')}/status/deb-cp-1`, {method: 'POST', body})
      assert.equal(r.status, 204)
      assert.equal((await fetch(`${s.url}${cpUserData}`)).status, 410)
      // meta-data carries no secret and stays
      assert.equal((await fetch(`${s.url}/nocloud/${CP}/${cpToken}/meta-data`)).status, 200)
      const wUd = `/nocloud/52:54:00:10:00:20/${nodeUrlToken(KEY, 'deb-worker-1')}/user-data`
      assert.equal((await fetch(`${s.url}${wUd}`)).status, 200)
      t += 30_000
      assert.equal((await fetch(`${s.url}${wUd}`)).status, 200)
      t += 31_000
      assert.equal((await fetch(`${s.url}${wUd}`)).status, 410)
    } finally {
      await s.close()
    }
  })

  it('never logs a node token, in the query or in the NoCloud path', async () => {
    const logs: string[] = []
    const s = await serve({log: (l) => logs.push(l)})
    try {
      await fetch(`${s.url}${cpUserData}`)
      await fetch(`${s.url}/ipxe/${CP}?token=${cpToken}`)
      await fetch(`${s.url}/t/${nodeStatusToken(KEY, 'deb-cp-1')}/status/deb-cp-1`, {method: 'POST', body: '{}'})
      // a malformed path with a token in it is redacted too
      await fetch(`${s.url}/nocloud/${CP}/${cpToken}/user-data/extra`)
      await fetch(`${s.url}/t/${cpToken}`)
      const all = logs.join('\n')
      assert.ok(logs.length >= 3)
      assert.ok(!all.includes(cpToken), all)
      assert.ok(!all.includes(nodeStatusToken(KEY, 'deb-cp-1')), all)
      assert.match(all, /GET \/nocloud\/52:54:00:10:00:10\/\*\*\*\/user-data 200/)
    } finally {
      await s.close()
    }
  })

  it('status reports need the node status token, accept only known phases and states, and carry no control characters', async () => {
    const s = await serve()
    try {
      const body = (o: object) => JSON.stringify({role: 'worker', phase: 'packages', state: 'running', reason: '', ...o})
      const url = (node: string, tok = nodeStatusToken(KEY, node)) => `${s.url}/t/${tok}/status/${node}`
      assert.equal((await fetch(`${s.url}/status/deb-worker-1`, {method: 'POST', body: body({})})).status, 401)
      assert.equal((await fetch(url('deb-worker-1', nodeStatusToken(KEY, 'deb-cp-1')), {method: 'POST', body: body({})})).status, 401)
      // the URL token is not the status token
      assert.equal((await fetch(url('deb-worker-1', nodeUrlToken(KEY, 'deb-worker-1')), {method: 'POST', body: body({})})).status, 401)
      assert.equal((await fetch(url('deb-worker-1'), {method: 'POST', body: body({phase: '\x1b[2Jpwned'})})).status, 400)
      assert.equal((await fetch(url('deb-worker-1'), {method: 'POST', body: body({state: 'owned'})})).status, 400)
      const r = await fetch(url('deb-worker-1'), {method: 'POST', body: body({reason: 'disk \x1b]0;evil\x07full\x9b31m\r\n'})})
      assert.equal(r.status, 204)
      const bearer = await fetch(`${s.url}/status/deb-worker-1`, {
        method: 'POST',
        body: body({reason: 'x\x1b[31my'}),
        headers: {authorization: `Bearer ${nodeStatusToken(KEY, 'deb-worker-1')}`},
      })
      assert.equal(bearer.status, 204)
      const st = s.status.get('deb-worker-1')
      assert.equal(st?.reason, 'x[31my')
      assert.equal(printable('a\x1b]0;t\x07b\x9bc\u0085d'), 'a]0;tbcd')
    } finally {
      await s.close()
    }
  })

  it("a status URL at this server is handed to each node with the node's status token", async () => {
    const s0 = await serve()
    const port = new URL(s0.url).port
    await s0.close()
    writeProfile(`http://127.0.0.1:${port}`)
    const s = await serve({port: Number(port)})
    try {
      const ud = await (await fetch(`${s.url}${cpUserData}`)).text()
      assert.ok(ud.includes(`http://127.0.0.1:${port}/t/${nodeStatusToken(KEY, 'deb-cp-1')}`))
    } finally {
      await s.close()
      writeProfile()
    }
  })

  it('no request ends the server: oversized POSTs, garbage, slow and half-open clients, wrong tokens', async () => {
    const s = await serve()
    try {
      const big = await fetch(`${s.url}/status/x`, {method: 'POST', body: 'x'.repeat(20_000)})
      assert.ok([401, 413].includes(big.status))
      const big2 = await fetch(`${s.url}/t/${nodeStatusToken(KEY, 'deb-cp-1')}/status/deb-cp-1`, {
        method: 'POST',
        body: 'x'.repeat(20_000),
      })
      assert.equal(big2.status, 413)
      // a body larger than announced in chunks, with no content-length
      const chunked = await raw(
        s.url,
        `POST /t/${nodeStatusToken(KEY, 'deb-cp-1')}/status/deb-cp-1 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${'4000\r\n' + 'y'.repeat(0x4000) + '\r\n'}${'4000\r\n' + 'y'.repeat(0x4000) + '\r\n'}0\r\n\r\n`,
      )
      assert.match(chunked, /^HTTP\/1\.1 413/)
      assert.match(await raw(s.url, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/)
      assert.match(await raw(s.url, '\x00\x01\x02\xff\r\n\r\n'), /^HTTP\/1\.1 400/)
      assert.match(await raw(s.url, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`), /^HTTP\/1\.1 (400|414|431)/)
      assert.match(await raw(s.url, 'GET /nocloud/%zz/user-data HTTP/1.1\r\nhost: x\r\n\r\n'), /^HTTP\/1\.1 (400|404)/)
      // a client that sends half a request and stalls; the server keeps answering meanwhile
      const slow = net.connect(Number(new URL(s.url).port), '127.0.0.1')
      slow.on('error', () => {})
      slow.write('GET /boot.ipxe HTTP/1.1\r\nhost: x\r\n')
      for (let i = 0; i < 20; i++) assert.equal((await fetch(`${s.url}/nocloud/${CP}/bad${i}/user-data`)).status, 403)
      slow.destroy()
      const ok = await fetch(`${s.url}/boot.ipxe`)
      assert.equal(ok.status, 200)
      assert.equal((await fetch(`${s.url}${cpUserData}`)).status, 200)
    } finally {
      await s.close()
    }
  })

  it('renders a seed once per token window, and a new window gets its own token', async () => {
    let t = Date.parse('2026-06-01T00:00:00Z')
    const s = await serve({now: () => new Date(t), seedTtlMs: 7 * 86400_000})
    try {
      const before = materialCalls
      const a = await Promise.all(Array.from({length: 10}, () => fetch(`${s.url}${cpUserData}`).then((r) => r.text())))
      assert.equal(new Set(a).size, 1)
      assert.equal(materialCalls - before, 1)
      assert.equal(s.stats.renders, 1)
      // the worker's join token is the one of the window the request falls in, never a past one
      const files = (ud: string) =>
        ((parse(ud) as {write_files?: Array<{content: string; encoding?: string}>}).write_files ?? [])
          .map((f) =>
            f.encoding?.includes('b64') || f.encoding?.includes('base64') ? Buffer.from(f.content, 'base64').toString() : f.content,
          )
          .join('\n')
      const cal = await loadOrCreateCalendar(state, fixturePkiContext())
      const tokenAt = (ms: number) => deriveWindowToken(cal.secret, windowOf(ms / 1000, 86400), 86400).token
      const wUd = `/nocloud/52:54:00:10:00:20/${nodeUrlToken(KEY, 'deb-worker-1')}/user-data`
      const w1 = files(await (await fetch(`${s.url}${wUd}`)).text())
      assert.ok(w1.includes(tokenAt(t)))
      t += 2 * 86400_000
      const w2 = files(await (await fetch(`${s.url}${wUd}`)).text())
      assert.ok(w2.includes(tokenAt(t)))
      assert.ok(!w2.includes(tokenAt(t - 2 * 86400_000)))
    } finally {
      await s.close()
    }
  })

  it('the serve key is its own secret in the state: 0600, created once, never replaced, not the calendar secret', async () => {
    const dir = mkdtempSync(path.join(tmp, 'sk-'))
    const a = await loadOrCreateServeKey(dir, {randomBytes: (n) => randomBytes(n)})
    const b = await loadOrCreateServeKey(dir, {...fixturePkiContext(), randomBytes: (n) => new Uint8Array(n).fill(7)})
    assert.equal(a, b)
    assert.match(a, /^[0-9a-f]{64}$/)
    assert.equal(statSync(path.join(dir, 'serve-key')).mode & 0o777, 0o600)
    const cal = await loadOrCreateCalendar(dir, fixturePkiContext())
    assert.notEqual(a, cal.secret)
  })
})

describe('nodegen serve (the command)', () => {
  it('needs --listen, and started with only a profile and --listen gives no CA key without the node token', async () => {
    writeProfile()
    const bin = builtCli()
    const st = path.join(tmp, 'cmd-state')
    const env = {...process.env, NODEGEN_PKI_PASSPHRASE: ''}
    const noListen = spawn(process.execPath, [bin, 'serve', profile, '--state', st], {env})
    const code = await new Promise<number | null>((r) => noListen.on('exit', r))
    assert.notEqual(code, 0)
    const port = await new Promise<number>((resolve) => {
      const p = net.createServer().listen(0, '127.0.0.1', () => {
        const n = (p.address() as net.AddressInfo).port
        p.close(() => resolve(n))
      })
    })
    const child = spawn(process.execPath, [bin, 'serve', profile, '--listen', `127.0.0.1:${port}`, '--state', st], {env})
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    try {
      const deadline = Date.now() + 60_000
      while (!out.includes('serving') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      assert.ok(out.includes('serving'), out)
      const base = `http://127.0.0.1:${port}`
      for (const p of [`/nocloud/${CP}/user-data`, '/nocloud/deb-cp-1/user-data', `/ignition/${CP}`, `/ipxe/${CP}`]) {
        const r = await fetch(`${base}${p}`)
        assert.notEqual(r.status, 200, p)
        assert.doesNotMatch(await r.text(), /PRIVATE KEY/)
      }
      assert.equal((await fetch(`${base}/boot.ipxe`)).status, 200)
      assert.doesNotMatch(out, /[0-9a-f]{64}/)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.on('exit', r))
    }
  })
})
