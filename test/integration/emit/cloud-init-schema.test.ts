import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {emitCloudInit} from '../../../src/emit/cloud-init/index.js'
import {fixturePlan} from '../../support/plan-fixture.js'
import {requireTool, run} from '../../support/tools.js'

describe('cloud-init accepts what the emitter writes', () => {
  it('cloud-init schema --config-file passes', (t) => {
    const ci = requireTool(t, 'cloud-init')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-ci-'))
    try {
      const f = path.join(dir, 'user-data')
      writeFileSync(f, emitCloudInit(fixturePlan()).userData)
      const r = run(ci, ['schema', '--config-file', f], {allowFail: true})
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.match(r.stdout, /Valid cloud-config/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
