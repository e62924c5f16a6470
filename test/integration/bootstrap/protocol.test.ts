/**
 * The bootstrap protocol, run for real: five bootstrap programs (3 control planes, 2 workers) in
 * temporary roots, concurrently, against recording stand-ins for kubeadm/kubectl/systemctl and a
 * fake endpoint and etcd. Checks the ordering, the waits, retries after reset, the reports, and
 * that a second run after success does nothing.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {loadAssets} from '../../../src/app/assets.js'
import {deriveWindowToken, windowOf} from '../../../src/pki/index.js'
import {buildNodePlan, type ClusterMaterial} from '../../../src/plan/build.js'
import type {Cluster} from '../../../src/profile/index.js'
import {FakeCluster, makeTestCa, materialise, readCallLog, runBootstrap, standinBin, type TestCa} from '../../support/bootstrap-harness.js'
import {loadCluster} from '../../support/profiles.js'
import {findTool} from '../../support/tools.js'

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

function profile(opts: {port: number; baked: boolean; lb?: string; cni?: string}): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: proto}
spec:
  kubernetes: {version: 1.34.2}
  os: almalinux-9
  controlPlaneEndpoint: {host: 127.0.0.100, port: ${opts.port}}
  loadBalancer: {type: ${opts.lb ?? 'keepalived-haproxy'}, apiServerPort: ${opts.port}${opts.lb === 'kube-vip' ? ', interface: lo' : ''}}
  image: {baked: ${opts.baked}}
  bootstrap: {timeout: 60s}
  networking: {cni: ${opts.cni ?? '{type: flannel, manifestFile: flannel.yaml}'}}
  nodes:
    - {name: cp0, role: control-plane, ip: 127.0.0.110/24}
    - {name: cp1, role: control-plane, ip: 127.0.0.111/24}
    - {name: cp2, role: control-plane, ip: 127.0.0.112/24}
    - {name: w0, role: worker, ip: 127.0.0.120/24, labels: {node-role.kubernetes.io/worker: ""}}
    - {name: w1, role: worker, ip: 127.0.0.121/24}
`
}

const CALENDAR_SECRET = 'c0ffee'.repeat(11).slice(0, 64)

function material(ca: TestCa, at?: number): ClusterMaterial {
  const calendar = at === undefined ? {} : calendarMaterial(at)
  return {
    caCert: ca.caCert,
    caCertHash: `sha256:${'0'.repeat(64)}`,
    token: 'abcdef.0123456789abcdef',
    tokenTtlSeconds: 86400,
    ...calendar,
    pkiFiles: (node) =>
      node.role === 'control-plane'
        ? [
            {path: '/etc/kubernetes/pki/etcd/ca.crt', content: ca.caCert, mode: 0o600, secret: false},
            {path: '/etc/kubernetes/pki/etcd/ca.key', content: ca.caKey, mode: 0o600, secret: true},
          ]
        : [],
  }
}

function calendarMaterial(at: number): Pick<ClusterMaterial, 'token' | 'tokenTtlSeconds' | 'nextToken' | 'calendar'> {
  const w = windowOf(at, 86400)
  return {
    token: deriveWindowToken(CALENDAR_SECRET, w, 86400).token,
    tokenTtlSeconds: 86400,
    nextToken: {token: deriveWindowToken(CALENDAR_SECRET, w + 1, 86400).token, from: (w + 1) * 86400},
    calendar: {secret: CALENDAR_SECRET, windowSeconds: 86400, windowsAhead: 2},
  }
}

const BAKED = '{"schema": 1, "os": "almalinux-9", "kubernetesVersion": "1.34.2", "containerRuntime": "containerd"}\n'

describe('the bootstrap protocol', {skip: !findTool('openssl') || !findTool('curl') ? 'openssl/curl missing' : false}, () => {
  let ca: TestCa
  let tmp: string
  before(() => {
    if (process.env.CI && (!findTool('openssl') || !findTool('curl'))) throw new Error('openssl and curl are required under CI=true')
    ca = makeTestCa(['127.0.0.1', '127.0.0.100', '127.0.0.110', '127.0.0.111', '127.0.0.112'])
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-proto-'))
  })
  after(() => {
    rmSync(tmp, {recursive: true, force: true})
    rmSync(ca.dir, {recursive: true, force: true})
  })

  async function setup(name: string, opts: {baked?: boolean; lb?: string; cni?: string; at?: (node: string) => number | undefined} = {}) {
    const dir = path.join(tmp, name)
    const port = await freePort('127.0.0.100')
    const etcdPort = await freePort('127.0.0.110')
    const text = profile({port, baked: opts.baked ?? true, lb: opts.lb, cni: opts.cni})
    const cluster: Cluster = loadCluster(path.join(dir, 'proto.yaml'), text)
    const fake = new FakeCluster(ca)
    await fake.listen('127.0.0.100', port)
    await fake.listen('127.0.0.110', etcdPort)
    const log = path.join(dir, 'calls.log')
    const tokens = path.join(dir, 'tokens.registry')
    const bin = standinBin(dir)
    const roots = cluster.nodes.map((n) => {
      const plan = buildNodePlan(cluster, n, {
        assets: loadAssets(),
        material: material(ca, opts.at?.(n.name)),
        cniManifest: 'kind: ConfigMap # net-conf 10.244.0.0/16\n',
      })
      const root = materialise(plan, dir)
      if (opts.baked ?? true) writeFileSync(path.join(root, 'etc/nodegen/image.json'), BAKED)
      return root
    })
    const env = {
      PATH: `${bin}:${process.env.PATH}`,
      NODEGEN_TEST_LOG: log,
      NODEGEN_TEST_TOKENS: tokens,
      NODEGEN_TEST_FAKE: `https://127.0.0.100:${port}`,
      NODEGEN_ETCD_PORT: String(etcdPort),
      NODEGEN_POLL_INTERVAL: '0.2',
      NODEGEN_BACKOFF_START: '1',
      NODEGEN_BACKOFF_MAX: '1',
    }
    return {cluster, fake, log, tokens, roots, env, root: (n: string) => roots.find((r) => path.basename(r) === n) as string}
  }

  it('3 control planes and 2 workers come up in order with no central step', async () => {
    const s = await setup('order')
    try {
      // Start them in the "wrong" order: workers and later control planes first.
      const runs = await Promise.all([...s.roots].reverse().map((r) => runBootstrap(r, s.env)))
      for (const r of runs) assert.equal(r.code, 0, `${r.node} failed:\n${r.output}`)
      for (const r of runs) {
        const role = r.node.startsWith('cp') ? 'control-plane' : 'worker'
        assert.match(r.output, new RegExp(`^nodegen: ${r.node} ${role} ready$`, 'm'))
        const status = JSON.parse(readFileSync(path.join(s.root(r.node), 'var/lib/nodegen/status.json'), 'utf8'))
        assert.equal(status.state, 'ready')
        assert.equal(status.node, r.node)
        for (const phase of ['prepare', 'packages', 'firewall', 'images', 'role', 'cleanup'])
          assert.ok(existsSync(path.join(s.root(r.node), 'var/lib/nodegen/done', phase)), `${r.node} ${phase}`)
        assert.match(readFileSync(path.join(s.root(r.node), 'var/log/nodegen/bootstrap.log'), 'utf8'), /phase role: done/)
      }
      const calls = readCallLog(s.log)
      const at = (node: string, re: RegExp) => calls.findIndex((c) => c.node === node && re.test(c.call))
      const init = at('cp0', /^kubeadm init --config \S+\/etc\/nodegen\/kubeadm\/config\.yaml/)
      const j1 = at('cp1', /^kubeadm join --config/)
      const j2 = at('cp2', /^kubeadm join --config/)
      const w0 = at('w0', /^kubeadm join --config/)
      const w1 = at('w1', /^kubeadm join --config/)
      for (const [n, i] of Object.entries({init, j1, j2, w0, w1}))
        assert.ok(i >= 0, `${n} missing:\n${calls.map((c) => `${c.node} ${c.call}`).join('\n')}`)
      assert.ok(init < j1 && j1 < j2, 'control planes join in ordinal order while all are up, after init')
      assert.ok(init < w0 && init < w1, 'workers join only after the endpoint answers')
      assert.deepEqual(s.fake.members, ['cp0', 'cp1', 'cp2'])
      // haproxy and keepalived started on every control plane before it inits or joins
      for (const cp of ['cp0', 'cp1', 'cp2']) {
        const lb = at(cp, /^systemctl restart haproxy/)
        assert.ok(lb >= 0 && lb < at(cp, /^kubeadm (init|join)/), `${cp} starts haproxy before kubeadm`)
      }
      // control plane 0 applies the CNI with the admin kubeconfig, and enables the labeller
      assert.ok(at('cp0', /^kubectl --kubeconfig \S+\/etc\/kubernetes\/admin\.conf apply -f/) > init)
      assert.ok(at('cp0', /^systemctl enable --no-reload --now nodegen-labels\.timer/) > init)
      // host preparation happened on every node
      for (const n of ['cp0', 'w1']) {
        assert.ok(at(n, /^modprobe br_netfilter/) >= 0)
        assert.ok(at(n, /^swapoff -a/) >= 0)
        assert.ok(at(n, /^sysctl --system/) >= 0)
        assert.match(
          readFileSync(path.join(s.root(n), 'etc/hosts'), 'utf8'),
          /# BEGIN nodegen[\s\S]*127\.0\.0\.112\tcp2[\s\S]*# END nodegen/,
        )
        assert.match(readFileSync(path.join(s.root(n), 'etc/fstab'), 'utf8'), /^# disabled by nodegen: \/swap\.img none swap/m)
      }
      // the secret-bearing kubeadm config is gone after joining
      assert.equal(existsSync(path.join(s.root('w0'), 'etc/nodegen/kubeadm/config.yaml')), false)
      // the join config kubeadm got carries the discovery token and CA hash
      assert.match(readFileSync(path.join(s.root('w0'), 'standin-join.yaml'), 'utf8'), /caCertHashes/)

      // A second run after success does nothing.
      const before = readCallLog(s.log).length
      const again = await runBootstrap(s.root('cp1'), s.env)
      assert.equal(again.code, 0)
      assert.match(again.output, /nodegen: cp1 control-plane ready/)
      const newCalls = readCallLog(s.log).slice(before)
      assert.deepEqual(newCalls, [], `second run called: ${newCalls.map((c) => c.call).join('; ')}`)
    } finally {
      await s.fake.close()
    }
  })

  it('a failing control-plane join is reset and retried ("too many learner members")', async () => {
    const s = await setup('retry')
    try {
      writeFileSync(path.join(s.root('cp1'), 'standin-fail-join'), '2')
      const cp0 = await runBootstrap(s.root('cp0'), s.env)
      assert.equal(cp0.code, 0, cp0.output)
      const cp1 = await runBootstrap(s.root('cp1'), s.env)
      assert.equal(cp1.code, 0, cp1.output)
      const seq = readCallLog(s.log)
        .filter((c) => c.node === 'cp1' && /^kubeadm (join|reset)/.test(c.call))
        .map((c) => c.call.split(' ').slice(0, 2).join(' '))
      assert.deepEqual(seq, ['kubeadm join', 'kubeadm reset', 'kubeadm join', 'kubeadm reset', 'kubeadm join'])
      assert.match(cp1.output, /learner being promoted/)
    } finally {
      await s.fake.close()
    }
  })

  it('a join that failed after adding its learner removes that learner before waiting for etcd again', async () => {
    // kubeadm's etcd-join phase adds the node as a learner and may then give up (context deadline
    // exceeded on a busy machine); etcd takes no other learner while it is there, so a retry that
    // waited for "no learner" first would wait for itself for ever.
    const s = await setup('learner-left')
    try {
      writeFileSync(path.join(s.root('cp1'), 'standin-fail-join-learner'), '1')
      assert.equal((await runBootstrap(s.root('cp0'), s.env)).code, 0)
      const cp1 = await runBootstrap(s.root('cp1'), s.env)
      assert.equal(cp1.code, 0, cp1.output)
      assert.match(cp1.output, /removed this node's stale etcd member \d+ \(peer URL https:\/\/127\.0\.0\.111:2380\) before joining/)
      assert.deepEqual(s.fake.members.filter(Boolean), ['cp0', 'cp1'])
      const learner = s.fake.events.indexOf('learner 127.0.0.111')
      assert.ok(learner >= 0 && s.fake.events.indexOf('remove learner:127.0.0.111') > learner, s.fake.events.join('; '))
    } finally {
      await s.fake.close()
    }
  })

  it('a control-plane join that failed after its etcd member started voting finishes its remaining phases, never resetting', async () => {
    // A reset would remove a voter (and stop its etcd) from a cluster of two, which then has no
    // quorum to remove it with: kubeadm's TLS bootstrap wait running out under load did that.
    const s = await setup('voter-resume')
    try {
      writeFileSync(path.join(s.root('cp1'), 'standin-fail-join-voter'), '1')
      // etcd leaves the first member lists after the failure unanswered: not knowing is no reason to reset.
      writeFileSync(path.join(s.root('cp1'), 'standin-etcd-silent'), '6')
      assert.equal((await runBootstrap(s.root('cp0'), s.env)).code, 0)
      const cp1 = await runBootstrap(s.root('cp1'), s.env)
      assert.equal(cp1.code, 0, cp1.output)
      assert.match(cp1.output, /waiting for etcd listing this node's own member \(a voter is kept, not reset\)/)
      assert.equal(s.fake.silentMemberLists, 0, 'the bootstrap asked etcd again until it answered')
      assert.match(cp1.output, /finishing the join's remaining phases instead of resetting/)
      assert.match(cp1.output, /nodegen: cp1 control-plane ready/)
      const seq = readCallLog(s.log)
        .filter((c) => c.node === 'cp1' && /^kubeadm (join|reset)/.test(c.call))
        .map((c) => c.call.split(' ').slice(0, 2).join(' '))
      // The kubelet never wrote kubelet.conf, so kubelet-start runs again; etcd-join is skipped.
      assert.deepEqual(seq, ['kubeadm join', 'kubeadm join'])
      const resumed = readCallLog(s.log).filter((c) => c.node === 'cp1' && c.call.startsWith('kubeadm join'))[1]
      assert.match(resumed?.call ?? '', / --skip-phases preflight,control-plane-prepare,check-etcd,etcd-join$/)
      assert.deepEqual(s.fake.members.filter(Boolean), ['cp0', 'cp1'])
      assert.ok(!s.fake.events.some((e) => e.startsWith('remove')), s.fake.events.join('; '))
    } finally {
      await s.fake.close()
    }
  })

  it('a kubeadm init that failed after its control plane answered is finished from the failed phase, never reset, and a busy API server is waited for', async () => {
    // A request of the CoreDNS addon timing out on a busy API server: a reset would throw away a
    // working etcd and control plane and start the whole bring-up again.
    const s = await setup('init-resume', {at: () => Math.floor(Date.now() / 1000)})
    try {
      writeFileSync(path.join(s.root('cp0'), 'standin-fail-init-addon'), '1')
      // ...and the API server, still busy, lets the first listing of the tokens time out.
      writeFileSync(path.join(s.root('cp0'), 'standin-fail-token-list'), '1')
      const cp0 = await runBootstrap(s.root('cp0'), s.env)
      assert.equal(cp0.code, 0, cp0.output)
      assert.match(cp0.output, /kubeadm init failed in its phase addon \(attempt 1\); running it again from there/)
      assert.match(cp0.output, /token-calendar: listing the registered tokens failed/)
      assert.match(cp0.output, /registering the token calendar's tokens failed \(attempt 1\); retrying/)
      assert.match(cp0.output, /token-calendar: registered token/)
      assert.match(cp0.output, /nodegen: cp0 control-plane ready/)
      const seq = readCallLog(s.log)
        .filter((c) => c.node === 'cp0' && /^kubeadm (init|reset)/.test(c.call))
        .map((c) => c.call.split(' ').slice(0, 2).join(' '))
      assert.deepEqual(seq, ['kubeadm init', 'kubeadm init'])
      assert.equal(
        readFileSync(path.join(s.root('cp0'), 'standin-init-skipped'), 'utf8').trim(),
        'preflight,certs,kubeconfig,etcd,control-plane,kubelet-start,wait-control-plane,upload-config,upload-certs,mark-control-plane,bootstrap-token,kubelet-finalize',
      )
    } finally {
      await s.fake.close()
    }
  })

  it("a kubeadm init that failed before its control plane answered prints the components' last log lines, then resets and retries", async () => {
    const s = await setup('init-report')
    try {
      const cp0Root = s.root('cp0')
      writeFileSync(path.join(cp0Root, 'standin-fail-init-wait'), '1')
      // Where the kubelet keeps a static pod's container logs: two starts of the API server.
      const pods = path.join(cp0Root, 'var/log/pods/kube-system_kube-apiserver-cp0_0123/kube-apiserver')
      mkdirSync(pods, {recursive: true})
      writeFileSync(path.join(pods, '0.log'), 'first start\n')
      writeFileSync(
        path.join(pods, '1.log'),
        `${'x\n'.repeat(20)}E1206 run.go:72] "command failed" err="open /etc/kubernetes/pki/apiserver.crt: no such file"\n`,
      )
      const cp0 = await runBootstrap(cp0Root, s.env)
      assert.equal(cp0.code, 0, cp0.output)
      assert.match(cp0.output, /kubeadm init failed \(attempt 1\); resetting and retrying/)
      assert.match(cp0.output, /last lines of \/var\/log\/pods\/kube-system_kube-apiserver-cp0_0123\/kube-apiserver\/1\.log:/)
      assert.match(cp0.output, /^ {2}E1206 run\.go:72\] "command failed"/m)
      assert.doesNotMatch(cp0.output, /first start/)
      const seq = readCallLog(s.log)
        .filter((c) => c.node === 'cp0' && /^kubeadm (init|reset)/.test(c.call))
        .map((c) => c.call.split(' ').slice(0, 2).join(' '))
      assert.deepEqual(seq, ['kubeadm init', 'kubeadm reset', 'kubeadm init'])
    } finally {
      await s.fake.close()
    }
  })

  it("a learner of this node's own that etcd took after its join gave up counts neither as a learner in the way nor toward the quorum", async () => {
    // etcd may commit a member add after kubeadm's client stopped waiting for it, so the learner
    // can appear after the retry's removal; the wait for etcd must look past it (the join then
    // removes it), or the node waits for itself.
    const s = await setup('learner-late')
    try {
      assert.equal((await runBootstrap(s.root('cp0'), s.env)).code, 0)
      s.fake.members.push('learner:127.0.0.111')
      const cp1 = await runBootstrap(s.root('cp1'), s.env)
      assert.equal(cp1.code, 0, cp1.output)
      assert.match(cp1.output, /etcd ready for a new member \(started voters a majority, no learner; [^)]*\): ok/)
      assert.deepEqual(s.fake.members.filter(Boolean), ['cp0', 'cp1'])
      assert.ok(s.fake.events.includes('remove learner:127.0.0.111'), s.fake.events.join('; '))
    } finally {
      await s.fake.close()
    }
  })

  it('a reset does not lose the placed CAs: the retried join still has them', async () => {
    // kubeadm reset deletes the contents of /etc/kubernetes/pki (the stand-in does as well), and a
    // control plane joins only with the placed CAs.
    const s = await setup('reset-keeps-pki')
    try {
      writeFileSync(path.join(s.root('cp1'), 'standin-fail-join'), '1')
      assert.equal((await runBootstrap(s.root('cp0'), s.env)).code, 0)
      const cp1 = await runBootstrap(s.root('cp1'), s.env)
      assert.equal(cp1.code, 0, cp1.output)
      assert.doesNotMatch(cp1.output, /couldn't load the etcd certificate authority/)
      assert.ok(existsSync(path.join(s.root('cp1'), 'etc/kubernetes/pki/etcd/ca.key')), 'the etcd CA is back after the reset')
      // the root-only copy is gone once the node has joined
      assert.equal(existsSync(path.join(s.root('cp1'), 'var/lib/nodegen/placed-pki')), false)
    } finally {
      await s.fake.close()
    }
  })

  it('control plane 0 on a fresh disk joins the running cluster instead of initialising a second one', async () => {
    const s = await setup('rejoin')
    try {
      // etcd answers on another control plane too, so the fresh control plane 0 can ask it.
      await s.fake.listen('127.0.0.111', Number(s.env.NODEGEN_ETCD_PORT))
      for (const n of ['cp0', 'cp1', 'cp2']) assert.equal((await runBootstrap(s.root(n), s.env)).code, 0, n)
      assert.deepEqual(s.fake.members, ['cp0', 'cp1', 'cp2'])
      // The machine is lost; a new one boots with the same seed.
      const plan = buildNodePlan(s.cluster, s.cluster.nodes[0] as Cluster['nodes'][number], {
        assets: loadAssets(),
        material: material(ca),
        cniManifest: 'kind: ConfigMap # net-conf 10.244.0.0/16\n',
      })
      const fresh = materialise(plan, path.join(tmp, 'rejoin-fresh'))
      writeFileSync(path.join(fresh, 'etc/nodegen/image.json'), BAKED)
      const before = readCallLog(s.log).length
      const r = await runBootstrap(fresh, s.env)
      assert.equal(r.code, 0, r.output)
      assert.match(r.output, /the cluster already exists .*: joining it as a control plane instead of initialising it/)
      // It waits for a live member to join, not for "0 started members".
      assert.match(r.output, /etcd ready for a new member \(started voters a majority, no learner; [^)]*\): ok/)
      assert.match(r.output, /removed this node's stale etcd member 1 \(peer URL https:\/\/127\.0\.0\.110:2380\) before joining/)
      assert.match(r.output, /^nodegen: cp0 control-plane ready$/m)
      const calls = readCallLog(s.log)
        .slice(before)
        .filter((c) => c.node === 'cp0')
        .map((c) => c.call)
      assert.ok(!calls.some((c) => c.startsWith('kubeadm init')), `kubeadm init ran again: ${calls.join('; ')}`)
      // keepalived starts once, when the node joins: a returning control plane 0 (the highest VRRP
      // priority) raising the VIP on the init path and restarting it on the join path moved it twice.
      assert.deepEqual(
        calls.filter((c) => c === 'systemctl restart keepalived'),
        ['systemctl restart keepalived'],
        calls.join('\n'),
      )
      const keepalived = calls.indexOf('systemctl restart keepalived')
      const endpointWait = calls.findIndex((c) => c.startsWith('kubeadm join'))
      assert.ok(keepalived >= 0 && keepalived < endpointWait, 'keepalived runs before the join (haproxy forwards to the others)')
      assert.ok(
        calls.some((c) => new RegExp(`^kubeadm join --config ${fresh}/etc/nodegen/kubeadm/rejoin\\.yaml`).test(c)),
        calls.join('\n'),
      )
      // the stale member went before the new one came: still one member per control plane
      assert.deepEqual(s.fake.events.slice(-2), ['remove cp0', 'member cp0'])
      assert.deepEqual(s.fake.members.filter(Boolean).sort(), ['cp0', 'cp1', 'cp2'])
      assert.match(readFileSync(path.join(fresh, 'standin-join.yaml'), 'utf8'), /^controlPlane:/m)
      assert.equal(existsSync(path.join(fresh, 'etc/nodegen/kubeadm/rejoin.yaml')), false, 'the rejoin config (token) is removed')
    } finally {
      await s.fake.close()
    }
  })

  it('kube-vip: joining control planes (control plane 0 rebuilt included) get kube-vip with admin.conf after the join', async () => {
    const s = await setup('kube-vip', {lb: 'kube-vip'})
    try {
      await s.fake.listen('127.0.0.111', Number(s.env.NODEGEN_ETCD_PORT))
      const manifest = (n: string) => readFileSync(path.join(s.root(n), 'etc/kubernetes/manifests/kube-vip.yaml'), 'utf8')
      for (const n of ['cp0', 'cp1', 'cp2']) {
        const r = await runBootstrap(s.root(n), s.env)
        // The stand-in kubeadm refuses a join over a non-empty manifests directory, as kubeadm's preflight does.
        assert.equal(r.code, 0, `${n}:\n${r.output}`)
        assert.doesNotMatch(manifest(n), /super-admin\.conf/, `${n} runs kube-vip with admin.conf once it is in the cluster`)
        assert.match(manifest(n), /\/etc\/kubernetes\/admin\.conf/)
      }
      // Control plane 0 ran kube-vip with super-admin.conf for kubeadm init, and only then.
      const cp0 = readCallLog(s.log).filter((c) => c.node === 'cp0')
      assert.ok(cp0.some((c) => c.call.startsWith('kubeadm init')))

      // The machine is lost; a new one boots with the same seed and joins the running cluster.
      const plan = buildNodePlan(s.cluster, s.cluster.nodes[0] as Cluster['nodes'][number], {
        assets: loadAssets(),
        material: material(ca),
        cniManifest: 'kind: ConfigMap # net-conf 10.244.0.0/16\n',
      })
      const fresh = materialise(plan, path.join(tmp, 'kube-vip-fresh'))
      writeFileSync(path.join(fresh, 'etc/nodegen/image.json'), BAKED)
      const r = await runBootstrap(fresh, s.env)
      assert.equal(r.code, 0, r.output)
      assert.match(r.output, /joining it as a control plane instead of initialising it/)
      const after = readFileSync(path.join(fresh, 'etc/kubernetes/manifests/kube-vip.yaml'), 'utf8')
      assert.doesNotMatch(after, /super-admin\.conf/, 'a join writes no super-admin.conf: the rebuilt control plane mounts admin.conf')
    } finally {
      await s.fake.close()
    }
  })

  it('a dead control plane 1 does not keep control plane 2 out: it joins once etcd is ready for a member', async () => {
    const s = await setup('dead-cp1')
    try {
      for (const n of ['cp0', 'cp2']) {
        const r = await runBootstrap(s.root(n), {...s.env, NODEGEN_JOIN_ORDER_GRACE: '2'})
        assert.equal(r.code, 0, `${n}:\n${r.output}`)
      }
      assert.deepEqual(s.fake.members, ['cp0', 'cp2'])
      assert.match(readFileSync(path.join(s.root('cp2'), 'var/log/nodegen/bootstrap.log'), 'utf8'), /etcd ready for a new member .*: ok/)
    } finally {
      await s.fake.close()
    }
  })

  it('a CNI manifest fetched from its URL is applied only when its sha256 is the one the profile pins', async () => {
    const manifest = 'kind: ConfigMap # net-conf 10.244.0.0/16\n'
    const server = http.createServer((_req, res) => res.writeHead(200).end(manifest))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/kube-flannel.yml`
    const good = createHash('sha256').update(manifest).digest('hex')
    try {
      for (const [name, sha] of [
        ['cni-pinned', good],
        ['cni-changed', 'f'.repeat(64)],
      ] as const) {
        const s = await setup(name, {cni: `{type: flannel, manifestUrl: "${url}", manifestSha256: ${sha}}`})
        try {
          const r = await runBootstrap(s.root('cp0'), s.env)
          const applied = readCallLog(s.log).some((c) => c.node === 'cp0' && /^kubectl --kubeconfig \S+ apply -f /.test(c.call))
          if (sha === good) {
            assert.equal(r.code, 0, r.output)
            assert.ok(applied, 'the pinned manifest is applied')
          } else {
            assert.equal(r.code, 1, r.output)
            assert.ok(!applied, 'a manifest that does not match is never applied')
            assert.match(
              r.output,
              new RegExp(
                `failed at role: the flannel manifest from \\S+ has sha256 ${good} but spec\\.networking\\.cni\\.manifestSha256 is f{64}: it was not applied`,
              ),
            )
          }
        } finally {
          await s.fake.close()
        }
      }
    } finally {
      server.close()
    }
  })

  it('an external etcd member with its data gone replaces its old member and starts as an existing one', async () => {
    const dir = path.join(tmp, 'etcd-rejoin')
    const etcdPort = await freePort('127.0.0.111')
    const text = `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: ext}
spec:
  kubernetes: {version: 1.34.2}
  os: almalinux-9
  topology: external
  image: {baked: true}
  bootstrap: {timeout: 60s}
  networking: {cni: {type: flannel, manifestFile: flannel.yaml}}
  nodes:
    - {name: cp0, role: control-plane, ip: 127.0.0.120/24}
    - {name: e0, role: etcd, ip: 127.0.0.110/24}
    - {name: e1, role: etcd, ip: 127.0.0.111/24}
    - {name: e2, role: etcd, ip: 127.0.0.112/24}
`
    const cluster: Cluster = loadCluster(path.join(dir, 'ext.yaml'), text)
    const fake = new FakeCluster(ca)
    // Another member (e1) answers, and so does the member's own local endpoint once it runs.
    await fake.listen('127.0.0.111', etcdPort)
    await fake.listen('127.0.0.1', etcdPort)
    const bin = standinBin(dir)
    const pki = [
      {path: '/etc/kubernetes/pki/etcd/ca.crt', content: ca.caCert, mode: 0o600, secret: false},
      {path: '/etc/kubernetes/pki/etcd/healthcheck-client.crt', content: ca.clientCert, mode: 0o600, secret: false},
      {path: '/etc/kubernetes/pki/etcd/healthcheck-client.key', content: ca.clientKey, mode: 0o600, secret: true},
    ]
    const run = async (name: string, members: string[]) => {
      fake.members.length = 0
      fake.events.length = 0
      for (const [i, m] of members.entries()) {
        fake.members.push(m)
        fake.memberIps.set(m, `127.0.0.11${i}`)
      }
      const node = cluster.nodes.find((n) => n.name === 'e0')!
      const plan = buildNodePlan(cluster, node, {assets: loadAssets(), material: {...material(ca), pkiFiles: () => pki}})
      const root = materialise(plan, path.join(dir, name))
      writeFileSync(path.join(root, 'etc/nodegen/image.json'), BAKED)
      const r = await runBootstrap(root, {
        PATH: `${bin}:${process.env.PATH}`,
        NODEGEN_TEST_LOG: path.join(dir, 'calls.log'),
        NODEGEN_TEST_FAKE: 'https://127.0.0.1:1',
        NODEGEN_ETCD_PORT: String(etcdPort),
        NODEGEN_POLL_INTERVAL: '0.2',
        NODEGEN_BACKOFF_START: '1',
        NODEGEN_BACKOFF_MAX: '1',
      })
      return {r, manifest: readFileSync(path.join(root, 'etc/kubernetes/manifests/etcd.yaml'), 'utf8')}
    }
    try {
      // The member started before (it has a name): its data is gone, so it is replaced.
      const lost = await run('lost', ['e0', 'e1', 'e2'])
      assert.equal(lost.r.code, 0, lost.r.output)
      assert.deepEqual(fake.events, ['remove e0', 'add 127.0.0.110'])
      assert.match(lost.manifest, /--initial-cluster-state=existing/)
      assert.match(lost.r.output, /replaced this node's etcd member 1 \(its data was gone\); it starts as an existing member/)
      // A member that never started keeps its founding slot and starts as rendered.
      const late = await run('late', ['unstarted:e0', 'e1', 'e2'])
      assert.equal(late.r.code, 0, late.r.output)
      assert.deepEqual(fake.events, [])
      assert.match(late.manifest, /--initial-cluster-state=new/)
    } finally {
      await fake.close()
    }
  })

  it('reports where it stopped when the endpoint never answers', async () => {
    const s = await setup('timeout')
    try {
      const params = path.join(s.root('w0'), 'etc/nodegen/bootstrap.env')
      writeFileSync(params, readFileSync(params, 'utf8').replace(/^TIMEOUT_SECONDS=.*$/m, 'TIMEOUT_SECONDS=2'))
      const w0 = await runBootstrap(s.root('w0'), s.env)
      assert.equal(w0.code, 1)
      assert.match(
        w0.output,
        /^nodegen: w0 worker failed at role: timed out waiting for API endpoint https:\/\/127\.0\.0\.100:\d+\/readyz/m,
      )
      const status = JSON.parse(readFileSync(path.join(s.root('w0'), 'var/lib/nodegen/status.json'), 'utf8'))
      assert.equal(status.state, 'failed')
      assert.equal(status.phase, 'role')
      assert.match(status.reason, /timed out waiting for API endpoint/)
      assert.equal(readCallLog(s.log).filter((c) => c.node === 'w0' && c.call.startsWith('kubeadm join')).length, 0)
    } finally {
      await s.fake.close()
    }
  })

  it('refuses a baked image of another Kubernetes version, with the fix in the message', async () => {
    const s = await setup('mismatch')
    try {
      writeFileSync(path.join(s.root('w1'), 'etc/nodegen/image.json'), BAKED.replace('1.34.2', '1.33.0'))
      const w1 = await runBootstrap(s.root('w1'), s.env)
      assert.equal(w1.code, 1)
      assert.match(w1.output, /failed at packages: this image was baked for Kubernetes 1\.33\.0 but the profile asks for 1\.34\.2/)
    } finally {
      await s.fake.close()
    }
  })

  it('refuses a baked image of another containerd release, with the fix in the message', async () => {
    const s = await setup('containerd-mismatch')
    try {
      writeFileSync(
        path.join(s.root('w1'), 'etc/nodegen/image.json'),
        BAKED.replace('"containerRuntime": "containerd"', '"containerRuntime": "containerd", "containerdVersion": "1.7.34"'),
      )
      const w1 = await runBootstrap(s.root('w1'), s.env)
      assert.equal(w1.code, 1)
      assert.match(
        w1.output,
        /failed at packages: this image was baked with containerd 1\.7\.34 but the profile asks for 2\.0\.11: rebuild the image \(nodegen image build\) or set spec\.containerRuntime\.version to 1\.7\.34/,
      )
    } finally {
      await s.fake.close()
    }
  })

  it('installs pinned packages on a node without a baked image', async () => {
    const s = await setup('packages', {baked: false})
    try {
      const w0 = await runBootstrap(s.root('w0'), {...s.env, NODEGEN_POLL_INTERVAL: '0.2'}, 8000)
      // The endpoint never comes up here; the packages phase is what this test is about.
      assert.ok(existsSync(path.join(s.root('w0'), 'var/lib/nodegen/done/packages')), w0.output)
      const calls = readCallLog(s.log)
        .filter((c) => c.node === 'w0')
        .map((c) => c.call)
      assert.ok(
        calls.some((c) => c === 'dnf -y install --disableexcludes=kubernetes kubelet-1.34.2 kubeadm-1.34.2 kubectl-1.34.2'),
        calls.join('\n'),
      )
      assert.ok(
        calls.some((c) => /^dnf -y install --disableexcludes=docker-ce-stable containerd\.io-2\.0\.11 /.test(c)),
        calls.join('\n'),
      )
      assert.ok(existsSync(path.join(s.root('w0'), 'etc/yum.repos.d/kubernetes.repo')))
    } finally {
      await s.fake.close()
    }
  })

  it('the token calendar: a worker rendered three days ahead joins when its window comes; an expired window is refused', async () => {
    const day = 86400
    const t0 = (windowOf(Math.floor(Date.now() / 1000), day) + 10) * day + 3600
    const late = t0 + 3 * day
    const s = await setup('calendar', {at: (n) => (n === 'w1' ? late : t0)})
    try {
      const at = (now: number) => ({...s.env, NODEGEN_NOW: String(now)})
      const cp0 = await runBootstrap(s.root('cp0'), at(t0))
      assert.equal(cp0.code, 0, cp0.output)
      const w = windowOf(t0, day)
      const tokenOf = (win: number) => deriveWindowToken(CALENDAR_SECRET, win, day)
      const creates = readCallLog(s.log).filter((c) => c.node === 'cp0' && c.call.startsWith('kubectl applied bootstrap token'))
      // init registered window w's token; the calendar added w+1 and w+2 (as bootstrap-token Secrets
      // on kubectl's stdin) with expirations at the ends of their windows
      assert.deepEqual(
        creates.map((c) => {
          const [, token, expires] = /token (\S+) expiring (\d+)/.exec(c.call) ?? []
          return [token, String(Number(expires) - t0)]
        }),
        [
          [tokenOf(w + 1).token, String((w + 2) * day - t0)],
          [tokenOf(w + 2).token, String((w + 3) * day - t0)],
        ],
      )
      assert.ok(!cp0.output.includes(tokenOf(w + 1).tokenSecret), 'the calendar logged a token secret')
      assert.ok(readCallLog(s.log).some((c) => c.node === 'cp0' && c.call === 'systemctl enable --no-reload --now nodegen-tokens.timer'))

      // a worker rendered for now joins; the one rendered three days ahead cannot yet
      const w0 = await runBootstrap(s.root('w0'), at(t0))
      assert.equal(w0.code, 0, w0.output)
      const params = path.join(s.root('w1'), 'etc/nodegen/bootstrap.env')
      writeFileSync(params, readFileSync(params, 'utf8').replace(/^TIMEOUT_SECONDS=.*$/m, 'TIMEOUT_SECONDS=3'))
      const early = await runBootstrap(s.root('w1'), at(t0))
      assert.equal(early.code, 1)
      assert.match(early.output, /is invalid for this cluster or it has expired/)

      const sync = (now: number) =>
        spawnSync('bash', [path.join(s.root('cp0'), 'usr/local/lib/nodegen/token-calendar.sh'), 'sync'], {
          env: {...process.env, ...at(now), NODEGEN_ROOT: s.root('cp0')},
          encoding: 'utf8',
        })
      // a minute into the next window: the init token (kubeadm counts its TTL from init) outlived
      // its window, so the timer deletes it, and registers the window two ahead
      const next = sync((w + 1) * day + 60)
      assert.equal(next.status, 0, next.stderr)
      assert.match(next.stdout, new RegExp(`deleted token ${tokenOf(w).tokenId} of past window ${w}\\b`))
      assert.match(
        next.stdout,
        new RegExp(`registered token ${tokenOf(w + 3).tokenId} for window ${w + 3} \\(expires in ${2 * day + day - 60}s\\)`),
      )
      // three days on, the timer registers the new windows (the old ones have expired)
      const later = sync(late)
      assert.equal(later.status, 0, later.stderr)
      assert.match(later.stdout, new RegExp(`registered token ${tokenOf(w + 4).tokenId} for window ${w + 4}`))
      assert.doesNotMatch(later.stdout + next.stdout, new RegExp(`${tokenOf(w + 3).tokenSecret}|${tokenOf(w + 4).tokenSecret}`))
      const late1 = await runBootstrap(s.root('w1'), at(late))
      assert.equal(late1.code, 0, late1.output)
      assert.match(late1.output, /nodegen: w1 worker ready/)

      // a worker rendered for the first window, booting three days later, is refused
      const stale = materialise(
        buildNodePlan(s.cluster, s.cluster.nodes.find((n) => n.name === 'w0') as Cluster['nodes'][number], {
          assets: loadAssets(),
          material: material(ca, t0),
        }),
        path.join(tmp, 'calendar-stale'),
      )
      writeFileSync(path.join(stale, 'etc/nodegen/image.json'), BAKED)
      const p2 = path.join(stale, 'etc/nodegen/bootstrap.env')
      writeFileSync(p2, readFileSync(p2, 'utf8').replace(/^TIMEOUT_SECONDS=.*$/m, 'TIMEOUT_SECONDS=3'))
      const refused = await runBootstrap(stale, at(late))
      assert.equal(refused.code, 1)
      assert.match(refused.output, /failed at role/)
    } finally {
      await s.fake.close()
    }
  })
})
