/**
 * The e2e test's machinery: boots the rendered nodes of a profile as VMs on one virtual L2 segment,
 * watches their serial consoles (every line stamped with the host time it first appeared), probes
 * the segment from outside (the VIP's announcements, the endpoint over TLS, etcd), and keeps the
 * timeline the test prints. Test infrastructure only.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {parse} from 'yaml'
import {Vm, type VmImage} from '../support/qemu.js'
import type {SegmentProbe, SegmentSniffer} from '../support/segment.js'

export interface NodeSpec {
  name: string
  role: 'control-plane' | 'worker'
  ordinal: number
  ip: string
  mac: string
}

/** The nodes of a profile, with their ordinals per role as nodegen assigns them (profile order). */
export function profileNodes(profile: string): NodeSpec[] {
  const doc = parse(readFileSync(profile, 'utf8')) as {
    spec: {nodes: Array<{name: string; role: NodeSpec['role']; ip: string; mac: string}>}
  }
  const count: Record<string, number> = {}
  return doc.spec.nodes.map((n) => {
    const ordinal = count[n.role] ?? 0
    count[n.role] = ordinal + 1
    return {name: n.name, role: n.role, ordinal, ip: n.ip.split('/')[0] as string, mac: n.mac}
  })
}

export interface SeenLine {
  t: number
  line: string
}

/** A booted node: its VM and its console's lines with the host time each was first seen. */
export class ClusterNode {
  readonly seen: SeenLine[] = []
  private taken = 0

  constructor(
    readonly spec: NodeSpec,
    readonly vm: Vm,
    readonly label: string,
  ) {}

  /** Reads the console's new complete lines. */
  poll(now = Date.now()): void {
    const lines = this.vm.lines()
    const complete = this.vm.running ? lines.length - 1 : lines.length
    for (; this.taken < complete; this.taken++) this.seen.push({t: now, line: lines[this.taken] as string})
  }

  first(re: RegExp): SeenLine | undefined {
    return this.seen.find((s) => re.test(s.line))
  }

  last(re: RegExp): SeenLine | undefined {
    for (let i = this.seen.length - 1; i >= 0; i--) if (re.test((this.seen[i] as SeenLine).line)) return this.seen[i]
    return undefined
  }

  /**
   * `ready`, `failed` (with the line), or undefined while the bootstrap runs. With `retried`, a
   * failed run that systemd starts again (the program's "(run N; systemd starts the next run
   * shortly)") is not an outcome: the node goes on, as a real one would.
   */
  outcome(retried = false): {state: 'ready' | 'failed'; line: SeenLine} | undefined {
    const re = new RegExp(`^nodegen: ${this.spec.name} ${this.spec.role} (ready|failed at .*)$`)
    const done = retried ? this.last(re) : this.first(re)
    if (!done) return undefined
    if (done.line.endsWith(' ready')) return {state: 'ready', line: done}
    if (retried && /systemd starts the next run shortly\)$/.test(done.line)) return undefined
    return {state: 'failed', line: done}
  }

  /** Where the node is (or stopped): for failure messages. */
  whereabouts(): string {
    const o = this.outcome()
    const why = this.last(/\[standin\] kubeadm error: |nodegen: error: /)
    const cause = why ? `; last error: ${why.line.replace(/^.*?(\S+ nodegen: error: |\S+ \[standin\] kubeadm error: )/, '$1')}` : ''
    if (o?.state === 'failed') return `${this.label} stopped: ${o.line.line}${cause}`
    if (o?.state === 'ready') return `${this.label} is ready`
    const phase = this.last(/nodegen: phase \S+: start/)
    if (!phase) {
      const ci = this.last(/Cloud-init v\. \S+ (running|finished)/)
      return `${this.label} never started the bootstrap program (${ci ? `last cloud-init line: ${ci.line}` : 'no cloud-init output'}; console: ${this.vm.lines().filter(Boolean).slice(-1)[0] ?? ''})`
    }
    const name = /phase (\S+): start/.exec(phase.line)?.[1]
    const wait = this.last(/nodegen: waiting for /)
    // A wait that has not ended (no "<what>: ok" after it) is where the node is.
    const what = wait?.line.replace(/^.*nodegen: waiting for /, '')
    const ended = what !== undefined && this.seen.some((l) => l.t >= (wait as SeenLine).t && l.line.includes(`nodegen: ${what}: ok`))
    const waiting = wait && wait.t >= phase.t && !ended ? `, waiting for ${what}` : ''
    const lastLine = this.last(/ nodegen: |\[standin\] /)
    const last = lastLine ? `; last line: ${lastLine.line.replace(/^.*?(\S+ nodegen: |\S+ \[standin\] )/, '$1')}` : ''
    return `${this.label} stopped in phase ${name}${waiting}${cause}${last}`
  }
}

