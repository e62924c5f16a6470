/**
 * Golden files for the example profiles with a committed fixture state (fixed clock, fixed keys):
 * the quickstart's user-data, meta-data and network-config per node, and profiles/flatcar.yaml's
 * config.ign per node (the exact bytes) beside an index of what each config writes (path, mode,
 * owner, size, SHA-256 of the content; units and links), which is what a reviewer reads. The render
 * tests beside this one check what the files mean; this one shows every change to them in review.
 * Regenerate with UPDATE_GOLDEN=1.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {gunzipSync} from 'node:zlib'
import {copyFixtureState, type FixtureCluster} from '../support/pki-fixture.js'
import {PROFILES_DIR, REPO_ROOT} from '../support/profiles.js'
import {cloudInit, renderProfile} from '../support/render.js'

const update = process.env.UPDATE_GOLDEN === '1'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-golden-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function compare(golden: string, files: Array<[string, string | Buffer]>): void {
  for (const [rel, content] of files) {
    const p = path.join(golden, rel)
    if (update) {
      mkdirSync(path.dirname(p), {recursive: true})
      writeFileSync(p, content)
      continue
    }
    assert.ok(existsSync(p), `${rel} has no golden file (run with UPDATE_GOLDEN=1)`)
    assert.equal(
      Buffer.from(content).toString(),
      readFileSync(p, 'utf8'),
      `${rel} differs from its golden file (UPDATE_GOLDEN=1 to accept)`,
    )
  }
}

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

describe('golden: quickstart', () => {
  it('matches test/golden/quickstart/ byte for byte', async () => {
    const r = await render('quickstart')
    const files: Array<[string, string | Buffer]> = []
    for (const n of r.nodes) {
      const ci = cloudInit(n)
      files.push([`${n.plan.node}/user-data`, ci.userData], [`${n.plan.node}/meta-data`, ci.metaData])
      if (ci.networkConfig !== undefined) files.push([`${n.plan.node}/network-config`, ci.networkConfig])
    }
    compare(path.join(REPO_ROOT, 'test', 'golden', 'quickstart'), files)
  })
})

describe('golden: flatcar', () => {
  it('matches test/golden/flatcar/ byte for byte (config.ign and its index)', async () => {
    const r = await render('flatcar')
    const files: Array<[string, string | Buffer]> = []
    for (const n of r.nodes) {
      assert.equal(n.format, 'ignition', n.plan.node)
      if (n.format !== 'ignition') continue
      files.push([`${n.plan.node}/config.ign`, n.ignition], [`${n.plan.node}/index.txt`, ignitionIndex(JSON.parse(n.ignition.toString()))])
    }
    compare(path.join(REPO_ROOT, 'test', 'golden', 'flatcar'), files)
  })
})
