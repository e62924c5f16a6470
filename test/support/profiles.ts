import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {type Cluster, loadProfile} from '../../src/profile/index.js'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const PROFILES_DIR = path.join(REPO_ROOT, 'profiles')

export function exampleProfiles(): string[] {
  return readdirSync(PROFILES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(PROFILES_DIR, f))
}

/** Loads a profile that must be valid; throws with every diagnostic otherwise. */
export function loadCluster(file: string, text?: string): Cluster {
  const r = loadProfile(text ?? readFileSync(file), path.relative(REPO_ROOT, file))
  if (!r.cluster)
    throw new Error(`${file} is invalid:\n${r.diagnostics.map((d) => `${d.code} ${d.path.join('.')}: ${d.message}`).join('\n')}`)
  return r.cluster
}

export function profileText(name: string): string {
  return readFileSync(path.join(PROFILES_DIR, name), 'utf8')
}
