/**
 * PKI test support: a fixed clock, a seeded random source and a key pool, so tests issue whole
 * certificate sets in milliseconds (RSA-4096 key generation takes a second or more per key), and the
 * committed fixture states under test/fixtures/state/.
 *
 * Regenerate the fixture states (they are committed; later golden tests read them), all or some:
 *   npx tsx test/support/pki-fixture.ts regenerate [quickstart|ha-external-etcd|flatcar...]
 */
import {createHash} from 'node:crypto'
import {chmodSync, cpSync, readdirSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {generateKeyPair, loadOrCreateState, type PkiContext} from '../../src/pki/index.js'
import type {CryptoKeyPair} from '../../src/pki/types.js'
import type {Cluster, KeyAlgorithm} from '../../src/profile/index.js'
import {loadCluster, REPO_ROOT} from './profiles.js'

/** The fixture states' clock. */
export const FIXTURE_NOW = new Date('2026-01-01T00:00:00Z')
export const FIXTURE_STATES_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'state')
/** Cluster names of the committed fixture states (each has `_profiles/<name>.yaml`). */
export const FIXTURE_CLUSTERS = ['quickstart', 'ha-external-etcd', 'flatcar'] as const
export type FixtureCluster = (typeof FIXTURE_CLUSTERS)[number]

export function fixtureProfilePath(name: FixtureCluster): string {
  return path.join(FIXTURE_STATES_DIR, '_profiles', `${name}.yaml`)
}

export function fixtureCluster(name: FixtureCluster): Cluster {
  return loadCluster(fixtureProfilePath(name))
}

export function fixtureStateDir(name: FixtureCluster): string {
  return path.join(FIXTURE_STATES_DIR, name)
}

/**
 * Copies a committed fixture state to `dest` with the modes a real state has (git keeps no modes),
 * so tests never write into the fixture itself.
 */
export function copyFixtureState(name: FixtureCluster, dest: string): string {
  cpSync(fixtureStateDir(name), dest, {recursive: true})
  const fix = (p: string) => {
    const st = statSync(p)
    chmodSync(p, st.isDirectory() ? 0o700 : 0o600)
    if (st.isDirectory()) for (const e of readdirSync(p)) fix(path.join(p, e))
  }
  fix(dest)
  return dest
}

/** A deterministic byte source (SHA-256 in counter mode): the same seed gives the same bytes. */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  let counter = 0
  let buf = Buffer.alloc(0)
  return (n) => {
    while (buf.length < n) {
      buf = Buffer.concat([buf, createHash('sha256').update(`${seed}:${counter++}`).digest()])
    }
    const out = buf.subarray(0, n)
    buf = buf.subarray(n)
    return new Uint8Array(out)
  }
}

const poolCache = new Map<KeyAlgorithm, Promise<CryptoKeyPair>[]>()

function pooled(alg: KeyAlgorithm, i: number): Promise<CryptoKeyPair> {
  let keys = poolCache.get(alg)
  if (!keys) {
    keys = []
    poolCache.set(alg, keys)
  }
  while (keys.length <= i) keys.push(generateKeyPair(alg))
  return keys[i] as Promise<CryptoKeyPair>
}

/**
 * Key generation from a process-wide pool: the first three keys a context asks for (the three CAs,
 * which issueClusterPki makes first) are distinct, later ones cycle through `leafKeys` others. So
 * no leaf shares its CA's key, and a whole set costs six key generations per algorithm per process.
 * The pool is shared by every context of the process: two states made from it have CAs with the
 * same keys (and names), which verify each other's certificates. A test that needs a *different*
 * CA uses `freshKeys`.
 */
export function keyPool(leafKeys = 3): (alg: KeyAlgorithm) => Promise<CryptoKeyPair> {
  let n = 0
  return (alg) => {
    const i = n < 3 ? n : 3 + ((n - 3) % leafKeys)
    n++
    return pooled(alg, i)
  }
}

/** Starts generating the pool's keys for an algorithm in the background (RSA-4096 is slow). */
export function warmKeyPool(alg: KeyAlgorithm, leafKeys = 3): Promise<unknown> {
  return Promise.all(Array.from({length: 3 + leafKeys}, (_, i) => pooled(alg, i)))
}

export interface FixtureContextOptions {
  /** @default FIXTURE_NOW */
  now?: Date
  /** Seed of the random source (serials, tokens). @default 'nodegen-test' */
  seed?: string
  passphrase?: string
  /** Fresh keys for every certificate instead of the pool. @default false */
  freshKeys?: boolean
}

/** A fast, deterministic-ish context: fixed clock, seeded randomness, pooled keys. */
export function fixturePkiContext(o: FixtureContextOptions = {}): PkiContext {
  return {
    now: o.now ?? FIXTURE_NOW,
    generateKey: o.freshKeys ? generateKeyPair : keyPool(),
    randomBytes: seededRandom(o.seed ?? 'nodegen-test'),
    ...(o.passphrase !== undefined ? {passphrase: o.passphrase} : {}),
  }
}

/** The cluster with another key algorithm (the fixture profiles use RSA-2048). */
export function withKeyAlgorithm(c: Cluster, keyAlgorithm: KeyAlgorithm): Cluster {
  return {...c, pki: {...c.pki, keyAlgorithm}}
}

/** Rewrites the committed fixture states (all, or the named ones): fixed clock, fresh keys, seeded serials and tokens. */
export async function regenerateFixtureStates(names: readonly FixtureCluster[] = FIXTURE_CLUSTERS): Promise<void> {
  for (const name of names) {
    const dir = fixtureStateDir(name)
    rmSync(dir, {recursive: true, force: true})
    const r = await loadOrCreateState(dir, fixtureCluster(name), fixturePkiContext({seed: `fixture-${name}`, freshKeys: true}))
    process.stdout.write(`${path.relative(REPO_ROOT, dir)}: ${r.secrets.caCertHash}\n`)
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv[2] === 'regenerate') {
  const names = process.argv.slice(3)
  const unknown = names.filter((n) => !(FIXTURE_CLUSTERS as readonly string[]).includes(n))
  if (unknown.length > 0) throw new Error(`no fixture state named ${unknown.join(', ')} (have: ${FIXTURE_CLUSTERS.join(', ')})`)
  await regenerateFixtureStates(names.length > 0 ? (names as FixtureCluster[]) : FIXTURE_CLUSTERS)
}
