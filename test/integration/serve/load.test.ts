/**
 * Load and abuse of `nodegen serve` on loopback (127.0.0.1 only), bounded in count and time: 2000
 * requests or 30 s, whichever comes first. Legitimate seed requests run concurrently with wrong
 * tokens, oversized and malformed requests and clients that stall mid-request. Reports requests
 * served, errors and p99 latency (figures quoted in SECURITY.md), and the server must still answer.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {materialFromSecrets} from '../../../src/app/material.js'
import {nodeStatusToken, nodeUrlToken, startServer} from '../../../src/app/serve.js'
import {loadOrCreateCalendar, loadOrCreateState} from '../../../src/pki/index.js'
import {fixturePkiContext} from '../../support/pki-fixture.js'
import {PROFILES_DIR} from '../../support/profiles.js'

const TOTAL = Number(process.env.NODEGEN_LOAD_REQUESTS ?? 2000)
const CAP_MS = 30_000
const CONCURRENCY = 32
const KEY = 'f'.repeat(64)

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-serve-load-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

/** The status of a response, its body read (so the connection is reused). */
async function statusOf(r: Response): Promise<number> {
  await r.arrayBuffer()
  return r.status
}

/** Sends raw bytes; resolves with what came back when the server closes or after `ms`. */
function raw(port: number, bytes: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
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

describe('nodegen serve under load and abuse (loopback, bounded)', () => {
  it(`${TOTAL} mixed requests within ${CAP_MS / 1000} s: no crash, every answer the expected one, still answering`, async () => {
    const profile = path.join(tmp, 'pxe.yaml')
    writeFileSync(
      profile,
      readFileSync(path.join(PROFILES_DIR, 'single-debian.yaml'), 'utf8').replace(
        '  firewall: disabled',
        `  firewall: disabled
  platform:
    type: pxe
    pxe:
      kernel:
        debian-12: {kernel: assets/vmlinuz, initrd: [assets/initrd.img], args: console=ttyS0}`,
      ),
    )
    const state = path.join(tmp, 'state')
    const s = await startServer({
      profilePath: profile,
      material: async (c, at) => {
        const {secrets} = await loadOrCreateState(state, c, fixturePkiContext())
        return materialFromSecrets(c, secrets, await loadOrCreateCalendar(state, fixturePkiContext()), at)
      },
      host: '127.0.0.1',
      port: 0,
      tokenKey: KEY,
      seedTtlMs: 3600_000,
    })
    const port = Number(new URL(s.url).port)
    const macs = ['52:54:00:10:00:10', '52:54:00:10:00:20', '52:54:00:10:00:21']
    const names = ['deb-cp-1', 'deb-worker-1', 'deb-worker-2']
    const seed = (i: number) => `/nocloud/${macs[i % 3]}/${nodeUrlToken(KEY, names[i % 3] as string)}/user-data`
    // Each kind: how to send it and which statuses are right for it.
    const kinds: Array<{name: string; send: (i: number) => Promise<number>; ok: (code: number) => boolean}> = [
      {name: 'seed', send: (i) => fetch(`${s.url}${seed(i)}`).then(statusOf), ok: (c) => c === 200},
      {
        name: 'wrong token',
        send: (i) => fetch(`${s.url}/nocloud/${macs[i % 3]}/${'0'.repeat(32)}/user-data`).then(statusOf),
        ok: (c) => c === 403,
      },
      {
        name: 'oversized status',
        send: () =>
          fetch(`${s.url}/t/${nodeStatusToken(KEY, 'deb-cp-1')}/status/deb-cp-1`, {method: 'POST', body: 'x'.repeat(64 * 1024)}).then(
            statusOf,
            () => 413,
          ),
        ok: (c) => c === 413,
      },
      {
        name: 'unauthenticated status',
        send: () => fetch(`${s.url}/status/deb-cp-1`, {method: 'POST', body: '{"phase":"ready","state":"ready"}'}).then(statusOf),
        ok: (c) => c === 401,
      },
      {
        name: 'garbage',
        send: () => raw(port, '\x16\x03\x01GARBAGE \x00\r\n\r\n', 2000).then((t) => Number(t.slice(9, 12)) || 0),
        ok: (c) => c === 400,
      },
      {
        name: 'slow client',
        // half a request line, then silence: the client gives up after 300 ms
        send: () => raw(port, 'GET /boot.ipxe HTTP/1.1\r\nhost: x', 300).then((t) => (t === '' ? 0 : -1)),
        ok: (c) => c === 0,
      },
    ]
    const latencies: number[] = []
    const counts = new Map<string, {sent: number; bad: number}>()
    let next = 0
    const deadline = Date.now() + CAP_MS
    const t0 = Date.now()
    const worker = async () => {
      for (;;) {
        const i = next++
        if (i >= TOTAL || Date.now() > deadline) return
        // two in three are legitimate seed requests
        const kind =
          i % 3 === 0 ? (kinds[1 + ((i / 3) % (kinds.length - 1))] as (typeof kinds)[number]) : (kinds[0] as (typeof kinds)[number])
        const c = counts.get(kind.name) ?? {sent: 0, bad: 0}
        counts.set(kind.name, c)
        c.sent++
        const start = performance.now()
        const code = await kind.send(i).catch(() => -2)
        if (kind.name !== 'slow client') latencies.push(performance.now() - start)
        if (!kind.ok(code)) c.bad++
      }
    }
    await Promise.all(Array.from({length: CONCURRENCY}, worker))
    const elapsed = Date.now() - t0
    latencies.sort((a, b) => a - b)
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(1)
    const sent = [...counts.values()].reduce((a, c) => a + c.sent, 0)
    const bad = [...counts.values()].reduce((a, c) => a + c.bad, 0)
    const still = await fetch(`${s.url}/boot.ipxe`)
    const stillSeed = await fetch(`${s.url}${seed(0)}`)
    console.log(
      `serve load: ${sent} requests in ${elapsed} ms (${[...counts].map(([k, v]) => `${k} ${v.sent}`).join(', ')}); ` +
        `unexpected answers ${bad}; server 500s ${s.stats.errors}, parser rejects ${s.stats.clientErrors}, 503 busy ${s.stats.busy}, renders ${s.stats.renders}; ` +
        `latency p50 ${p(0.5)} ms, p99 ${p(0.99)} ms; still answering: ${still.status} ${stillSeed.status}`,
    )
    await s.close()
    assert.ok(elapsed <= CAP_MS + 5000, 'the run is bounded in time')
    assert.equal(bad, 0, JSON.stringify([...counts]))
    assert.equal(s.stats.errors, 0)
    assert.equal(still.status, 200)
    assert.equal(stillSeed.status, 200)
    assert.ok(sent >= Math.min(TOTAL, 500), `only ${sent} requests in ${CAP_MS} ms`)
  })
})
