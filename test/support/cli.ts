/**
 * The CLI as users run it, built from the current sources into a private temporary package (so the
 * tests neither depend on a stale dist/ nor race other tests writing it). Built once per process.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {REPO_ROOT} from './profiles.js'
import {run} from './tools.js'

let built: {root: string; bin: string} | undefined

/** Path of bin/run.js of a fresh build; removed when the process exits. */
export function builtCli(): string {
  if (built) return built.bin
  const root = mkdtempSync(path.join(os.tmpdir(), 'nodegen-cli-'))
  process.on('exit', () => rmSync(root, {recursive: true, force: true}))
  const tsc = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc')
  // Type errors elsewhere in the tree must not stop these tests: tsc still emits.
  spawnSync(tsc, ['-p', path.join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', path.join(root, 'dist')], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
  })
  if (!existsSync(path.join(root, 'dist', 'commands', 'pki', 'init.js'))) throw new Error('the CLI did not build')
  cpSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'))
  cpSync(path.join(REPO_ROOT, 'bin'), path.join(root, 'bin'), {recursive: true})
  for (const d of ['node_modules', 'assets', 'profiles', 'schema']) symlinkSync(path.join(REPO_ROOT, d), path.join(root, d))
  built = {root, bin: path.join(root, 'bin', 'run.js')}
  return built.bin
}

export interface CliRun {
  status: number
  stdout: string
  stderr: string
}

/** Runs `nodegen <args>`; never throws on a non-zero exit. */
export function nodegen(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const r = run(process.execPath, [builtCli(), ...args], {env: {...process.env, NODEGEN_PKI_PASSPHRASE: '', ...env}, allowFail: true})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** A `nodegen serve` of the built CLI, running in the background. */
export interface ServeProcess {
  child: ChildProcess
  /** What it printed so far, stdout and stderr together. */
  output(): string
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>
}

/** Starts `nodegen serve <args>` and resolves once it has printed `ready` (its startup line). */
export async function serveCli(args: string[], ready: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, [builtCli(), 'serve', ...args], {env: {...process.env, NODEGEN_PKI_PASSPHRASE: ''}})
  let out = ''
  child.stdout?.on('data', (d) => {
    out += d
  })
  child.stderr?.on('data', (d) => {
    out += d
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  const deadline = Date.now() + 90_000
  while (!out.includes(ready) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  if (!out.includes(ready)) {
    await stop()
    throw new Error(`nodegen serve did not start:\n${out}`)
  }
  return {child, output: () => out, stop}
}
