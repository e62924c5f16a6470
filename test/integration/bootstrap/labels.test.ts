/**
 * labels.sh, the control planes' labeller, run for real with recording kubectl/systemctl stand-ins:
 * it labels the nodes that have registered, keeps its timer while a node is missing, and stops the
 * timer (systemctl disable --now) once every node of labels.tsv is labelled.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {REPO_ROOT} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-labels-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const KUBECTL = `#!/bin/sh
echo "kubectl $*" >>"$CALLS"
# "get node NAME" answers for the nodes listed in $REGISTERED only.
if [ "$3" = get ] && [ "$4" = node ]; then grep -qx "$5" "$REGISTERED"; exit $?; fi
exit 0
`
const SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >>"$CALLS"
`

function labeller(registered: string[]) {
  const dir = mkdtempSync(path.join(tmp, 'run-'))
  const bin = path.join(dir, 'bin')
  mkdirSync(bin)
  for (const [name, body] of [
    ['kubectl', KUBECTL],
    ['systemctl', SYSTEMCTL],
  ] as const) {
    writeFileSync(path.join(bin, name), body)
    chmodSync(path.join(bin, name), 0o755)
  }
  writeFileSync(path.join(dir, 'labels.tsv'), 'w-0\tnode-role.kubernetes.io/worker\t\nw-1\tzone\ta\n')
  writeFileSync(path.join(dir, 'admin.conf'), '')
  writeFileSync(path.join(dir, 'registered'), registered.map((n) => `${n}\n`).join(''))
  const calls = path.join(dir, 'calls')
  writeFileSync(calls, '')
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'assets/bootstrap/labels.sh')], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${bin}:/usr/bin:/bin`,
      NODEGEN_LABELS: path.join(dir, 'labels.tsv'),
      NODEGEN_KUBECONFIG: path.join(dir, 'admin.conf'),
      CALLS: calls,
      REGISTERED: path.join(dir, 'registered'),
    },
  })
  assert.equal(r.status, 0, r.stderr)
  return {out: r.stdout, calls: readFileSync(calls, 'utf8').trim().split('\n')}
}

describe('the labeller', () => {
  it('labels the registered nodes and keeps its timer while one is missing', () => {
    const {out, calls} = labeller(['w-0'])
    assert.match(out, /1 label\(s\) wait for their node to register/)
    assert.ok(calls.some((c) => /label --overwrite node w-0 node-role\.kubernetes\.io\/worker=$/.test(c)))
    assert.ok(!calls.some((c) => c.startsWith('systemctl')), calls.join('\n'))
  })

  it('stops its timer once every node is labelled', () => {
    const {out, calls} = labeller(['w-0', 'w-1'])
    assert.match(out, /every node labelled/)
    assert.ok(calls.some((c) => /label --overwrite node w-1 zone=a$/.test(c)))
    assert.deepEqual(
      calls.filter((c) => c.startsWith('systemctl')),
      ['systemctl disable --now nodegen-labels.timer'],
    )
  })
})
