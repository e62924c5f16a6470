/**
 * Observing a virtual L2 segment of VMs (qemu `-netdev socket,mcast=...`) from outside them, with
 * nothing installed in the guests:
 *
 * - `SegmentSniffer` joins the segment's multicast group and reads every Ethernet frame the VMs send:
 *   who announces an address by ARP (keepalived's gratuitous ARPs for the VIP) and who sends VRRP
 *   advertisements (only the VRRP master does). Needs no privileges.
 * - `SegmentProbe` puts a host interface on the segment: a qemu process with no machine that joins
 *   the multicast netdev and a tap device to one hub, the tap moved into a private network namespace
 *   with an address of the segment, so `curl`, `etcdctl` and the like run there as from a machine on
 *   the segment (the host's own network is untouched). Needs root (CAP_NET_ADMIN and /dev/net/tun).
 *
 * Test infrastructure only.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import dgram from 'node:dgram'
import {closeSync, existsSync, openSync} from 'node:fs'
import {findTool} from './tools.js'

export interface ArpEvent {
  /** Host time (ms since the epoch) the frame was seen. */
  t: number
  kind: 'arp'
  op: 'request' | 'reply'
  senderMac: string
  senderIp: string
  targetIp: string
}

export interface VrrpEvent {
  t: number
  kind: 'vrrp'
  srcMac: string
  srcIp: string
  vrid: number
  priority: number
}

export type SegmentEvent = ArpEvent | VrrpEvent

const mac = (b: Buffer, o: number) => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':')
const ip4 = (b: Buffer, o: number) => [...b.subarray(o, o + 4)].join('.')

/** Parses one Ethernet frame; ARP and VRRP only. */
export function parseFrame(frame: Buffer, t: number): SegmentEvent | undefined {
  if (frame.length < 14) return undefined
  const type = frame.readUInt16BE(12)
  if (type === 0x0806 && frame.length >= 42) {
    const op = frame.readUInt16BE(20)
    return {
      t,
      kind: 'arp',
      op: op === 2 ? 'reply' : 'request',
      senderMac: mac(frame, 22),
      senderIp: ip4(frame, 28),
      targetIp: ip4(frame, 38),
    }
  }
  if (type === 0x0800 && frame.length >= 34 && frame[23] === 112) {
    const ihl = ((frame[14] as number) & 0x0f) * 4
    const v = 14 + ihl
    if (frame.length < v + 4) return undefined
    return {t, kind: 'vrrp', srcMac: mac(frame, 6), srcIp: ip4(frame, 26), vrid: frame[v + 1] as number, priority: frame[v + 2] as number}
  }
  return undefined
}

export class SegmentSniffer {
  readonly events: SegmentEvent[] = []
  private readonly sock: dgram.Socket

  /** `group` as qemu's `mcast=` takes it: `230.0.0.1:1234`. */
  constructor(group: string) {
    const [addr, port] = group.split(':') as [string, string]
    this.sock = dgram.createSocket({type: 'udp4', reuseAddr: true})
    this.sock.on('message', (frame) => {
      const e = parseFrame(frame, Date.now())
      if (e) this.events.push(e)
    })
    this.sock.bind(Number(port), () => {
      this.sock.addMembership(addr, '127.0.0.1')
    })
  }

  /** Announcements of `ip` (gratuitous ARPs and ARP replies from its holder), in time order. */
  announcements(ip: string): ArpEvent[] {
    return this.events.filter((e): e is ArpEvent => e.kind === 'arp' && e.senderIp === ip && (e.op === 'reply' || e.targetIp === ip))
  }

  /** VRRP advertisements of a virtual router, in time order. */
  adverts(vrid: number): VrrpEvent[] {
    return this.events.filter((e): e is VrrpEvent => e.kind === 'vrrp' && e.vrid === vrid)
  }

  private closed = false

  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.close()
  }
}

export interface ProbeResult {
  status: number
  stdout: string
  stderr: string
}

/** Why a SegmentProbe cannot run here, or false. */
export function segmentProbeUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'the segment probe needs root (a tap device in a network namespace)'
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing'
  for (const t of ['ip', 'qemu-system-x86_64', 'curl']) if (!findTool(t)) return `${t} is missing`
  return false
}

export class SegmentProbe {
  readonly netns: string
  readonly tap: string
  private proc: ChildProcess | undefined

  /** `address` with its prefix, e.g. 10.10.0.250/24: the probe's address on the segment. */
  constructor(
    readonly group: string,
    readonly address: string,
  ) {
    const id = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`
    this.netns = `ngprobe-${id}`
    this.tap = `ngp${id}`.slice(0, 15)
  }

  async start(): Promise<void> {
    const ipTool = findTool('ip') ?? 'ip'
    const sh = (args: string[]) => {
      const r = spawnSync(ipTool, args, {encoding: 'utf8'})
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
    }
    sh(['netns', 'add', this.netns])
    const setpriv = findTool('setpriv')
    const args = [
      '-machine',
      'none',
      '-nodefaults',
      '-display',
      'none',
      '-netdev',
      `socket,id=s0,mcast=${this.group},localaddr=127.0.0.1`,
      '-netdev',
      `tap,id=t0,ifname=${this.tap},script=no,downscript=no`,
      '-netdev',
      'hubport,id=p0,hubid=0,netdev=s0',
      '-netdev',
      'hubport,id=p1,hubid=0,netdev=t0',
    ]
    const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...args]] : ['qemu-system-x86_64', args]
    let stderr = ''
    this.proc = spawn(cmd, argv, {stdio: ['ignore', 'ignore', 'pipe']})
    this.proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    process.on('exit', () => this.stop())
    const deadline = Date.now() + 15_000
    for (;;) {
      if (spawnSync(ipTool, ['link', 'show', this.tap]).status === 0) break
      if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`segment probe: qemu did not create ${this.tap}: ${stderr}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    // The tap keeps its qemu file descriptor when it moves to another namespace.
    sh(['link', 'set', this.tap, 'netns', this.netns])
    sh(['-n', this.netns, 'link', 'set', 'lo', 'up'])
    sh(['-n', this.netns, 'addr', 'add', this.address, 'dev', this.tap])
    sh(['-n', this.netns, 'link', 'set', this.tap, 'up'])
  }

  /** Runs a command inside the probe's namespace (asynchronously: the test's timers keep running). */
  exec(cmd: string, args: string[], timeoutMs = 15_000): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const p = spawn(findTool('ip') ?? 'ip', ['netns', 'exec', this.netns, cmd, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
      let stdout = ''
      let stderr = ''
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
      })
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
      })
      const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
      p.on('close', (code) => {
        clearTimeout(timer)
        resolve({status: code ?? -1, stdout, stderr})
      })
    })
  }

  /**
   * Starts a long-running command inside the namespace (a server the VMs reach); its output goes to
   * `logFile`. Killed when the probe stops.
   */
  spawn(cmd: string, args: string[], logFile: string): ChildProcess {
    const out = openSync(logFile, 'a')
    const setpriv = findTool('setpriv')
    const argv = ['netns', 'exec', this.netns, cmd, ...args]
    const p = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', findTool('ip') ?? 'ip', ...argv], {stdio: ['ignore', out, out]})
      : spawn(findTool('ip') ?? 'ip', argv, {stdio: ['ignore', out, out]})
    closeSync(out)
    this.children.push(p)
    return p
  }

  private readonly children: ChildProcess[] = []

  stop(): void {
    for (const c of this.children) c.kill('SIGKILL')
    this.proc?.kill('SIGKILL')
    spawnSync(findTool('ip') ?? 'ip', ['netns', 'del', this.netns])
  }
}
