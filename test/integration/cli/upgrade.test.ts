/**
 * `nodegen upgrade --dry-run` as users run it (the built CLI), over every example profile from the
 * minor before its own: the readable plan and --json; and the refusals with their codes and exit
 * statuses.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {nodegen} from '../../support/cli.js'
import {loadCluster, REPO_ROOT} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-upgrade-cli-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

/** oclif wraps an error message over lines that start with ` ›`: one line again. */
const unwrapped = (stderr: string) => stderr.replace(/\s*\n\s*›\s*/g, ' ')

describe('nodegen upgrade --dry-run', () => {
  const dir = path.join(REPO_ROOT, 'profiles')
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
    it(`plans ${f} from the minor before`, () => {
      const file = path.join(dir, f)
      const cluster = loadCluster(file)
      const from = `1.${cluster.kubernetes.minor - 1}.0`
      const state = path.join(tmp, `${f}.state`)
      const human = nodegen(['upgrade', file, '--dry-run', '--from', from, '--state', state])
      assert.equal(human.status, 0, human.stderr)
      assert.match(
        human.stdout,
        new RegExp(`^upgrade ${cluster.name}: ${from} to ${cluster.kubernetes.version} \\(minor release; ${from} from --from\\)`),
      )
      assert.match(human.stdout, /kubeadm upgrade apply v\S+ --config \/etc\/nodegen\/kubeadm\/upgrade\.yaml --yes/)
      assert.match(human.stdout, /dry run: nothing was changed/)
      const json = nodegen(['upgrade', file, '--dry-run', '--from', from, '--state', state, '--json'])
      assert.equal(json.status, 0, json.stderr)
      const r = JSON.parse(json.stdout) as {dryRun: boolean; plan: {to: string; hash: string; controlPlanes: unknown[]}}
      assert.equal(r.dryRun, true)
      assert.equal(r.plan.to, cluster.kubernetes.version)
      assert.equal(r.plan.controlPlanes.length, cluster.nodes.filter((n) => n.role === 'control-plane').length)
      assert.match(human.stdout, new RegExp(`plan ${r.plan.hash}`), 'the readable plan and --json name the same hash')
    })
  }

  it('refuses a skipped minor, a downgrade and an unknown current version, with their codes (exit 1)', () => {
    const file = path.join(dir, 'quickstart.yaml')
    const state = path.join(tmp, 'refusals.state')
    const skip = nodegen(['upgrade', file, '--dry-run', '--from', '1.32.4', '--state', state])
    assert.equal(skip.status, 1)
    assert.match(unwrapped(skip.stderr), /NG1203: from 1\.32\.4 to 1\.34\.2 skips 1\.33/)
    const down = nodegen(['upgrade', file, '--dry-run', '--from', '1.35.0', '--state', state])
    assert.equal(down.status, 1)
    assert.match(unwrapped(down.stderr), /NG1202: .*downgrade/)
    const unknown = nodegen(['upgrade', file, '--dry-run', '--state', state])
    assert.equal(unknown.status, 1)
    assert.match(unwrapped(unknown.stderr), /NG1205: .*--from VERSION or --kubeconfig FILE/)
  })

  it('without --dry-run needs --kubeconfig (exit 2)', () => {
    const r = nodegen(['upgrade', path.join(dir, 'quickstart.yaml'), '--from', '1.33.5', '--state', path.join(tmp, 'x.state')])
    assert.equal(r.status, 2)
    assert.match(unwrapped(r.stderr), /give --kubeconfig FILE/)
  })

  it('reads the current version from the state when nothing else says it', () => {
    const file = path.join(dir, 'quickstart.yaml')
    const state = path.join(tmp, 'from-state')
    assert.equal(nodegen(['pki', 'init', file, '--state', state]).status, 0)
    const r = nodegen(['upgrade', file, '--dry-run', '--state', state])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^upgrade quickstart: 1\.34\.2 to 1\.34\.2 \(nothing to do; 1\.34\.2 from the state\)/)
  })
})
