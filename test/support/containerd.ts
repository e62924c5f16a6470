/**
 * A private containerd for tests: Debian's containerd on its own socket, root and state under a
 * scratch directory, never the host's /run/containerd. Stopping it unmounts whatever snapshots it
 * left mounted, so the directory can be removed.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import type {TestContext} from 'node:test'
import {requireTool, run} from './tools.js'

export interface Containerd {
  /** The gRPC socket (ctr's `-a`, or CONTAINERD_ADDRESS). */
  address: string
  /** ctr against this containerd. */
  ctr(args: string[], opts?: {allowFail?: boolean}): ReturnType<typeof run>
  /** Stops containerd and unmounts what it left under its directory. */
  stop(): Promise<void>
}

export interface ContainerdOptions {
  /**
   * A containerd configuration (format version 2) to run with, such as the config.toml nodegen
   * writes to nodes; its root, state and sockets are moved under the scratch directory.
   * @default a configuration with the CRI plugin disabled (the image store alone)
   */
  config?: string
}

/** containerd without the CRI plugin, which would look for CNI configuration and a kubelet. */
const STORE_ONLY = 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n'

/**
 * Starts containerd with its files under `dir` (which must exist) and waits until it answers.
 * Needs root; skips (or under CI=true fails) the test when containerd or ctr is missing.
 */
export async function startContainerd(t: TestContext, dir: string, opts: ContainerdOptions = {}): Promise<Containerd> {
  const bin = requireTool(t, 'containerd')
  const ctrBin = requireTool(t, 'ctr')
  const address = path.join(dir, 'containerd.sock')
  const config = path.join(dir, 'config.toml')
  const base = opts.config ?? STORE_ONLY
  // Top-level keys must come before the first table, so they go right after `version`.
  const top = `root = "${dir}/root"\nstate = "${dir}/state"\n`
  const withTop = /^version\s*=.*$/m.test(base) ? base.replace(/^(version\s*=.*\n)/m, `$1${top}`) : `${top}${base}`
  writeFileSync(
    config,
    [
      withTop.trimEnd(),
      '',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[debug]',
      `  address = "${dir}/debug.sock"`,
      '',
    ].join('\n'),
  )
  const log: string[] = []
  const child: ChildProcess = spawn(bin, ['--config', config], {stdio: ['ignore', 'ignore', 'pipe']})
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()))
  const handle: Containerd = {
    address,
    ctr: (args, o = {}) => run(ctrBin, ['-a', address, ...args], o),
    stop: () => stopContainerd(child, dir),
  }
  for (let i = 0; i < 150; i++) {
    if (existsSync(address) && run(ctrBin, ['-a', address, 'version'], {allowFail: true}).status === 0) return handle
    if (child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 200))
  }
  await handle.stop()
  throw new Error(`containerd did not answer on ${address}:\n${log.join('').slice(-3000)}`)
}

async function stopContainerd(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
  }
  // The snapshots containerd mounted are gone once it stops; a leftover mount would keep rm from
  // deleting them, so whatever remains under the directory is unmounted, deepest first.
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort()
    .reverse()
  for (const m of mounts) run('umount', ['-l', m], {allowFail: true})
}
