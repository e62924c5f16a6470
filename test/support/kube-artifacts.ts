/**
 * The artifacts a real cluster run needs beside the Kubernetes commands: the image archives
 * (scripts/build-kube-images.sh) and the local apt repositories (scripts/build-kube-debs.sh), built
 * from the Go module proxy and Debian's packages and cached under ~/.cache/nodegen-k8s.
 */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'
import type {TestContext} from 'node:test'
import {REPO_ROOT} from './profiles.js'
import {findTool, SkipSignal} from './tools.js'

/** Go on PATH or in /usr/local/go, which the build scripts need. */
export function findGo(): string | undefined {
  return findTool('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined)
}

/**
 * Runs one of the build scripts (cached: seconds; cold: many minutes) and returns the directory it
 * prints. Without Go the test is skipped, and fails under CI=true; a failing build always fails.
 */
export function buildArtifacts(t: TestContext, script: string, env: NodeJS.ProcessEnv = {}): string {
  if (!findGo()) {
    const msg = 'Go is not installed (need Go on PATH or /usr/local/go to build the real binaries)'
    if (process.env.CI) throw new Error(`${msg}; under CI=true a missing tool is a failure, not a skip`)
    t.skip(msg)
    throw new SkipSignal(msg)
  }
  const started = Date.now()
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', script)], {
    encoding: 'utf8',
    env: {...process.env, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`scripts/${script} exited ${r.status}:\n${r.stderr.split('\n').slice(-30).join('\n')}`)
  t.diagnostic(`scripts/${script}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const lines = r.stdout.trim().split('\n')
  const dir = lines[lines.length - 1] ?? ''
  if (!existsSync(dir)) throw new Error(`scripts/${script} printed no directory: ${r.stdout}`)
  return dir
}