export interface TimelineEvent {
  t: number
  who: string
  what: string
}

export class Timeline {
  readonly events: TimelineEvent[] = []
  readonly t0 = Date.now()

  add(who: string, what: string, t = Date.now()): void {
    this.events.push({t, who, what})
  }

  text(title: string): string {
    const rows = [...this.events].sort((a, b) => a.t - b.t)
    const w = Math.max(4, ...rows.map((r) => r.who.length))
    const lines = [title, `${'t (s)'.padStart(8)}  ${'who'.padEnd(w)}  what`]
    for (const r of rows) lines.push(`${((r.t - this.t0) / 1000).toFixed(1).padStart(8)}  ${r.who.padEnd(w)}  ${r.what}`)
    return `${lines.join('\n')}\n`
  }

  write(dir: string, name: string, title: string, extra: Record<string, unknown>): string {
    mkdirSync(dir, {recursive: true})
    const text = this.text(title)
    writeFileSync(path.join(dir, `${name}.txt`), text)
    writeFileSync(
      path.join(dir, `${name}.json`),
      `${JSON.stringify({title, t0: new Date(this.t0).toISOString(), events: this.events.map((e) => ({...e, s: (e.t - this.t0) / 1000})), ...extra}, null, 2)}\n`,
    )
    return text
  }
}

/** Console lines worth a row in the timeline, with their label. */
const MILESTONES: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/Cloud-init v\. \S+ finished/, () => 'cloud-init finished'],
  [/nodegen: bootstrap of \S+ \((\S+ \d+)\)/, (m) => `bootstrap starts (${m[1]})`],
  [/nodegen: phase (\S+): done$/, (m) => `phase ${m[1]} done`],
  [/nodegen: (API endpoint \S+) .*: ok$/, (m) => `${m[1]} answers (bootstrap's wait)`],
  [/nodegen: (etcd ready for a new member).*: ok$/, (m) => `${m[1]} (bootstrap's wait)`],
  [/\[standin\] kubeadm (etcd: member \S+ started \((new|existing)) cluster/, (m) => `${m[1]} cluster)`],
  [/\[standin\] kubeadm (etcd: learner \S+) \(\S+\) promoted/, (m) => `${m[1]} promoted`],
  [/\[standin\] kubeadm (discovery: \S+ answers)/, (m) => m[1] as string],
  [/\[standin\] kubeadm (upload-config: the endpoint \S+ answers)/, (m) => m[1] as string],
  [/\[standin\] kubeadm (join|init) done/, (m) => `kubeadm ${m[1]} done`],
  [/\[standin\] kubeadm error: (.*)/, (m) => `kubeadm error: ${m[1]}`],
  // The real kubeadm, kubelet and package phase (test/cluster).
  [/install-packages: runtime (\S+) and Kubernetes (\S+) installed/, (m) => `packages installed (${m[1]}, Kubernetes ${m[2]})`],
  [/bundle: (\d+) image\(s\) imported/, (m) => `${m[1]} image(s) imported from the bundle`],
  [/nodegen: (firewalld: \d+ permanent rule\(s\) in force)/, (m) => m[1] as string],
  [/\[kubelet-check\] The kubelet is healthy after (\S+)/, (m) => `kubeadm: kubelet healthy after ${m[1]}`],
  [/\[control-plane-check\] (kube-apiserver) is healthy after (\S+)/, (m) => `kubeadm: ${m[1]} healthy after ${m[2]}`],
  [/\[api-check\] The API server is healthy after (\S+)/, (m) => `kubeadm: API server healthy after ${m[1]}`],
  [/Your Kubernetes control-plane has initialized successfully/, () => 'kubeadm init done'],
  [/This node has joined the cluster and a new control plane instance was created/, () => 'kubeadm join done (control plane)'],
  [/This node has joined the cluster:$/, () => 'kubeadm join done'],
  // The program prints this line on the console itself and through its unit: count the first.
  [/^nodegen: \S+ \S+ (ready|failed at .*)$/, (m) => (m[1] === 'ready' ? 'READY' : `FAILED at ${(m[1] as string).slice(10)}`)],
]

