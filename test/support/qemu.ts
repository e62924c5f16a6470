/**
 * Boots the test VM image under qemu (software emulation: KVM does not work on these machines),
 * with seed media attached, reads its serial console as it boots, powers it off cleanly through
 * QMP, and reads files back from its disk with debugfs (no mounts). Test infrastructure only.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {REPO_ROOT} from './profiles.js'
import {findTool} from './tools.js'

export interface VmImage {
  disk: string
  kernel: string
  initrd: string
  /** The disk's format: the test images are raw, a Packer-baked image is qcow2. @default 'raw' */
  format?: 'raw' | 'qcow2'
}

const images = new Map<string, VmImage>()

/**
 * Builds (or finds in the cache) a test image of test/vm-image/build.sh: `baked` (the stand-in
 * image of the VM tests), `plain` (a Debian 12 as a site has it before nodegen) or `packer` (plain
 * with sshd and sudo, the real bake's source). Throws when the build fails; its log is on stderr.
 */
export function ensureVmImage(flavour: 'baked' | 'plain' | 'packer' = 'baked'): VmImage {
  const cached = images.get(flavour)
  if (cached) return cached
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'test/vm-image/build.sh'), flavour], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 40 * 60_000,
  })
  if (r.status !== 0) throw new Error(`building the ${flavour} VM image failed (exit ${r.status})`)
  const dir = r.stdout.trim().split('\n').pop() as string
  const image = {disk: path.join(dir, 'disk.raw'), kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img')}
  images.set(flavour, image)
  return image
}

/** The tools a VM test needs, for requireTool-style checks. */
export const VM_TOOLS = ['qemu-system-x86_64', 'qemu-img', 'debugfs', 'debootstrap', 'mkfs.ext4']

export function vmToolsMissing(): string[] {
  return VM_TOOLS.filter((t) => !findTool(t))
}

/** ANSI escapes (systemd's coloured status) and carriage returns removed. */
export function plainConsole(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '')
}

/** A multicast group on a random port, so concurrent runs get separate L2 segments. */
export function randomMcastGroup(): string {
  return `230.0.0.1:${40000 + Math.floor(Math.random() * 20000)}`
}

export type VmNet =
  | {kind: 'none'}
  | {kind: 'user'; mac?: string /** Network boot: slirp's DHCP hands iPXE this URL. */; bootfile?: string}
  | {kind: 'mcast'; mac: string; group?: string}

export interface VmOptions {
  name: string
  image: VmImage
  /** Seed media (ISO files), attached as virtio disks cloud-init finds by label. */
  media: string[]
  net?: VmNet
  memMb?: number
  /** Virtual CPUs (default 1); kubeadm's preflight wants 2 on a control plane. */
  smp?: number
  kernelArgs?: string
  /** qemu's CPU model (default 'qemu64': under TCG a plain model boots faster than 'max'). */
  cpu?: string
  /** Host scheduling niceness of the qemu process (default 0): a VM off the critical path yields the cores. */
  nice?: number
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL')
})

export class Vm {
  readonly dir: string
  readonly consoleLog: string
  /** Host time (ms) qemu was started. */
  startedAt = 0
  private proc: ChildProcess | undefined
  private exited: Promise<number | null> | undefined
  private readonly overlay: string
  private readonly qmp: string

