/**
 * SELinux and the endpoint: on the RHEL family the targeted policy keeps haproxy (haproxy_t) and
 * keepalived (keepalived_t) to a few port types, so with SELinux on, haproxy cannot bind the
 * endpoint's port or reach the API servers, and keepalived's check cannot connect, unless
 * haproxy_connect_any and keepalived_connect_any are on. Both are tunables of Fedora/RHEL's policy
 * (fedora-selinux/selinux-policy: policy/modules/contrib/rhcs.te declares
 * gen_tunable(haproxy_connect_any, false), keepalived.te gen_tunable(keepalived_connect_any, false)).
 *
 * The bootstrap program runs its prepare phase in a temporary root with the recording stand-ins
 * (no SELinux policy is loaded on the test machine); the test checks it runs exactly
 * `setsebool -P <boolean> on` for those booleans where they are needed, and nowhere else.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {materialise, readCallLog, standinBin} from '../../support/bootstrap-harness.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-selinux-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function profile(name: string, osId: string, lb: string, selinux: string): string {
  const endpoint = lb === 'external' ? '' : '  controlPlaneEndpoint: {host: 10.40.0.100, port: 6443}\n'
  const lbLine = lb === 'external' ? '' : `  loadBalancer: {type: ${lb}${lb === 'keepalived-haproxy' ? ', apiServerPort: 6444' : ''}}\n`
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: ${name}}
spec:
  kubernetes: {version: 1.34.2}
  os: ${osId}
  selinux: ${selinux}
${endpoint}${lbLine}  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.40.0.10/24}
    - {name: cp-1, role: control-plane, ip: 10.40.0.11/24}
    - {name: cp-2, role: control-plane, ip: 10.40.0.12/24}
    - {name: w-0, role: worker, ip: 10.40.0.20/24}
`
}

async function setseboolCalls(name: string, osId: string, lb: string, selinux: string, node: string): Promise<string[]> {
  const file = path.join(tmp, `${name}.yaml`)
  writeFileSync(file, profile(name, osId, lb, selinux))
  const r = await renderProfile(file)
  const plan = r.nodes.find((n) => n.plan.node === node)!.plan
  const dir = path.join(tmp, `${name}-${node}`)
  const root = materialise(plan, dir)
  const bin = standinBin(dir)
  copyFileSync(path.join(REPO_ROOT, 'test/fixtures/standins/standin.sh'), path.join(bin, 'setsebool'))
  const log = path.join(dir, 'calls.log')
  const run = spawnSync('bash', [path.join(root, 'usr/local/lib/nodegen/bootstrap.sh')], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${bin}:/usr/bin:/bin`,
      NODEGEN_ROOT: root,
      NODEGEN_CONSOLE: '/dev/null',
      NODEGEN_STOP_AFTER: 'prepare',
      NODEGEN_TEST_LOG: log,
      NODEGEN_TEST_FAKE: 'https://127.0.0.1:1',
    },
  })
  assert.equal(run.status, 0, run.stdout + run.stderr)
  return readCallLog(log)
    .map((c) => c.call)
    .filter((c) => c.startsWith('setsebool'))
}

describe('SELinux booleans for the endpoint', () => {
  for (const selinux of ['enforcing', 'permissive']) {
    it(`EL, keepalived-haproxy, ${selinux}: a control plane turns on haproxy_connect_any and keepalived_connect_any, persistently`, async () => {
      assert.deepEqual(await setseboolCalls(`kh-${selinux}`, 'almalinux-9', 'keepalived-haproxy', selinux, 'cp-0'), [
        'setsebool -P haproxy_connect_any on',
        'setsebool -P keepalived_connect_any on',
      ])
    })
  }

  it('EL, keepalived alone: keepalived_connect_any only', async () => {
    assert.deepEqual(await setseboolCalls('k', 'centos-stream-9', 'keepalived', 'enforcing', 'cp-1'), [
      'setsebool -P keepalived_connect_any on',
    ])
  })

  it('no boolean on workers, with kube-vip, with SELinux disabled, or on Debian', async () => {
    assert.deepEqual(await setseboolCalls('kh-w', 'almalinux-9', 'keepalived-haproxy', 'enforcing', 'w-0'), [])
    assert.deepEqual(await setseboolCalls('kv', 'almalinux-9', 'kube-vip', 'enforcing', 'cp-0'), [])
    assert.deepEqual(await setseboolCalls('kh-off', 'almalinux-9', 'keepalived-haproxy', 'disabled', 'cp-0'), [])
    assert.deepEqual(await setseboolCalls('kh-deb', 'debian-12', 'keepalived-haproxy', 'enforcing', 'cp-0'), [])
  })
})
