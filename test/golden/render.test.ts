/**
 * Golden files for the example profiles with a committed fixture state (fixed clock, fixed keys):
 * the quickstart's user-data, meta-data and network-config per node, and profiles/flatcar.yaml's
 * Ignition config per node (as indented JSON) beside an index of what each config writes (path,
 * mode, owner, size, SHA-256 of the content; units and links), which is what a reviewer reads.
 * nodegen's programs, the same on every node, are kept once in `_programs/` and each node's golden
 * names them with their SHA-256 (test/support/golden.ts). The render tests beside this one check
 * what the files mean; this one shows every change to them in review. Regenerate with
 * UPDATE_GOLDEN=1.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {gunzipSync} from 'node:zlib'
import {parse} from 'yaml'
import {matchGolden, programGoldens, programReference, referencePrograms, sharedPrograms} from '../support/golden.js'
import {copyFixtureState, type FixtureCluster} from '../support/pki-fixture.js'
import {PROFILES_DIR, REPO_ROOT} from '../support/profiles.js'
import {cloudInit, renderProfile} from '../support/render.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-golden-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

async function render(name: FixtureCluster) {
  const state = copyFixtureState(name, path.join(tmp, name, name))
  return renderProfile(path.join(PROFILES_DIR, `${name}.yaml`), state)
}

interface IgnitionConfig {
  storage: {
    files: Array<{
      path: string
      mode: number
      user: {name: string}
      group: {name: string}
      contents: {source: string; compression?: string}
    }>
    directories: Array<{path: string; mode: number}>
    links?: Array<{path: string; target: string}>
  }
  systemd: {units: Array<{name: string; enabled?: boolean; mask?: boolean; dropins?: Array<{name: string}>}>}
  passwd?: {users: Array<{name: string; sshAuthorizedKeys?: string[]; groups?: string[]}>}
}

/** What an Ignition config writes, one line each: the reviewable side of config.ign. */
export function ignitionIndex(config: IgnitionConfig): string {
  const lines: string[] = []
  const octal = (m: number) => `0${m.toString(8)}`
  for (const u of config.passwd?.users ?? [])
    lines.push(`user ${u.name} keys=${u.sshAuthorizedKeys?.length ?? 0}${u.groups ? ` groups=${u.groups.join(',')}` : ''}`)
  for (const d of config.storage.directories) lines.push(`dir  ${octal(d.mode)} ${d.path}`)
  for (const f of config.storage.files) {
    const src = f.contents.source
    let what: string
    if (src.startsWith('data:')) {
      const raw = Buffer.from(src.slice(src.indexOf(',') + 1), 'base64')
      const data = f.contents.compression === 'gzip' ? gunzipSync(raw) : raw
      what = `${data.length} B sha256:${createHash('sha256').update(data).digest('hex').slice(0, 16)}${f.contents.compression ? ' (gzip)' : ''}`
    } else what = `from ${src}`
    lines.push(`file ${octal(f.mode)} ${f.user.name}:${f.group.name} ${f.path} ${what}`)
  }
  for (const l of config.storage.links ?? []) lines.push(`link ${l.path} -> ${l.target}`)
  for (const u of config.systemd.units)
    lines.push(
      `unit ${u.name}${u.enabled ? ' enabled' : ''}${u.mask ? ' masked' : ''}${u.dropins ? ` dropins=${u.dropins.map((d) => d.name).join(',')}` : ''}`,
    )
  return `${lines.join('\n')}\n`
}

/** A cloud-init node's write_files, path → content (all of nodegen's are plain text). */
function writeFiles(userData: string): Map<string, string> {
  const doc = parse(userData) as {write_files: Array<{path: string; content: string; encoding?: string}>}
  const out = new Map<string, string>()
  for (const f of doc.write_files) {
    assert.equal(f.encoding, undefined, `${f.path}: an encoded file in user-data`)
    out.set(f.path, f.content)
  }
  return out
}

/** An Ignition file's content, decoded from its data URL (undefined for a remote source). */
function ignitionContent(f: IgnitionConfig['storage']['files'][number]): string | undefined {
  const src = f.contents.source
  if (!src.startsWith('data:')) return undefined
  const raw = Buffer.from(src.slice(src.indexOf(',') + 1), 'base64')
  return (f.contents.compression === 'gzip' ? gunzipSync(raw) : raw).toString()
}

describe('golden: quickstart', () => {
  it('matches test/golden/quickstart/ (programs once, in _programs/)', async () => {
    const r = await render('quickstart')
    const nodes = r.nodes.map((n) => ({node: n.plan.node, ci: cloudInit(n), files: writeFiles(cloudInit(n).userData.toString())}))
    const programs = sharedPrograms(
      nodes.map((n) => n.files),
      '/usr/local/lib/nodegen/',
    )
    assert.ok(programs.has('/usr/local/lib/nodegen/bootstrap.sh'), 'bootstrap.sh is not the same on every node')
    const files: Array<[string, string]> = programGoldens(programs)
    for (const {node, ci, files: written} of nodes) {
      files.push([`${node}/user-data`, referencePrograms(ci.userData.toString(), written, programs)], [`${node}/meta-data`, ci.metaData])
      if (ci.networkConfig !== undefined) files.push([`${node}/network-config`, ci.networkConfig])
    }
    matchGolden(path.join(REPO_ROOT, 'test', 'golden', 'quickstart'), files)
  })
})

describe('golden: flatcar', () => {
  it('matches test/golden/flatcar/ (config.json and its index, programs once, in _programs/)', async () => {
    const r = await render('flatcar')
    const configs: Array<{node: string; config: IgnitionConfig}> = []
    for (const n of r.nodes) {
      assert.equal(n.format, 'ignition', n.plan.node)
      if (n.format === 'ignition') configs.push({node: n.plan.node, config: JSON.parse(n.ignition.toString()) as IgnitionConfig})
    }
    const contents = configs.map(
      ({config}) =>
        new Map(
          config.storage.files
            .flatMap((f) => [[f.path, ignitionContent(f)] as const])
            .filter((e): e is [string, string] => e[1] !== undefined),
        ),
    )
    const programs = sharedPrograms(contents, '/opt/nodegen/')
    assert.ok(programs.has('/opt/nodegen/bootstrap.sh'), 'bootstrap.sh is not the same on every node')
    const files: Array<[string, string]> = programGoldens(programs)
    for (const {node, config} of configs) {
      const index = ignitionIndex(config)
      for (const f of config.storage.files) {
        const shared = programs.get(f.path)
        if (shared === undefined) continue
        assert.equal(ignitionContent(f), shared, `${node} ${f.path}: not the shared program`)
        f.contents = {...f.contents, source: programReference(f.path, shared)}
      }
      files.push([`${node}/config.json`, `${JSON.stringify(config, null, 2)}\n`], [`${node}/index.txt`, index])
    }
    matchGolden(path.join(REPO_ROOT, 'test', 'golden', 'flatcar'), files)
  })
})