  constructor(readonly opts: VmOptions) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `nodegen-vm-${opts.name}-`))
    this.consoleLog = path.join(this.dir, 'console.log')
    this.overlay = path.join(this.dir, 'disk.qcow2')
    this.qmp = path.join(this.dir, 'qmp.sock')
  }

  start(): void {
    const {image: img} = this.opts
    const mk = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', img.disk, '-F', img.format ?? 'raw', this.overlay], {
      encoding: 'utf8',
    })
    if (mk.status !== 0) throw new Error(`qemu-img create failed: ${mk.stderr}`)
    const args = [
      '-machine',
      'q35',
      '-accel',
      'tcg',
      '-cpu',
      this.opts.cpu ?? 'qemu64',
      '-smp',
      String(this.opts.smp ?? 1),
      '-m',
      String(this.opts.memMb ?? 1024),
      // No VGA, parallel port, floppy or default CD-ROM: fewer devices for the guest to probe under
      // emulation (bochs-drm alone costs seconds).
      '-nodefaults',
      '-display',
      'none',
      '-monitor',
      'none',
      '-no-reboot',
      '-serial',
      `file:${this.consoleLog}`,
      '-qmp',
      `unix:${this.qmp},server=on,wait=off`,
      '-drive',
      `file=${this.overlay},if=virtio,format=qcow2`,
    ]
    const netboot = this.opts.net?.kind === 'user' && this.opts.net.bootfile !== undefined
    // Network boot: the NIC's iPXE ROM fetches kernel and initrd; otherwise boot them directly.
    if (netboot) args.push('-boot', 'n')
    else
      args.push(
        '-kernel',
        img.kernel,
        '-initrd',
        img.initrd,
        '-append',
        `root=/dev/vda rw console=ttyS0 net.ifnames=0 biosdevname=0 panic=-1 ${this.opts.kernelArgs ?? ''}`.trim(),
      )
    for (const m of this.opts.media) args.push('-drive', `file=${m},if=virtio,format=raw,readonly=on`)
    const n = this.opts.net ?? {kind: 'none'}
    if (n.kind === 'none') args.push('-nic', 'none')
    else if (n.kind === 'user')
      args.push(
        '-netdev',
        `user,id=n0${n.bootfile ? `,bootfile=${n.bootfile}` : ''}`,
        '-device',
        `virtio-net-pci,netdev=n0${n.mac ? `,mac=${n.mac}` : ''}`,
      )
    else
      args.push(
        '-netdev',
        `socket,id=n0,mcast=${n.group ?? '230.0.0.1:1234'},localaddr=127.0.0.1`,
        '-device',
        `virtio-net-pci,netdev=n0,mac=${n.mac}`,
      )
    // setpriv --pdeathsig: the kernel kills qemu even when the test process dies by SIGKILL.
    const setpriv = findTool('setpriv')
    const qemu = this.opts.nice ? ['nice', '-n', String(this.opts.nice), 'qemu-system-x86_64'] : ['qemu-system-x86_64']
    const [cmd, ...rest] = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...qemu, ...args] : [...qemu, ...args]
    const p = spawn(cmd as string, rest, {stdio: ['ignore', 'ignore', 'pipe']})
    this.startedAt = Date.now()
    let stderr = ''
    p.stderr?.on('data', (d) => {
      stderr += d
    })
    live.add(p)
    this.proc = p
    this.exited = new Promise((resolve) =>
      p.on('exit', (code) => {
        live.delete(p)
        if (code !== 0 && code !== null && stderr) process.stderr.write(`qemu ${this.opts.name}: ${stderr}\n`)
        resolve(code)
      }),
    )
  }

  console(): string {
    return existsSync(this.consoleLog) ? readFileSync(this.consoleLog, 'latin1') : ''
  }

  /** Waits until the console shows a line matching `re`; throws with the console's tail on timeout. */
  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const m = this.console().match(re)
      if (m) return m
      if (this.proc?.exitCode !== null && this.proc?.exitCode !== undefined)
        throw new Error(`${this.opts.name} exited before ${re}:\n${this.tail()}`)
      if (Date.now() > deadline) throw new Error(`${this.opts.name}: no ${re} within ${timeoutMs / 1000} s; console tail:\n${this.tail()}`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }

  /** Whether qemu still runs. */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null
  }

  /** The console's lines, ANSI escapes and carriage returns removed. */
  lines(): string[] {
    return plainConsole(this.console()).split('\n')
  }

  tail(lines = 40): string {
    return this.lines().slice(-lines).join('\n')
  }

  /** ACPI power-off through QMP (the guest flushes its disks); kill after `timeoutMs`. */
  async powerOff(timeoutMs = 60_000): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return
    await new Promise<void>((resolve) => {
      const s = net.createConnection(this.qmp)
      s.on('error', () => resolve())
      s.on('connect', () => {
        s.write('{"execute":"qmp_capabilities"}\n{"execute":"system_powerdown"}\n')
        setTimeout(() => {
          s.destroy()
          resolve()
        }, 500)
      })
    })
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), timeoutMs)
    await this.exited
    clearTimeout(timer)
  }

  kill(): void {
    this.proc?.kill('SIGKILL')
  }

  /** SIGKILL, as pulling the power; resolves once qemu is gone. */
  async killAndWait(): Promise<void> {
    this.kill()
    await this.exited
  }

  async waitExit(): Promise<number | null | undefined> {
    return this.exited
  }

  private rawDisk: string | undefined

  /** The disk after the VM stopped, as a raw image debugfs can read. */
  private raw(): string {
    if (this.rawDisk) return this.rawDisk
    const out = path.join(this.dir, 'disk.raw')
    const r = spawnSync('qemu-img', ['convert', '-O', 'raw', this.overlay, out], {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`qemu-img convert failed: ${r.stderr}`)
    // Killed, not powered off: replay the journal on the copy so reads see what the guest wrote.
    const dump = spawnSync(findTool('dumpe2fs') ?? 'dumpe2fs', ['-h', out], {encoding: 'utf8'})
    if (/needs_recovery/.test(dump.stdout)) spawnSync(findTool('e2fsck') ?? 'e2fsck', ['-fy', out], {encoding: 'utf8'})
    this.rawDisk = out
    return out
  }

  readFile(p: string): string | undefined {
    const r = spawnSync(findTool('debugfs') ?? 'debugfs', ['-R', `cat ${p}`, this.raw()], {encoding: 'latin1'})
    if (r.status !== 0 || /File not found/.test(r.stderr)) return undefined
    return r.stdout
  }

  /** Mode bits, uid and gid of a path on the disk. */
  stat(p: string): {mode: number; uid: number; gid: number} | undefined {
    const r = spawnSync(findTool('debugfs') ?? 'debugfs', ['-R', `stat ${p}`, this.raw()], {encoding: 'utf8'})
    const mode = /Mode:\s+([0-7]+)/.exec(r.stdout)
    const user = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(r.stdout)
    if (!mode || !user) return undefined
    return {mode: Number.parseInt(mode[1] as string, 8) & 0o7777, uid: Number(user[1]), gid: Number(user[2])}
  }

  cleanup(): void {
    this.kill()
    rmSync(this.dir, {recursive: true, force: true})
  }
}
