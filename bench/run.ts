/**
 * `npm run bench`: how nodegen's render cost grows with the cluster, beside the tools people use
 * instead, in one run on one machine (ratios are the figures that travel between machines).
 *
 * It builds the package as `npm pack` does (dist/ and the oclif manifest), then measures:
 * - startup: `--version`, `validate` and `render --media iso` of the quickstart as whole processes,
 *   and whether the cloud SDKs load outside launch/destroy;
 * - scale: for 10, 100, 1000 and 5000 nodes (3 control planes, the rest workers; cloud-init and
 *   Ignition profiles) a render that writes only the boot media (`--no-seed-files`, the same output
 *   cloud-localds writes) through the built CLI: wall time, CPU time, peak RSS, output bytes, nodes
 *   per second, the largest user-data; up to 1000 nodes also the default render (loose seeds too)
 *   and, in the same run, cloud-localds writing the same NoCloud seeds node by node;
 * - `nodegen serve` with 1000 machines booting at once on loopback (bench/serve.ts);
 * - the PKI set issued by nodegen and by an openssl script.
 * Medians of several repetitions. Prints every target met or missed, writes bench/results.json
 * (with the machine and its load average) and bench/plot.svg.
 *
 *   npm run bench                 # all sizes, 3 repetitions
 *   BENCH_SIZES=10,100 BENCH_REPS=1 BENCH_SERVE_MACHINES=100 npm run bench
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {syntheticProfile} from './profiles.js'
import {benchServe, type ServeResult} from './serve.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cli = path.join(root, 'bin', 'run.js')
const SIZES = (process.env.BENCH_SIZES ?? '10,100,1000,5000').split(',').map(Number)
const REPS = Number(process.env.BENCH_REPS ?? 3)
const PEER_MAX = Number(process.env.BENCH_PEER_MAX ?? 1000)
const SERVE_MACHINES = Number(process.env.BENCH_SERVE_MACHINES ?? 1000)
const work = mkdtempSync(path.join(os.tmpdir(), 'nodegen-bench-'))
const loadBefore = os.loadavg()

// The package as users install it: `npm pack` builds dist/ and the oclif manifest (prepack, through
// the build) and lists what the tarball holds; the measurements run that dist/ and manifest.
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json'], {cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}),
)
const manifestPacked = (packed[0]?.files ?? []).some((f: {path: string}) => f.path === 'oclif.manifest.json')
if (!existsSync(path.join(root, 'oclif.manifest.json'))) throw new Error('the build wrote no oclif.manifest.json')

interface Measure {
  wallMs: number
  cpuMs: number
  maxRssKb: number
}

/** Runs a command under GNU time for its CPU and peak RSS. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measure {
  const t0 = process.hrtime.bigint()
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], {encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024})
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`)
  const last = r.stderr.trim().split('\n').pop() ?? ''
  const [u, s, m] = last.split(' ').map(Number)
  return {wallMs, cpuMs: ((u ?? 0) + (s ?? 0)) * 1000, maxRssKb: m ?? 0}
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

function dirBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name)
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return n
}

function largestUserData(out: string): number {
  let max = 0
  for (const e of readdirSync(out, {withFileTypes: true})) {
    if (!e.isDirectory()) continue
    for (const f of ['user-data', 'config.ign']) {
      try {
        max = Math.max(max, statSync(path.join(out, e.name, f)).size)
      } catch {
        // not this format
      }
    }
  }
  return max
}

interface Row {
  format: 'cloud-init' | 'ignition'
  nodes: number
  wallMs: number
  cpuMs: number
  maxRssMb: number
  outputBytes: number
  nodesPerSecond: number
  largestUserData: number
  ec2Budget: number
  /** At 1000 cloud-init nodes: the same render in the main thread only (NODEGEN_RENDER_THREADS=0). */
  oneThreadWallMs?: number
  /** The default render (loose seed files beside each medium), up to BENCH_PEER_MAX nodes. */
  withSeedFiles?: {wallMs: number; cpuMs: number; maxRssMb: number}
  peer?: {tool: string; wallMs: number; ratio: number; msPerNode: number}
}

/**
 * Startup: the commands a user runs most, as whole processes through the built CLI, against the
 * targets (wall ms, peak RSS MiB). `render` runs on an existing state: the PKI is made once.
 */
