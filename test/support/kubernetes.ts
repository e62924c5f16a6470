/**
 * The real Kubernetes commands the tests judge nodegen's output with, built from the Go module proxy
 * by scripts/build-kubernetes.sh (run by `npm run test:tools`) and cached by version.
 */
import {existsSync, readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {TestContext} from 'node:test'
import {REPO_ROOT} from './profiles.js'
import {SkipSignal} from './tools.js'

export interface KubeVersion {
  version: string
  why: string
}

/** scripts/kubernetes-versions.txt: the releases the test setup builds. */
export function kubeTestVersions(): KubeVersion[] {
  return readFileSync(path.join(REPO_ROOT, 'scripts', 'kubernetes-versions.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [version = '', ...why] = l.split(/\s+/)
      return {version, why: why.join(' ')}
    })
}

export function kubeCacheDir(version: string): string {
  return path.join(process.env.NODEGEN_K8S_CACHE ?? path.join(os.homedir(), '.cache', 'nodegen-k8s'), `v${version}`)
}

/**
 * The real command of that release, or (outside CI) a skipped test; under CI=true a missing binary
 * fails the test. Build them with `npm run test:tools`.
 */
export function requireKubeCommand(t: TestContext, command: string, version: string): string {
  const p = path.join(kubeCacheDir(version), 'bin', command)
  if (existsSync(p)) return p
  const msg = `the real ${command} v${version} is not built (run: npm run test:tools, or scripts/build-kubernetes.sh --version ${version} ${command})`
  if (process.env.CI) throw new Error(`${msg}; under CI=true a missing tool is a failure, not a skip`)
  t.skip(msg)
  throw new SkipSignal(msg)
}
