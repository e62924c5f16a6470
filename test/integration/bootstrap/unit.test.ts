/**
 * The bootstrap unit as systemd reads it (`systemd-analyze verify`): a one-shot service that
 * systemd starts again after a failed run (Restart=on-failure, which systemd allows for Type=oneshot
 * where it refuses always/on-success), with no start limit, so a node whose run timed out tries
 * again for ever instead of staying failed. The program's ExecStart is pointed at /bin/true for the
 * check (verify wants the command to exist on this machine).
 */
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {buildBootstrapUnits} from '../../../src/plan/bootstrap/index.js'
import {BOOTSTRAP_UNIT} from '../../../src/plan/types.js'
import {loadCluster, PROFILES_DIR} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-unit-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function verify(analyze: string, name: string, content: string) {
  const dir = path.join(tmp, name)
  const file = path.join(dir, BOOTSTRAP_UNIT)
  mkdirSync(dir, {recursive: true})
  writeFileSync(file, content.replace(/^ExecStart=.*$/m, 'ExecStart=/bin/true'))
  return run(analyze, ['verify', file], {allowFail: true})
}

describe('the bootstrap unit', () => {
  for (const profile of ['quickstart.yaml', 'flatcar.yaml']) {
    it(`${profile}: systemd accepts it, restarts a failed run after a pause, with no start limit`, (t) => {
      const analyze = requireTool(t, 'systemd-analyze')
      const cluster = loadCluster(path.join(PROFILES_DIR, profile))
      const unit = buildBootstrapUnits(cluster, cluster.nodes[0]!, true).find((u) => u.name === BOOTSTRAP_UNIT)!
      const content = unit.content!
      assert.match(content, /^Type=oneshot$/m)
      assert.match(content, /^Restart=on-failure$/m)
      assert.match(content, /^RestartSec=\d+s$/m)
      assert.match(content, /^\[Unit\][\s\S]*^StartLimitIntervalSec=0$[\s\S]*^\[Service\]/m)
      const r = verify(analyze, profile, content)
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stderr.trim(), '', 'no warning about any setting')
    })
  }

  it('the check has teeth: systemd refuses a one-shot unit that restarts always', (t) => {
    const analyze = requireTool(t, 'systemd-analyze')
    const cluster = loadCluster(path.join(PROFILES_DIR, 'quickstart.yaml'))
    const content = buildBootstrapUnits(cluster, cluster.nodes[0]!, true)[0]!.content!.replace('Restart=on-failure', 'Restart=always')
    const r = verify(analyze, 'always', content)
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /isn't allowed for Type=oneshot/)
  })
})