interface StartupRow {
  command: string
  wallMs: number
  maxRssMb: number
  targetMs: number
  targetRssMb: number
}
const startup: StartupRow[] = []
let nodeBaselineMs = 0
{
  const dir = mkdtempSync(path.join(work, 'startup-'))
  const profile = path.join(dir, 'quickstart.yaml')
  writeFileSync(profile, readFileSync(path.join(root, 'profiles', 'quickstart.yaml')))
  execFileSync(process.execPath, [cli, 'pki', 'init', profile], {stdio: 'ignore', cwd: dir})
  const cases: Array<[string, string[], number]> = [
    ['nodegen --version', ['--version'], 150],
    ['nodegen validate quickstart.yaml', ['validate', profile], 300],
    ['nodegen render quickstart.yaml --media iso', ['render', profile, '-o', path.join(dir, 'out'), '--media', 'iso'], 600],
  ]
  const runs = Math.max(5, REPS)
  // What Node.js alone costs to start on this machine, now: the floor under every startup figure.
  nodeBaselineMs = median(Array.from({length: runs}, () => measure(process.execPath, ['-e', '0']).wallMs))
  process.stdout.write(`startup: node -e 0 (Node.js alone): ${nodeBaselineMs.toFixed(0)} ms\n`)
  for (const [command, args, targetMs] of cases) {
    const ms = Array.from({length: runs}, () => {
      rmSync(path.join(dir, 'out'), {recursive: true, force: true})
      return measure(process.execPath, [cli, ...args], {...process.env, NO_COLOR: '1'})
    })
    const row = {
      command,
      wallMs: median(ms.map((m) => m.wallMs)),
      maxRssMb: median(ms.map((m) => m.maxRssKb)) / 1024,
      targetMs,
      targetRssMb: 100,
    }
    startup.push(row)
    process.stdout.write(
      `startup: ${command}: ${row.wallMs.toFixed(0)} ms (target ${targetMs}), ${row.maxRssMb.toFixed(0)} MiB peak RSS (target 100)\n`,
    )
  }
}

/**
 * Which cloud SDK modules a command imports, through a module resolve hook (checked on an import
 * of the EC2 client first, so a broken hook cannot pass for "none").
 */