export function milestones(node: ClusterNode, timeline: Timeline, from = 0): number {
  for (let i = from; i < node.seen.length; i++) {
    const s = node.seen[i] as SeenLine
    for (const [re, label] of MILESTONES) {
      const m = re.exec(s.line)
      if (m) {
        timeline.add(node.label, label(m), s.t)
        break
      }
    }
  }
  return node.seen.length
}

export interface BootOptions {
  image: VmImage
  group: string
  isoDir: string
  memMb: number
  /** Virtual CPUs of a node (default 1). */
  smp?: (spec: NodeSpec) => number
  /** Host niceness of a node's qemu (see bringUpNice). */
  nice?: (spec: NodeSpec) => number
  /** Added to the kernel command line (NODEGEN_E2E_KERNEL_ARGS; `nodegen.top` prints the busiest processes). */
  kernelArgs?: string
}

export function bootNode(spec: NodeSpec, o: BootOptions, label = spec.name): ClusterNode {
  const vm = new Vm({
    name: label.replace(/[^A-Za-z0-9-]/g, '-'),
    image: o.image,
    media: [path.join(o.isoDir, `${spec.name}.iso`)],
    net: {kind: 'mcast', mac: spec.mac, group: o.group},
    memMb: o.memMb,
    smp: o.smp?.(spec),
    nice: o.nice?.(spec),
    kernelArgs: o.kernelArgs ?? process.env.NODEGEN_E2E_KERNEL_ARGS,
  })
  vm.start()
  return new ClusterNode(spec, vm, label)
}

/**
 * Follows the segment: a row whenever another node announces the VIP (a gratuitous ARP: it became
 * VRRP master) or the VRRP advertisements change sender or priority (keepalived's check weight).
 */
export class SegmentFollower {
  private arp = 0
  private vrrp = 0
  private lastMac: string | undefined
  private lastAdvert: string | undefined

  constructor(
    private readonly sniffer: SegmentSniffer,
    private readonly vip: string,
    private readonly vrid: number,
    private readonly nameOf: (mac: string) => string,
  ) {}

