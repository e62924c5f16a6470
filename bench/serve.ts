/**
 * `nodegen serve` with many machines booting at once, on loopback only (127.0.0.1, bounded in
 * time). Driven as users drive it: `render --media pxe --require-token` gives each machine its
 * tokened iPXE script URL (dnsmasq-dhcp.conf), `nodegen serve` runs as its own process, and each
 * simulated machine does what iPXE and cloud-init's NoCloud-net do: fetch its script, then its
 * user-data, meta-data and network-config from the seed URL in it, each on a new connection, and
 * wait Retry-After seconds when the server answers 503. Two rounds: cold (every seed rendered on
 * demand) and warm (the same machines again, seeds already rendered).
 */
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import {syntheticProfile} from './profiles.js'

export interface ServeRound {
  /** From the first request to the last machine holding its whole seed. */
  wallMs: number
  /** Whole seeds (script, user-data, meta-data, network-config) per second. */
  seedsPerSecond: number
  /** Per machine: from its first request to its last file. */
  p50Ms: number
  p99Ms: number
  /** 503 answers (Retry-After) the machines waited on. */
  busy: number
  failed: number
}

export interface ServeResult {
  machines: number
  cold: ServeRound
  warm: ServeRound
  serverPeakRssMb: number
}

const LIMIT_MS = Number(process.env.BENCH_SERVE_LIMIT_MS ?? 240_000)

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function get(url: string): Promise<{status: number; body: string; retryAfter: number}> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, {agent: false}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), retryAfter: Number(res.headers['retry-after'] ?? 1)}),
      )
      res.on('error', reject)
    })
    req.setTimeout(60_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}

async function round(scripts: string[], deadline: number): Promise<ServeRound> {
  let busy = 0
  let failed = 0
  const fetchOk = async (url: string): Promise<string> => {
    for (;;) {
      if (Date.now() > deadline) throw new Error('bench time limit')
      const r = await get(url)
      if (r.status === 200) return r.body
      if (r.status !== 503) throw new Error(`${r.status} for ${url.replace(/token=\w+|\/nocloud\/([^/]+)\/\w+/, '…')}`)
      busy++
      await new Promise((res) => setTimeout(res, r.retryAfter * 1000))
    }
  }
  const t0 = performance.now()
  const times = await Promise.all(
    scripts.map(async (url) => {
      const s = performance.now()
      try {
        const script = await fetchOk(url)
        const seed = /ds=nocloud-net;s=(\S+)/.exec(script)?.[1]
        if (!seed) throw new Error('no seed URL in the iPXE script')
        for (const f of ['user-data', 'meta-data', 'network-config']) await fetchOk(`${seed}${f}`)
        return performance.now() - s
      } catch {
        failed++
        return Number.NaN
      }
    }),
  )
  const wallMs = performance.now() - t0
  const ok = times.filter((t) => !Number.isNaN(t))
  return {
    wallMs,
    seedsPerSecond: ok.length / (wallMs / 1000),
    p50Ms: percentile(ok, 50),
    p99Ms: percentile(ok, 99),
    busy,
    failed,
  }
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

export async function benchServe(cli: string, work: string, machines: number): Promise<ServeResult> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const profile = path.join(work, `serve-${machines}.yaml`)
  writeFileSync(profile, syntheticProfile(machines, 'cloud-init', `bench-serve-${machines}`, base))
  const state = path.join(work, `serve-state-${machines}`)
  const out = path.join(work, `serve-out-${machines}`)
  execFileSync(process.execPath, [cli, 'pki', 'init', profile, '--state', state], {stdio: 'ignore'})
  execFileSync(process.execPath, [cli, 'render', profile, '--state', state, '-o', out, '--media', 'pxe', '--require-token'], {
    stdio: 'ignore',
  })
  const scripts = [...readFileSync(path.join(out, 'dnsmasq-dhcp.conf'), 'utf8').matchAll(/^dhcp-boot=tag:ipxe,tag:\w+,(\S+)$/gm)].map(
    (m) => m[1] as string,
  )
  if (scripts.length !== machines) throw new Error(`dnsmasq-dhcp.conf names ${scripts.length} machines, not ${machines}`)
  const server: ChildProcess = spawn(process.execPath, [cli, 'serve', profile, '--state', state, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = ''
      const timer = setTimeout(() => reject(new Error(`nodegen serve did not start: ${seen.slice(-500)}`)), 60_000)
      server.stdout?.on('data', (d: Buffer) => {
        seen += d.toString()
        if (/^serving /m.test(seen)) {
          clearTimeout(timer)
          resolve()
        }
        if (seen.length > 1e6) seen = seen.slice(-1000)
      })
      server.stderr?.on('data', (d: Buffer) => {
        seen += d.toString()
      })
      server.on('exit', (code) => reject(new Error(`nodegen serve exited (${code}): ${seen.slice(-500)}`)))
    })
    const deadline = Date.now() + LIMIT_MS
    const cold = await round(scripts, deadline)
    const warm = await round(scripts, deadline)
    return {machines, cold, warm, serverPeakRssMb: peakRssMb(server.pid as number)}
  } finally {
    server.kill('SIGTERM')
  }
}
