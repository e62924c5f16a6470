/**
 * Golden files for the quickstart: every node's user-data, meta-data and network-config, rendered
 * from profiles/quickstart.yaml with the committed fixture state (fixed clock, fixed keys). The
 * render tests beside this one check what the files mean; this one shows every change to them in
 * review. Regenerate with UPDATE_GOLDEN=1.
 */
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {copyFixtureState} from '../support/pki-fixture.js'
import {PROFILES_DIR, REPO_ROOT} from '../support/profiles.js'
import {renderProfile} from '../support/render.js'

const GOLDEN = path.join(REPO_ROOT, 'test', 'golden', 'quickstart')
const update = process.env.UPDATE_GOLDEN === '1'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-golden-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

describe('golden: quickstart', () => {
  it('matches test/golden/quickstart/ byte for byte', async () => {
    const state = copyFixtureState('quickstart', path.join(tmp, 'state'))
    const r = await renderProfile(path.join(PROFILES_DIR, 'quickstart.yaml'), state)
    const files: Array<[string, string | Buffer]> = []
    for (const n of r.nodes) {
      files.push([`${n.plan.node}/user-data`, n.ci.userData], [`${n.plan.node}/meta-data`, n.ci.metaData])
      if (n.ci.networkConfig !== undefined) files.push([`${n.plan.node}/network-config`, n.ci.networkConfig])
    }
    for (const [rel, content] of files) {
      const p = path.join(GOLDEN, rel)
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
  })
})
