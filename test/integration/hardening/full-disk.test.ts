/** A full disk during render is a clear error, and the previous output stays whole. */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {nodegen} from '../../support/cli.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-fulldisk-'))
const mnt = path.join(tmp, 'small')
let mounted = false

after(() => {
  if (mounted) spawnSync('umount', [mnt])
  rmSync(tmp, {recursive: true, force: true})
})

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e)
      if (statSync(p).isDirectory()) walk(p)
      else out[path.relative(dir, p)] = readFileSync(p).toString('base64')
    }
  }
  walk(dir)
  return out
}

describe('full disk', () => {
  it('render into a filesystem with room for one output only: ENOSPC is one line, the previous output is intact', (t) => {
    spawnSync('mkdir', ['-p', mnt])
    // A small tmpfs: room for one quickstart render (about 700 KB with ISOs), not for a second beside it.
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1100k', 'tmpfs', mnt], {encoding: 'utf8'})
    if (m.status !== 0) {
      t.skip(`cannot mount a tmpfs here (${m.stderr.trim()}): needs root with CAP_SYS_ADMIN`)
      return
    }
    mounted = true
    const state = path.join(tmp, 'state')
    const out = path.join(mnt, 'out')
    const first = nodegen(['render', '-o', out, '--state', state, '--media', 'iso'])
    assert.equal(first.status, 0, first.stderr)
    const before = snapshot(out)
    const second = nodegen(['render', '-o', out, '--state', state, '--media', 'iso'])
    assert.equal(second.status, 1, 'a second render cannot fit beside the first')
    const message = second.stderr.replace(/\s*\n\s*›\s*/g, ' ')
    assert.match(message, /cannot write the output to \S+: ENOSPC/)
    assert.match(message, /previous output, if any, is unchanged/)
    assert.doesNotMatch(second.stderr, /at .*\.js:\d+/)
    assert.deepEqual(snapshot(out), before)
    assert.deepEqual(
      readdirSync(mnt).filter((e) => e !== 'out'),
      [],
      'the half-written temporary output was removed',
    )
  })
})
