/** Large profiles load in a thread of their own: the result must be the one loading in place gives. */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {syntheticProfile} from '../../../bench/profiles.js'
import {loadProfileFile, readProfile} from '../../../src/app/profile-file.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-profile-file-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

describe('loadProfileFile', () => {
  const large = path.join(tmp, 'large.yaml')
  writeFileSync(large, syntheticProfile(2500, 'cloud-init'))

  it('loads a large profile in a thread, to the same cluster as loading it in place', async () => {
    assert.ok(statSync(large).size > 64 * 1024, 'the profile is large enough to load in a thread')
    const threaded = await loadProfileFile(large)
    assert.equal(threaded.cluster?.nodes.length, 2500)
    assert.deepEqual(threaded, readProfile(large))
  })

  it('reports a large profile’s problems with the same positions', async () => {
    const broken = path.join(tmp, 'broken.yaml')
    writeFileSync(broken, syntheticProfile(2500, 'cloud-init').replace('ip: 10.0.3.242/16', 'ip: 10.0.3.999/16'))
    const threaded = await loadProfileFile(broken)
    assert.equal(threaded.cluster, undefined)
    assert.ok(threaded.diagnostics.some((d) => d.severity === 'error' && (d.position?.line ?? 0) > 1000))
    assert.deepEqual(threaded, readProfile(broken))
  })

  it('loads a small profile in place, and a missing one is a diagnostic', async () => {
    const small = path.join(tmp, 'small.yaml')
    writeFileSync(small, syntheticProfile(5, 'cloud-init'))
    assert.deepEqual(await loadProfileFile(small), readProfile(small))
    const missing = await loadProfileFile(path.join(tmp, 'missing.yaml'))
    assert.equal(missing.diagnostics[0]?.code, 'NG0001')
  })
})
