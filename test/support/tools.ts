/**
 * Real tools the tests run against nodegen's output. A test that needs a missing tool is skipped on
 * a developer's machine, and fails under CI=true: CI must never go green by skipping.
 */
import {spawn, spawnSync} from 'node:child_process'
import type {TestContext} from 'node:test'

const cache = new Map<string, string | undefined>()

/** Absolute path of a tool on PATH (or in /usr/sbin, /sbin), or undefined. */
export function findTool(name: string): string | undefined {
  if (cache.has(name)) return cache.get(name)
  const r = spawnSync(
    'sh',
    ['-c', 'command -v "$1" || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || { [ -x "/sbin/$1" ] && echo "/sbin/$1"; }', 'sh', name],
    {
      encoding: 'utf8',
    },
  )
  const found = r.status === 0 ? r.stdout.trim() || undefined : undefined
  cache.set(name, found)
  return found
}

/**
 * Returns the tool's path, or (outside CI) skips the test; under CI=true a missing tool fails it.
 * Install every tool with `npm run test:tools`.
 */
export function requireTool(t: TestContext, name: string): string {
  const p = findTool(name)
  if (p) return p
  const msg = `${name} is not installed (run: npm run test:tools)`
  if (process.env.CI) throw new Error(`${msg}; under CI=true a missing tool is a failure, not a skip`)
  t.skip(msg)
  throw new SkipSignal(msg)
}

/** Thrown after t.skip() so the test body stops; tests catch nothing, node:test reports the skip. */
export class SkipSignal extends Error {}

/** Runs a command and returns its output; throws with stderr when it fails. */
export function run(
  cmd: string,
  args: string[],
  opts: {input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean} = {},
) {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    maxBuffer: 256 * 1024 * 1024,
  })
  const out = {status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '', stdoutBuf: r.stdout}
  if (!opts.allowFail && out.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${out.status}: ${out.stderr || out.stdout}`)
  }
  return out
}

/** Skips the test unless it runs as root (under CI=true, fails instead); `why` names what needs it. */
export function requireRoot(t: TestContext, why: string): void {
  if (process.getuid?.() === 0) return
  const msg = `needs root (${why})`
  if (process.env.CI) throw new Error(`${msg}; under CI=true that is a failure, not a skip`)
  t.skip(msg)
  throw new SkipSignal(msg)
}

/**
 * Runs a command without blocking the event loop, for commands that talk to a server this process
 * serves; resolves with the exit status and output, never rejects on a failing status.
 */
export function runAsync(
  cmd: string,
  args: string[],
  opts: {env?: NodeJS.ProcessEnv; cwd?: string} = {},
): Promise<{status: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (status) => resolve({status, stdout, stderr}))
  })
}
