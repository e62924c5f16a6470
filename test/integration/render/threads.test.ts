/**
 * A large render spreads its nodes over worker threads: the output must be the same bytes, modes
 * and files as rendering in the main thread, and --no-seed-files must leave out exactly the loose
 * seed files.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {syntheticProfile} from '../../../bench/profiles.js'
import {materialFromSecrets} from '../../../src/app/material.js'
import {render} from '../../../src/app/render.js'
import {loadOrCreateCalendar, loadOrCreateState} from '../../../src/pki/index.js'
import {nodegen} from '../../support/cli.js'
import {FIXTURE_NOW, fixturePkiContext} from '../../support/pki-fixture.js'
import {loadCluster} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-render-threads-'))
const mnt = path.join(tmp, 'small')
let mounted = false
after(() => {
  if (mounted) spawnSync('umount', [mnt])
  rmSync(tmp, {recursive: true, force: true})
})

/** Every file under dir: relative path → mode and content digest. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(path.relative(dir, p), `${(statSync(p).mode & 0o777).toString(8)} ${readFileSync(p).toString('base64')}`)
    }
  }
  walk(dir)
  return out
}

describe('render with worker threads', () => {
  const profile = path.join(tmp, 'cluster.yaml')
  writeFileSync(profile, syntheticProfile(60, 'cloud-init'))
  const state = path.join(tmp, 'state')
  const at = '2026-12-06T00:00:00Z'
  const renderTo = (out: string, threads: string, ...extra: string[]) => {
    const r = nodegen(['render', profile, '-o', out, '--state', state, '--media', 'iso', '--at', at, ...extra], {
      NODEGEN_RENDER_THREADS: threads,
    })
    assert.equal(r.status, 0, r.stderr)
    return tree(out)
  }

  it('writes the same files, bytes and modes as a render in the main thread', () => {
    const serial = renderTo(path.join(tmp, 'serial'), '0')
    const threaded = renderTo(path.join(tmp, 'threaded'), '2')
    assert.equal(serial.size, 60 * 4 + 2)
    assert.deepEqual(threaded, serial)
  })

  it('--no-seed-files writes the media, admin.conf and cluster.json only, the same ISOs', () => {
    const full = tree(path.join(tmp, 'threaded'))
    const only = renderTo(path.join(tmp, 'media-only'), '2', '--no-seed-files')
    assert.deepEqual([...only.keys()].sort(), [...full.keys()].filter((k) => !k.includes('/')).sort())
    for (const [k, v] of only) if (k.endsWith('.iso')) assert.equal(v, full.get(k), k)
    const cluster = JSON.parse(readFileSync(path.join(tmp, 'media-only', 'cluster.json'), 'utf8'))
    assert.deepEqual(cluster.nodes[0].artifacts, ['cp-1.iso'])
  })

  it('a full disk while threads write is one ENOSPC line, and no temporary output is left', (t) => {
    mkdirSync(mnt, {recursive: true})
    // Room for a few of the 60 ISOs (about 70 KB of data each), not for all of them.
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1500k', 'tmpfs', mnt], {encoding: 'utf8'})
    if (m.status !== 0) {
      if (process.env.CI === 'true') assert.fail(`cannot mount a tmpfs (${m.stderr.trim()}): CI must run as root`)
      t.skip(`cannot mount a tmpfs here (${m.stderr.trim()}): needs root with CAP_SYS_ADMIN`)
      return
    }
    mounted = true
    const r = nodegen(['render', profile, '-o', path.join(mnt, 'out'), '--state', state, '--media', 'iso', '--no-seed-files'], {
      NODEGEN_RENDER_THREADS: '2',
    })
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr.replace(/\s*\n\s*›\s*/g, ' '), /cannot write the output to \S+: ENOSPC/)
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/)
    assert.deepEqual(readdirSync(mnt), [], 'the half-written temporary output was removed')
  })
})

describe('render() from the sources', () => {
  it('runs its worker threads from the TypeScript sources too, with the same output', async () => {
    const profile = path.join(tmp, 'src.yaml')
    writeFileSync(profile, syntheticProfile(50, 'ignition'))
    const cluster = loadCluster(profile)
    const dir = path.join(tmp, 'src-state')
    const {secrets} = await loadOrCreateState(dir, cluster, fixturePkiContext())
    const calendar = await loadOrCreateCalendar(dir, fixturePkiContext({seed: 'calendar'}))
    const material = materialFromSecrets(cluster, secrets, calendar, FIXTURE_NOW)
    const outputs: Array<Map<string, string>> = []
    for (const threads of ['0', '2']) {
      process.env.NODEGEN_RENDER_THREADS = threads
      const outDir = path.join(tmp, `src-${threads}`)
      const r = await render({cluster, profilePath: profile, outDir, material, adminConf: 'admin', media: 'configdrive', epoch: 1})
      assert.equal(r.nodes.length, 50)
      outputs.push(tree(outDir))
    }
    delete process.env.NODEGEN_RENDER_THREADS
    assert.deepEqual(outputs[1], outputs[0])
  })
})