function sdkImports(args: string[], cwd: string): string[] {
  const log = path.join(work, 'sdk.log')
  const hooks = path.join(work, 'sdk-hooks.mjs')
  writeFileSync(
    hooks,
    `import {appendFileSync} from 'node:fs'\nexport async function resolve(s, c, next) {\n  const r = await next(s, c)\n  if (/@aws-sdk|@google-cloud/.test(r.url)) appendFileSync(${JSON.stringify(log)}, r.url + '\\n')\n  return r\n}\n`,
  )
  const preload = path.join(work, 'sdk-preload.mjs')
  writeFileSync(preload, `import {register} from 'node:module'\nregister(${JSON.stringify(`file://${hooks}`)})\n`)
  rmSync(log, {force: true})
  spawnSync(process.execPath, ['--import', preload, ...args], {cwd, stdio: 'ignore'})
  return existsSync(log) ? [...new Set(readFileSync(log, 'utf8').trim().split('\n'))] : []
}
const sdkControl = sdkImports(['--input-type=module', '-e', "await import('@aws-sdk/client-ec2')"], root).length > 0
const sdkLoadedBy: Record<string, number> = {}
{
  const dir = mkdtempSync(path.join(work, 'sdk-'))
  const profile = path.join(dir, 'quickstart.yaml')
  writeFileSync(profile, readFileSync(path.join(root, 'profiles', 'quickstart.yaml')))
  for (const [name, args] of [
    ['--version', ['--version']],
    ['validate', ['validate', profile]],
    ['render', ['render', profile, '-o', path.join(dir, 'out'), '--media', 'iso']],
  ] as const)
    sdkLoadedBy[name] = sdkImports([cli, ...args], dir).length
  process.stdout.write(
    `cloud SDK modules imported: ${Object.entries(sdkLoadedBy)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} (the hook sees an SDK import: ${sdkControl})\n`,
  )
}

const rows: Row[] = []
for (const format of ['cloud-init', 'ignition'] as const) {
  for (const n of SIZES) {
    const profile = path.join(work, `${format}-${n}.yaml`)
    writeFileSync(profile, syntheticProfile(n, format))
    const state = path.join(work, `state-${format}-${n}`)
    // The PKI is made once per cluster; the benchmark measures rendering.
    execFileSync(process.execPath, [cli, 'pki', 'init', profile, '--state', state], {stdio: 'ignore'})
    const out = path.join(work, `out-${format}-${n}`)
    const media = format === 'ignition' ? 'configdrive' : 'iso'
    const renderArgs = [cli, 'render', profile, '-o', out, '--state', state, '--media', media]
    const ms: Measure[] = []
    for (let i = 0; i < REPS; i++) {
      rmSync(out, {recursive: true, force: true})
      ms.push(measure(process.execPath, [...renderArgs, '--no-seed-files']))
    }
    const wallMs = median(ms.map((m) => m.wallMs))
    const row: Row = {
      format,
      nodes: n,
      wallMs,
      cpuMs: median(ms.map((m) => m.cpuMs)),
      maxRssMb: median(ms.map((m) => m.maxRssKb)) / 1024,
      outputBytes: dirBytes(out),
      nodesPerSecond: n / (wallMs / 1000),
      largestUserData: 0,
      ec2Budget: 16384,
    }
    if (format === 'cloud-init' && n === 1000) {
      // The same render in the main thread only: what the worker threads bring on this machine.
      const one: Measure[] = []
      for (let i = 0; i < REPS; i++) {
        rmSync(out, {recursive: true, force: true})
        one.push(measure(process.execPath, [...renderArgs, '--no-seed-files'], {...process.env, NODEGEN_RENDER_THREADS: '0'}))
      }
      row.oneThreadWallMs = median(one.map((m) => m.wallMs))
    }
    if (n <= PEER_MAX) {
      // The default render: the loose seed files too (and the input cloud-localds reads).
      const ds: Measure[] = []
      for (let i = 0; i < REPS; i++) {
        rmSync(out, {recursive: true, force: true})
        ds.push(measure(process.execPath, renderArgs))
      }
      row.withSeedFiles = {
        wallMs: median(ds.map((m) => m.wallMs)),
        cpuMs: median(ds.map((m) => m.cpuMs)),
        maxRssMb: median(ds.map((m) => m.maxRssKb)) / 1024,
      }
      row.largestUserData = largestUserData(out)
    }
    if (format === 'cloud-init' && n <= PEER_MAX) {
      // cloud-localds writing the same seeds from the files nodegen rendered, node by node.
      const script = path.join(work, `localds-${n}.sh`)
      const seeds = path.join(work, `localds-${n}`)
      writeFileSync(
        script,
        `set -e\ncd ${JSON.stringify(out)}\nfor d in */; do d=\${d%/}; cloud-localds -N "$d/network-config" ${JSON.stringify(seeds)}/"$d.iso" "$d/user-data" "$d/meta-data"; done\n`,
      )
      const peer = median(
        Array.from({length: REPS}, () => {
          rmSync(seeds, {recursive: true, force: true})
          mkdirSync(seeds, {recursive: true})
          return measure('bash', [script]).wallMs
        }),
      )
      row.peer = {tool: 'cloud-localds', wallMs: peer, ratio: peer / wallMs, msPerNode: peer / n}
      rmSync(seeds, {recursive: true, force: true})
    }
    rows.push(row)
    process.stdout.write(
      `${format.padEnd(10)} ${String(n).padStart(5)} nodes: ${(wallMs / 1000).toFixed(2)} s wall, ${(row.cpuMs / 1000).toFixed(2)} s CPU, ` +
        `${row.maxRssMb.toFixed(0)} MB RSS, ${(row.outputBytes / 1e6).toFixed(1)} MB out, ${row.nodesPerSecond.toFixed(0)} nodes/s, ` +
        `${(wallMs / n).toFixed(2)} ms/node${row.largestUserData ? `, largest user-data ${row.largestUserData} B` : ''}` +
        `${row.withSeedFiles ? `; with seed files ${(row.withSeedFiles.wallMs / 1000).toFixed(2)} s` : ''}` +
        `${row.oneThreadWallMs ? `; in one thread ${(row.oneThreadWallMs / 1000).toFixed(2)} s` : ''}` +
        `${row.peer ? `; cloud-localds ${(row.peer.wallMs / 1000).toFixed(2)} s, ${(row.peer.wallMs / n).toFixed(2)} ms/node (${row.peer.ratio.toFixed(1)}x)` : ''}\n`,
    )
    rmSync(out, {recursive: true, force: true})
  }
}

// The same PKI set issued by the openssl CLI, for the issuance ratio (bench/pki.ts has the details).
const pkiRows: Array<{tool: string; wallMs: number}> = []
{
  const profile = path.join(work, 'pki.yaml')
  writeFileSync(profile, syntheticProfile(5, 'cloud-init', 'pki-bench'))
  const times = Array.from(
    {length: REPS},
    (_, i) => measure(process.execPath, [cli, 'pki', 'init', profile, '--state', path.join(work, `pki-${i}`)]).wallMs,
  )
  pkiRows.push({tool: 'nodegen pki init (RSA-2048, quickstart set)', wallMs: median(times)})
  const script = path.join(work, 'openssl-pki.sh')
  writeFileSync(
    script,
    `set -e\ncd "$1"\nfor ca in ca front-proxy-ca etcd-ca; do openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.crt -subj "/CN=$ca" -days 3650 2>/dev/null; done\nopenssl genrsa -out sa.key 2048 2>/dev/null\nopenssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null\nopenssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=kubeadm:cluster-admins/CN=kubernetes-admin" 2>/dev/null\nopenssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 365 2>/dev/null\n`,
  )
  const ot = Array.from({length: REPS}, (_, i) => {
    const d = path.join(work, `openssl-${i}`)
    mkdirSync(d)
    return measure('bash', [script, d]).wallMs
  })
  pkiRows.push({tool: 'openssl CLI script (same set)', wallMs: median(ot)})
  for (const r of pkiRows) process.stdout.write(`pki: ${r.tool}: ${(r.wallMs / 1000).toFixed(2)} s\n`)
}

// nodegen serve: many machines booting at once, on loopback.
let serve: ServeResult | undefined
if (SERVE_MACHINES > 0) {
  serve = await benchServe(cli, work, SERVE_MACHINES)
  for (const [name, r] of [
    ['cold', serve.cold],
    ['warm', serve.warm],
  ] as const)
    process.stdout.write(
      `serve, ${serve.machines} machines at once, ${name}: ${r.seedsPerSecond.toFixed(0)} seeds/s, p50 ${r.p50Ms.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms, ` +
        `${(r.wallMs / 1000).toFixed(1)} s in all, ${r.busy} busy answers waited on, ${r.failed} failed\n`,
    )
}

/** Every target of the benchmark, met or missed, with the figure measured. */
interface Target {
  target: string
  measured: string
  met: boolean
}
const targets: Target[] = []
for (const r of startup)
  targets.push(
    {target: `${r.command} <= ${r.targetMs} ms`, measured: `${r.wallMs.toFixed(0)} ms`, met: r.wallMs <= r.targetMs},
    {target: `${r.command} peak RSS <= ${r.targetRssMb} MiB`, measured: `${r.maxRssMb.toFixed(0)} MiB`, met: r.maxRssMb <= r.targetRssMb},
  )
targets.push({
  target: 'cloud SDKs load only in launch/destroy',
  measured: sdkControl
    ? Object.entries(sdkLoadedBy)
        .map(([k, v]) => `${k}: ${v} SDK modules`)
        .join(', ')
    : 'the import hook saw no SDK import even when asked to: not measured',
  met: sdkControl && Object.values(sdkLoadedBy).every((v) => v === 0),
})
targets.push({
  target: 'oclif manifest in the package (npm pack)',
  measured: manifestPacked ? 'oclif.manifest.json packed' : 'not packed',
  met: manifestPacked,
})
const ci = (n: number) => rows.find((r) => r.format === 'cloud-init' && r.nodes === n)
const r1000 = ci(1000)
if (r1000?.peer)
  targets.push({
    target: '1000-node render with ISOs >= 15x faster than cloud-localds',
    measured: `${r1000.peer.ratio.toFixed(1)}x (${(r1000.wallMs / 1000).toFixed(2)} s, ${(r1000.wallMs / 1000).toFixed(2)} ms/node against ${(r1000.peer.wallMs / 1000).toFixed(1)} s, ${r1000.peer.msPerNode.toFixed(1)} ms/node)`,
    met: r1000.peer.ratio >= 15,
  })
if (r1000?.oneThreadWallMs)
  targets.push({
    target: 'both cores used (1000 nodes: threads against one thread)',
    measured: `${(r1000.oneThreadWallMs / r1000.wallMs).toFixed(2)}x faster (${(r1000.oneThreadWallMs / 1000).toFixed(2)} s in one thread), CPU/wall ${(r1000.cpuMs / r1000.wallMs).toFixed(2)}`,
    met: r1000.oneThreadWallMs / r1000.wallMs >= 1.3,
  })
const r5000 = ci(5000)
if (r5000) targets.push({target: '5000 nodes < 15 s', measured: `${(r5000.wallMs / 1000).toFixed(2)} s`, met: r5000.wallMs < 15000})
const r100 = ci(100)
if (r100 && r5000)
  targets.push({
    target: 'peak RSS flat within 20 % from 100 to 5000 nodes',
    measured: `${r100.maxRssMb.toFixed(0)} -> ${r5000.maxRssMb.toFixed(0)} MiB (${((r5000.maxRssMb / r100.maxRssMb - 1) * 100).toFixed(0)} %)`,
    met: r5000.maxRssMb <= r100.maxRssMb * 1.2,
  })
if (serve)
  targets.push({
    target: `serve: ${serve.machines} machines booting at once, every seed served`,
    measured: `cold ${serve.cold.seedsPerSecond.toFixed(0)} seeds/s, p99 ${serve.cold.p99Ms.toFixed(0)} ms; warm ${serve.warm.seedsPerSecond.toFixed(0)} seeds/s, p99 ${serve.warm.p99Ms.toFixed(0)} ms; ${serve.cold.failed + serve.warm.failed} failed`,
    met: serve.cold.failed + serve.warm.failed === 0,
  })
const loadAfter = os.loadavg()
{
  const w = Math.max(...targets.map((t) => t.target.length))
  process.stdout.write(`\n${'target'.padEnd(w)}  ${'met'.padEnd(6)}  measured\n`)
  for (const t of targets) process.stdout.write(`${t.target.padEnd(w)}  ${(t.met ? 'met' : 'MISSED').padEnd(6)}  ${t.measured}\n`)
  process.stdout.write(
    `load average (1, 5, 15 min): ${loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(2)).join(' ')} after\n`,
  )
}

const machine = {
  cpus: os.cpus().length,
  model: os.cpus()[0]?.model ?? '?',
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  loadAverage: {before: loadBefore, after: loadAfter},
}
// The commit measured (with a mark when the working tree differs from it).
const git = (args: string[]) => spawnSync('git', args, {cwd: root, encoding: 'utf8'}).stdout?.trim() ?? ''
const commit = `${git(['rev-parse', '--short', 'HEAD']) || 'unknown'}${git(['status', '--porcelain', '--untracked-files=no']) ? ' (modified)' : ''}`
writeFileSync(
  path.join(root, 'bench', 'results.json'),
  `${JSON.stringify({date: new Date().toISOString(), commit, machine, reps: REPS, targets, nodeBaselineMs, startup, sdkLoadedBy, rows, serve, pki: pkiRows}, null, 2)}\n`,
)
writeFileSync(path.join(root, 'bench', 'plot.svg'), plot(rows))
process.stdout.write('wrote bench/results.json and bench/plot.svg\n')
rmSync(work, {recursive: true, force: true})

/** Time and peak memory against node count, log-log, one line per format. */
function plot(data: Row[]): string {
  const W = 720
  const H = 360
  const pad = 60
  const xs = [...new Set(data.map((r) => r.nodes))].sort((a, b) => a - b)
  const lx = (n: number) =>
    pad +
    ((Math.log10(n) - Math.log10(xs[0] as number)) /
      Math.max(1e-9, Math.log10(xs[xs.length - 1] as number) - Math.log10(xs[0] as number))) *
      (W - 2 * pad)
  const series = (key: 'wallMs' | 'maxRssMb', format: string) =>
    data.filter((r) => r.format === format).map((r) => [r.nodes, r[key]] as const)
  const maxT = Math.max(...data.map((r) => r.wallMs))
  const maxM = Math.max(...data.map((r) => r.maxRssMb))
  const ly = (v: number, max: number) => H - pad - (v / max) * (H - 2 * pad)
  const line = (pts: ReadonlyArray<readonly [number, number]>, max: number, color: string, dash = '') =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''} points="${pts.map(([x, y]) => `${lx(x).toFixed(1)},${ly(y, max).toFixed(1)}`).join(' ')}"/>`
  const ticks = xs.map((n) => `<text x="${lx(n).toFixed(1)}" y="${H - pad + 18}" font-size="12" text-anchor="middle">${n}</text>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<title>nodegen render time and peak memory against node count</title>
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="22" font-size="15" text-anchor="middle">nodegen render with boot media: time (solid, max ${(maxT / 1000).toFixed(1)} s) and peak RSS (dashed, max ${maxM.toFixed(0)} MB)</text>
<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="black"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="black"/>
${ticks}<text x="${W / 2}" y="${H - 15}" font-size="12" text-anchor="middle">nodes (log scale)</text>
${line(series('wallMs', 'cloud-init'), maxT, '#1f77b4')}${line(series('wallMs', 'ignition'), maxT, '#ff7f0e')}
${line(series('maxRssMb', 'cloud-init'), maxM, '#1f77b4', '6 4')}${line(series('maxRssMb', 'ignition'), maxM, '#ff7f0e', '6 4')}
<text x="${W - pad}" y="${pad}" font-size="12" text-anchor="end" fill="#1f77b4">cloud-init</text><text x="${W - pad}" y="${pad + 16}" font-size="12" text-anchor="end" fill="#ff7f0e">ignition</text>
</svg>
`
}