  follow(timeline: Timeline): void {
    const ann = this.sniffer.announcements(this.vip)
    for (; this.arp < ann.length; this.arp++) {
      const a = ann[this.arp] as (typeof ann)[number]
      if (a.senderMac !== this.lastMac)
        timeline.add('segment', `VIP ${this.vip} announced by ${this.nameOf(a.senderMac)} (ARP ${a.op})`, a.t)
      this.lastMac = a.senderMac
    }
    const adv = this.sniffer.adverts(this.vrid)
    for (; this.vrrp < adv.length; this.vrrp++) {
      const v = adv[this.vrrp] as (typeof adv)[number]
      const key = `${v.srcMac}/${v.priority}`
      if (key !== this.lastAdvert) timeline.add('segment', `VRRP master ${this.nameOf(v.srcMac)}, priority ${v.priority}`, v.t)
      this.lastAdvert = key
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Polls the nodes' consoles until every one printed its ready or failed line; throws, naming every
 * node that did not become ready and where it stopped, when one failed or `timeoutMs` passed.
 * `tick` runs every round (the outside probes).
 */
export async function waitForReady(
  nodes: ClusterNode[],
  timeline: Timeline,
  timeoutMs: number,
  tick: () => Promise<void>,
  opts: {retried?: boolean} = {},
): Promise<void> {
  const retried = opts.retried ?? false
  const deadline = Date.now() + timeoutMs
  const marks = new Map<ClusterNode, number>()
  for (;;) {
    for (const n of nodes) {
      n.poll()
      marks.set(n, milestones(n, timeline, marks.get(n) ?? 0))
    }
    await tick()
    const outcomes = nodes.map((n) => n.outcome(retried))
    const failed = outcomes.some((o) => o?.state === 'failed')
    const exited = nodes.filter((n) => !n.vm.running && !n.outcome(retried))
    if (outcomes.every((o) => o?.state === 'ready')) return
    if (failed || exited.length > 0 || Date.now() > deadline) {
      const why = failed ? 'a node failed' : exited.length > 0 ? 'a VM exited' : `not every node was ready within ${timeoutMs / 1000} s`
      const report = nodes.filter((n) => n.outcome(retried)?.state !== 'ready').map((n) => `  - ${n.whereabouts()}`)
      throw new Error(`the cluster did not come up (${why}):\n${report.join('\n')}`)
    }
    await sleep(1000)
  }
}

/** A client certificate for etcd from the state's etcd CA, made with openssl on the host. */
export function etcdClientCert(stateDir: string, dir: string): EtcdTls {
  const ca = path.join(stateDir, 'pki', 'etcd', 'ca.crt')
  const caKey = path.join(stateDir, 'pki', 'etcd', 'ca.key')
  const key = path.join(dir, 'e2e-etcd-client.key')
  const csr = path.join(dir, 'e2e-etcd-client.csr')
  const cert = path.join(dir, 'e2e-etcd-client.crt')
  const ext = path.join(dir, 'e2e-etcd-client.ext')
  writeFileSync(ext, 'extendedKeyUsage=clientAuth\n')
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`)
  }
  run([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=nodegen-e2e-probe',
    '-keyout',
    key,
    '-out',
    csr,
  ])
  run(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-set_serial', '7', '-days', '1', '-extfile', ext, '-out', cert])
  return {ca, cert, key}
}

export interface EtcdMember {
  name: string
  id: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

export type EtcdTls = {ca: string; cert: string; key: string}

/** etcdctl from the segment, TLS verified against nodegen's etcd CA, with the probe's client certificate. */
export function etcdctl(probe: SegmentProbe, tls: EtcdTls, endpoints: string[], args: string[], timeoutMs?: number) {
  return probe.exec(
    'etcdctl',
    [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=3s', '--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key, ...args],
    timeoutMs,
  )
}

/** The etcd member list as a machine on the segment sees it, TLS verified against nodegen's etcd CA. */
export async function etcdMembers(probe: SegmentProbe, tls: EtcdTls, endpoints: string[]): Promise<EtcdMember[] | undefined> {
  const r = await etcdctl(probe, tls, endpoints, ['--command-timeout=5s', 'member', 'list', '-w', 'json'], 12_000)
  if (r.status !== 0) return undefined
  // Member IDs are uint64: keep them as text.
  const body = JSON.parse(r.stdout.replace(/"ID":(\d+)/g, '"ID":"$1"')) as {
    members?: Array<{ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean}>
  }
  return (body.members ?? []).map((m) => ({
    name: m.name ?? '',
    id: m.ID,
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: m.isLearner === true,
  }))
}

/** GET https://<endpoint>/readyz from the segment, verified against the cluster CA. */
export async function endpointReady(probe: SegmentProbe, endpoint: string, clusterCa: string): Promise<boolean> {
  const r = await probe.exec('curl', ['-fsS', '-m', '4', '--cacert', clusterCa, `https://${endpoint}/readyz`], 8_000)
  return r.status === 0 && r.stdout.trim() === 'ok'
}

export type {SegmentSniffer}

/**
 * Host niceness for the bring-up. Real machines each have their own processors; here five VMs share
 * two emulating cores, and the protocol is a chain (control plane 0 initialises, then 1 joins, then
 * 2; workers wait for the endpoint). Giving the qemu of each later link a lower weight lets the link
 * that is running take a whole core, while the waiting ones still run whenever it idles. It changes
 * no order the product decides: every VM powers on at the same moment, and a waiting node only
 * polls until the node before it is done.
 */
export function bringUpNice(spec: NodeSpec): number {
  return spec.role === 'control-plane' ? Math.min(2 * spec.ordinal, 8) : 6
}

/**
 * Polls `kubectl get nodes` (through `k`) every 5 s, up to 120 times, until every named node is
 * Ready; each time more are Ready the timeline gets a row. Answers the names still not Ready.
 */
export async function waitNodesReady(
  k: (args: string[]) => Promise<{status: number | null; stdout: string}>,
  names: readonly string[],
  timeline: Timeline,
): Promise<string[]> {
  let notReady = [...names]
  for (let i = 0; i < 120 && notReady.length > 0; i++) {
    const got = await k(['get', 'nodes', '-o', 'json'])
    if (got.status === 0) {
      const items = (
        JSON.parse(got.stdout) as {
          items: Array<{metadata: {name: string}; status: {conditions: Array<{type: string; status: string}>}}>
        }
      ).items
      const ready = new Set(
        items.filter((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name),
      )
      const before = notReady.length
      notReady = names.filter((n) => !ready.has(n))
      if (notReady.length < before) timeline.add('probe', `kubectl: Ready ${[...ready].sort().join(', ')}`)
    }
    if (notReady.length > 0) await sleep(5000)
  }
  return notReady
}

/** A file's SHA-256, as sha256sum prints it. */
export function sha256File(file: string): string {
  return spawnSync('sha256sum', [file], {encoding: 'utf8'}).stdout.slice(0, 64)
}
