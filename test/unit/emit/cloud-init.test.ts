import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {describe, it} from 'node:test'
import {gunzipSync} from 'node:zlib'
import {parse} from 'yaml'
import {fitUserData, isBudgetProblem} from '../../../src/emit/budget.js'
import {emitCloudInit} from '../../../src/emit/cloud-init/index.js'
import {fixturePlan} from '../../support/plan-fixture.js'

/** PyYAML reads YAML 1.1: parse the way cloud-init will. */
const parse11 = (s: string) => parse(s, {version: '1.1'})

describe('cloud-init emitter', () => {
  it('writes every file as its own write_files entry with quoted octal permissions', () => {
    const out = emitCloudInit(fixturePlan())
    const text = out.userData.toString()
    assert.ok(text.startsWith('#cloud-config\n'))
    const cfg = parse11(text)
    const byPath = new Map(cfg.write_files.map((f: {path: string}) => [f.path, f]))
    const key = byPath.get('/etc/kubernetes/pki/ca.key') as Record<string, unknown>
    assert.equal(key.permissions, '0600')
    assert.equal(key.owner, 'root:root')
    assert.match(text, /permissions: "0600"|permissions: '0600'/)
    assert.equal((byPath.get('/usr/local/lib/nodegen/bootstrap.sh') as Record<string, unknown>).permissions, '0755')
    // YAML 1.1 traps survive as strings
    assert.equal((byPath.get('/etc/nodegen/yaml-1.1-traps') as Record<string, unknown>).content, 'yes')
    assert.equal((byPath.get('/etc/nodegen/bootstrap.env') as Record<string, unknown>).content, 'NODE_NAME=cp-1\nA=yes\nB=0600\nC=on\n')
    // a file owned by a user cloud-init creates waits for it
    assert.equal((byPath.get('/home/ops/.config/x') as Record<string, unknown>).defer, true)
    // units and drop-ins become files; the bootstrap unit is started by systemd, not by a long runcmd
    assert.ok(byPath.has('/etc/systemd/system/nodegen-bootstrap.service'))
    assert.ok(byPath.has('/etc/systemd/system/containerd.service.d/10-proxy.conf'))
    assert.deepEqual(cfg.runcmd, [
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--no-reload', 'containerd.service', 'nodegen-bootstrap.service'],
      ['systemctl', 'start', '--no-block', 'nodegen-bootstrap.service'],
    ])
    assert.equal(cfg.hostname, 'cp-1')
    assert.equal(cfg.users[0].name, 'ops')
    assert.equal(cfg.users[0].lock_passwd, true)
  })

  it('writes network-config version 2 with static addressing matched by MAC', () => {
    const out = emitCloudInit(fixturePlan())
    const net = parse11(out.networkConfig as string)
    assert.deepEqual(net, {
      version: 2,
      ethernets: {
        eth0: {
          match: {macaddress: '52:54:00:00:00:01'},
          'set-name': 'eth0',
          addresses: ['10.0.0.10/24'],
          gateway4: '10.0.0.1',
          nameservers: {addresses: ['10.0.0.1'], search: ['example.com']},
        },
      },
    })
  })

  it('meta-data carries a stable instance-id that changes with the content', () => {
    const a = emitCloudInit(fixturePlan())
    const b = emitCloudInit(fixturePlan())
    const c = emitCloudInit(fixturePlan({hostname: 'cp-2', node: 'cp-1'}))
    assert.equal(a.instanceId, b.instanceId)
    assert.notEqual(a.instanceId, c.instanceId)
    assert.deepEqual(parse11(a.metaData), {'instance-id': a.instanceId, 'local-hostname': 'cp-1'})
    assert.ok(a.userData.equals(b.userData))
  })

  it('fits the EC2 budget with gzip, and names the largest parts when even that is too big', () => {
    const plan = fixturePlan({sizeBudget: 16384})
    plan.files.push({path: '/etc/big', content: 'abc\n'.repeat(10000), mode: 0o644, owner: 'root:root', secret: false, origin: 'test'})
    const raw = emitCloudInit(plan).userData
    const fitted = fitUserData(raw, plan, 'aws')
    assert.ok(!isBudgetProblem(fitted))
    assert.equal(fitted.encoding, 'gzip')
    assert.ok(fitted.size <= 16384)
    assert.ok(gunzipSync(fitted.data).equals(raw))
    const gcp = fitUserData(raw, {...plan, sizeBudget: 20000}, 'gcp')
    assert.ok(!isBudgetProblem(gcp))
    assert.equal(gcp.encoding, 'gzip+base64')
    assert.ok(gunzipSync(Buffer.from(gcp.data.toString(), 'base64')).equals(raw))
    const rnd = Buffer.concat(Array.from({length: 1300}, (_, i) => createHash('sha256').update(String(i)).digest()))
    plan.files.push({path: '/etc/random', content: rnd.toString('base64'), mode: 0o644, owner: 'root:root', secret: false, origin: 'test'})
    const over = fitUserData(emitCloudInit(plan).userData, plan, 'aws')
    assert.ok(isBudgetProblem(over))
    assert.equal(over.node, 'cp-1')
    assert.equal(over.largest[0]?.path, '/etc/random')
  })
})
