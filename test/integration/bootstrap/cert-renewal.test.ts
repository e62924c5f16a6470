/**
 * The certificate renewal program (assets/bootstrap/cert-renewal.sh) against a real etcd and a real
 * kube-apiserver v1.34.2 on loopback, with nodegen's PKI (the quickstart fixture state's CAs) and
 * the leaves the real kubeadm issues from them, as on a control plane:
 *
 * - the Lease: of two nodes asking at once exactly one takes it; a node that finds it held waits
 *   and takes it once it is given back; a Lease whose holder stopped renewing it is taken over, a
 *   live one is not;
 * - what the running cluster tells nodegen: the serving certificate and version `pki
 *   check-expiration --kubeconfig` reads, and `nodegen upgrade`'s hand-over (its ConfigMap);
 * - a renewal: a node whose leaves expire within the window (kubeadm issued them for 2 hours) takes
 *   the Lease, waits while another node holds it, runs the real `kubeadm certs renew all` in its own
 *   tree (kubeadm's --rootfs: nothing touches this machine's /etc/kubernetes), keeps the CAs, gives
 *   the Lease back and reports in status.json and on its console.
 */
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it, type TestContext} from 'node:test'
import {servedCertificates} from '../../../src/app/served-certificates.js'
import {upgrade} from '../../../src/app/upgrade.js'
import {clusterAt} from '../../../src/plan/upgrade.js'
import {requireKubeCommand} from '../../support/kubernetes.js'
import {copyFixtureState} from '../../support/pki-fixture.js'
import {loadCluster, REPO_ROOT} from '../../support/profiles.js'
import {requireRoot, requireTool, run, runAsync} from '../../support/tools.js'

const SCRIPT = path.join(REPO_ROOT, 'assets', 'bootstrap', 'cert-renewal.sh')
const KUBE = '1.34.2'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

interface Env {
  tmp: string
  kubeadm: string
  kubectl: string
  port: number
  /** PATH with the real kubectl and kubeadm first. */
  path: string
}

/**
 * A kubeadm configuration for a tree of its own. kubeadm refuses a loopback advertiseAddress, so
 * it names a documentation address that nothing here ever dials; the endpoint is the test's API server.
 */
function kubeadmConfig(certDir: string, port: number, validity: string): string {
  return `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: 192.0.2.10, bindPort: ${port}}
nodeRegistration: {name: cp-0}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v${KUBE}
controlPlaneEndpoint: 127.0.0.1:${port}
certificatesDir: ${certDir}
certificateValidityPeriod: ${validity}
apiServer: {certSANs: [127.0.0.1]}
`
}

/** A node's root: nodegen's CAs under etc/kubernetes/pki, kubeadm's leaves and kubeconfigs, bootstrap.env. */
function nodeTree(env: Env, name: string, validity: string, params: Record<string, string> = {}): string {
  const root = path.join(env.tmp, name)
  const kube = path.join(root, 'etc', 'kubernetes')
  mkdirSync(kube, {recursive: true})
  cpSync(path.join(env.tmp, 'state', 'pki'), path.join(kube, 'pki'), {recursive: true})
  const cfg = path.join(env.tmp, `${name}.kubeadm.yaml`)
  writeFileSync(cfg, kubeadmConfig(path.join(kube, 'pki'), env.port, validity))
  run(env.kubeadm, ['init', 'phase', 'certs', 'all', '--config', cfg])
  run(env.kubeadm, ['init', 'phase', 'kubeconfig', 'admin', '--config', cfg, '--kubeconfig-dir', kube])
  run(env.kubeadm, ['init', 'phase', 'kubeconfig', 'super-admin', '--config', cfg, '--kubeconfig-dir', kube])
  mkdirSync(path.join(root, 'etc', 'nodegen'), {recursive: true})
  mkdirSync(path.join(root, 'var', 'lib', 'nodegen', 'done'), {recursive: true})
  writeFileSync(path.join(root, 'var', 'lib', 'nodegen', 'done', 'cleanup'), '')
  const all = {
    NODE_NAME: name,
    NODE_ROLE: 'control-plane',
    NODE_ORDINAL: '0',
    NODE_IP: '127.0.0.1',
    API_SERVER_PORT: String(env.port),
    CERT_RENEW_BEFORE_SECONDS: String(30 * 86400),
    ...params,
  }
  writeFileSync(
    path.join(root, 'etc', 'nodegen', 'bootstrap.env'),
    `# test\n${Object.entries(all)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  )
  return root
}

function scriptEnv(env: Env, root: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: env.path,
    NODEGEN_ROOT: root,
    NODEGEN_CONSOLE: '/dev/null',
    NODEGEN_POLL_INTERVAL: '1',
    NODEGEN_SETTLE_SECONDS: '1',
  }
}

function script(env: Env, root: string, ...args: string[]) {
  return runAsync('bash', [SCRIPT, ...args], {env: scriptEnv(env, root)})
}

function lease(env: Env, root: string): {holder: string; renewTime: string; resourceVersion: string} {
  const r = run(env.kubectl, [
    '--kubeconfig',
    path.join(root, 'etc', 'kubernetes', 'admin.conf'),
    'get',
    'lease',
    '-n',
    'kube-system',
    'nodegen-cert-renewal',
    '-o',
    'json',
  ])
  const o = JSON.parse(r.stdout) as {metadata: {resourceVersion: string}; spec: {holderIdentity?: string; renewTime: string}}
  return {holder: o.spec.holderIdentity ?? '', renewTime: o.spec.renewTime, resourceVersion: o.metadata.resourceVersion}
}

/** Writes the Lease as another node would have left it: held by `holder`, last renewed `ageSeconds` ago. */
function setLease(env: Env, root: string, holder: string, ageSeconds: number, durationSeconds = 900): void {
  const renewed = new Date(Date.now() - ageSeconds * 1000).toISOString().replace(/\.\d+Z$/, '.000000Z')
  const doc = `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: nodegen-cert-renewal, namespace: kube-system}
spec: {holderIdentity: "${holder}", leaseDurationSeconds: ${durationSeconds}, acquireTime: "${renewed}", renewTime: "${renewed}"}
`
  run(env.kubectl, ['--kubeconfig', path.join(root, 'etc', 'kubernetes', 'admin.conf'), 'apply', '-f', '-'], {input: doc})
}

describe('cert-renewal.sh with a real kube-apiserver', {timeout: 120_000}, () => {
  const procs: ChildProcess[] = []
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-cert-renewal-'))
  let env: Env | undefined
  let setupError: Error | undefined
  let skip: string | undefined

  after(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM')
    await sleep(500)
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    rmSync(tmp, {recursive: true, force: true})
  })

  /** Starts etcd and kube-apiserver once, for every test below; each test says why it cannot run. */
  before(async () => {
    const probe = {skip: (m: string) => (skip = m)} as unknown as TestContext
    try {
      requireRoot(probe, "kubeadm's --rootfs chroots into the node's tree")
      const etcd = requireTool(probe, 'etcd')
      requireTool(probe, 'openssl')
      const kubeadm = requireKubeCommand(probe, 'kubeadm', KUBE)
      const kubectl = requireKubeCommand(probe, 'kubectl', KUBE)
      const apiserver = requireKubeCommand(probe, 'kube-apiserver', KUBE)
      const port = await freePort()
      const etcdPort = await freePort()
      const etcdPeer = await freePort()
      env = {tmp, kubeadm, kubectl, port, path: `${path.dirname(kubectl)}:${process.env.PATH}`}
      copyFixtureState('quickstart', path.join(tmp, 'state'))

      // The API server's own tree: nodegen's CAs, kubeadm's leaves of the default validity.
      const server = path.join(tmp, 'server')
      cpSync(path.join(tmp, 'state', 'pki'), server, {recursive: true})
      writeFileSync(path.join(tmp, 'server.yaml'), kubeadmConfig(server, port, '8760h'))
      run(kubeadm, ['init', 'phase', 'certs', 'apiserver', '--config', path.join(tmp, 'server.yaml')])

      const etcdLog = openSync(path.join(tmp, 'etcd.log'), 'w')
      procs.push(
        spawn(
          etcd,
          [
            '--name=t',
            `--data-dir=${path.join(tmp, 'etcd')}`,
            `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
            `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
            `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-cluster=t=http://127.0.0.1:${etcdPeer}`,
          ],
          {stdio: ['ignore', etcdLog, etcdLog]},
        ),
      )
      closeSync(etcdLog)
      const apiLog = openSync(path.join(tmp, 'apiserver.log'), 'w')
      procs.push(
        spawn(
          apiserver,
          [
            '--bind-address=127.0.0.1',
            `--secure-port=${port}`,
            `--etcd-servers=http://127.0.0.1:${etcdPort}`,
            `--tls-cert-file=${server}/apiserver.crt`,
            `--tls-private-key-file=${server}/apiserver.key`,
            `--client-ca-file=${server}/ca.crt`,
            `--service-account-key-file=${server}/sa.pub`,
            `--service-account-signing-key-file=${server}/sa.key`,
            '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
            '--service-cluster-ip-range=10.96.0.0/12',
            '--authorization-mode=Node,RBAC',
            '--enable-priority-and-fairness=false',
          ],
          {stdio: ['ignore', apiLog, apiLog]},
        ),
      )
      closeSync(apiLog)
      const ca = path.join(server, 'ca.crt')
      const deadline = Date.now() + 60_000
      while ((await runAsync('curl', ['-fsS', '-m', '2', '--cacert', ca, `https://127.0.0.1:${port}/readyz`])).stdout.trim() !== 'ok') {
        if (Date.now() > deadline || procs.some((p) => p.exitCode !== null))
          throw new Error(`kube-apiserver did not become ready: ${readFileSync(path.join(tmp, 'apiserver.log'), 'utf8').slice(-2000)}`)
        await sleep(500)
      }
      // kubeadm init binds its kubeadm:cluster-admins group (admin.conf's) to cluster-admin.
      const sa = path.join(tmp, 'super-admin')
      mkdirSync(sa)
      writeFileSync(path.join(tmp, 'sa.yaml'), kubeadmConfig(server, port, '8760h'))
      run(kubeadm, ['init', 'phase', 'kubeconfig', 'super-admin', '--config', path.join(tmp, 'sa.yaml'), '--kubeconfig-dir', sa])
      run(kubectl, [
        '--kubeconfig',
        path.join(sa, 'super-admin.conf'),
        'create',
        'clusterrolebinding',
        'kubeadm:cluster-admins',
        '--clusterrole=cluster-admin',
        '--group=kubeadm:cluster-admins',
      ])
    } catch (e) {
      if (!skip) setupError = e as Error
    }
  })

  function ready(t: TestContext): Env {
    if (setupError) throw setupError
    if (skip) {
      if (process.env.CI) throw new Error(`${skip}; under CI=true that is a failure, not a skip`)
      t.skip(skip)
    }
    return env as Env
  }

  it('two nodes asking at once: exactly one takes the Lease, every time', async (t) => {
    const e = ready(t)
    if (!e) return
    const a = nodeTree(e, 'race-a', '8760h')
    const b = nodeTree(e, 'race-b', '8760h')
    for (let round = 0; round < 4; round++) {
      const [ra, rb] = await Promise.all([script(e, a, 'acquire', '0'), script(e, b, 'acquire', '0')])
      const won = [ra.status === 0 ? 'race-a' : undefined, rb.status === 0 ? 'race-b' : undefined].filter(Boolean)
      assert.equal(won.length, 1, `round ${round}: exactly one wins (a: ${ra.status} ${ra.stderr}; b: ${rb.status} ${rb.stderr})`)
      // A released Lease (no holder) is simply taken: never read as another node's expired hold,
      // which would make the outcome depend on the time of day.
      assert.doesNotMatch(ra.stderr + rb.stderr, /taking it over/, `round ${round}`)
      assert.equal(lease(e, a).holder, won[0])
      // The loser's release changes nothing; the winner's gives the Lease back.
      assert.equal((await script(e, won[0] === 'race-a' ? b : a, 'release')).status, 0)
      assert.equal(lease(e, a).holder, won[0])
      assert.equal((await script(e, won[0] === 'race-a' ? a : b, 'release')).status, 0)
      assert.equal(lease(e, a).holder, '')
    }
  })

  it('a node that finds the Lease held waits, and takes it once it is given back', async (t) => {
    const e = ready(t)
    if (!e) return
    const a = nodeTree(e, 'wait-a', '8760h')
    const b = nodeTree(e, 'wait-b', '8760h')
    assert.equal((await script(e, a, 'acquire', '0')).status, 0)
    const waiting = script(e, b, 'acquire', '40')
    let done = false
    void waiting.then(() => {
      done = true
    })
    await sleep(4000)
    assert.equal(done, false, 'wait-b is still waiting while wait-a holds the Lease')
    assert.equal(lease(e, a).holder, 'wait-a')
    assert.equal((await script(e, a, 'release')).status, 0)
    const r = await waiting
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /held by wait-a; waiting/)
    assert.equal(lease(e, a).holder, 'wait-b')
    assert.equal((await script(e, b, 'release')).status, 0)
  })

  it("a Lease whose holder stopped renewing it is taken over; a live holder's is not", async (t) => {
    const e = ready(t)
    if (!e) return
    const a = nodeTree(e, 'takeover-a', '8760h')
    setLease(e, a, 'dead-node', 60, 900)
    const live = await script(e, a, 'acquire', '0')
    assert.notEqual(live.status, 0, 'a Lease renewed a minute ago (900 s) is not taken')
    assert.equal(lease(e, a).holder, 'dead-node')
    setLease(e, a, 'dead-node', 1000, 900)
    const r = await script(e, a, 'acquire', '0')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /held by dead-node expired at .*taking it over/)
    assert.equal(lease(e, a).holder, 'takeover-a')
    assert.equal((await script(e, a, 'release')).status, 0)
  })

  it('renews leaves that expire within the window with the real kubeadm, after the node holding the Lease is done', async (t) => {
    const e = ready(t)
    if (!e) return
    // kubeadm issued this node's leaves for 2 hours: well inside the 30-day window.
    const a = nodeTree(e, 'renew-a', '2h')
    const other = nodeTree(e, 'renew-other', '8760h')
    const pki = path.join(a, 'etc', 'kubernetes', 'pki')
    const before = {
      ca: readFileSync(path.join(pki, 'ca.crt'), 'utf8'),
      caKey: readFileSync(path.join(pki, 'ca.key'), 'utf8'),
      apiserver: new X509Certificate(readFileSync(path.join(pki, 'apiserver.crt'))),
    }
    assert.ok(Date.parse(before.apiserver.validTo) - Date.now() < 3 * 3600 * 1000, 'the leaf starts 2 hours from expiry')
    const check = await script(e, a, 'check')
    assert.equal(check.status, 1, 'check says renewal is due')
    assert.match(check.stdout, /^apiserver\t\d+\tdue$/m)

    assert.equal((await script(e, other, 'acquire', '0')).status, 0, 'another node is renewing')
    const renewal = script(e, a, 'run')
    await sleep(3000)
    const status = JSON.parse(readFileSync(path.join(a, 'var', 'lib', 'nodegen', 'status.json'), 'utf8'))
    assert.equal(status.phase, 'cert-renewal')
    assert.equal(status.state, 'running')
    assert.equal(
      new X509Certificate(readFileSync(path.join(pki, 'apiserver.crt'))).serialNumber,
      before.apiserver.serialNumber,
      'nothing is renewed while another node holds the Lease',
    )
    assert.equal((await script(e, other, 'release')).status, 0)
    const r = await renewal
    assert.equal(r.status, 0, r.stderr)

    const after = new X509Certificate(readFileSync(path.join(pki, 'apiserver.crt')))
    assert.notEqual(after.serialNumber, before.apiserver.serialNumber, 'the API server certificate is new')
    const left = Date.parse(after.validTo) - Date.now()
    assert.ok(left > 360 * 86400 * 1000, `renewed for kubeadm's year (left: ${Math.round(left / 86400000)} days)`)
    assert.ok(after.verify(new X509Certificate(before.ca).publicKey), "signed by nodegen's CA")
    assert.equal(readFileSync(path.join(pki, 'ca.crt'), 'utf8'), before.ca, 'the CA certificate is kept')
    assert.equal(readFileSync(path.join(pki, 'ca.key'), 'utf8'), before.caKey, 'the CA key is kept')
    // The kubeconfigs kubeadm renews carry new client certificates.
    const admin = readFileSync(path.join(a, 'etc', 'kubernetes', 'admin.conf'), 'utf8')
    const data = /client-certificate-data: (\S+)/.exec(admin)?.[1] ?? ''
    assert.ok(
      Date.parse(new X509Certificate(Buffer.from(data, 'base64')).validTo) - Date.now() > 360 * 86400 * 1000,
      'admin.conf is renewed',
    )
    assert.equal((await script(e, a, 'check')).status, 0, 'nothing is due any more')

    const done = JSON.parse(readFileSync(path.join(a, 'var', 'lib', 'nodegen', 'status.json'), 'utf8'))
    assert.equal(done.phase, 'ready')
    assert.equal(done.state, 'ready')
    assert.match(done.certificates.lastRenewal, /^\d{4}-\d\d-\d\dT/)
    assert.equal(done.certificates.due, 0)
    assert.ok(done.certificates.soonestSeconds > 360 * 86400)
    assert.match(r.stdout, /nodegen: renew-a control-plane certificates renewed; the soonest \(\S+\) now expires in 3\d\dd/)
    assert.equal(lease(e, a).holder, '', 'the Lease is given back')
  })
  it('pki check-expiration --kubeconfig: the serving certificate the API server presents, and its version', async (t) => {
    const e = ready(t)
    if (!e) return
    const a = nodeTree(e, 'served', '8760h')
    const served = await servedCertificates({kubeconfig: path.join(a, 'etc', 'kubernetes', 'admin.conf')}, new Date(), 30 * 86400)
    assert.equal(served.server, `https://127.0.0.1:${e.port}`)
    assert.equal(served.version, KUBE)
    const cert = new X509Certificate(readFileSync(path.join(e.tmp, 'server', 'apiserver.crt')))
    assert.equal(served.certificates[0]?.name, 'apiserver')
    assert.equal(served.certificates[0]?.notAfter, new Date(cert.validTo).toISOString())
    assert.equal(served.certificates[0]?.within, false)
    const soon = await servedCertificates({server: `https://127.0.0.1:${e.port}`}, new Date(), 400 * 86400)
    assert.equal(soon.certificates[0]?.within, true, 'inside a 400-day window')
    assert.equal(soon.version, undefined, 'no credentials, no version')
  })

  it('nodegen upgrade reads the version from the API server and hands the plan over as a ConfigMap', async (t) => {
    const e = ready(t)
    if (!e) return
    const a = nodeTree(e, 'upgrader', '8760h')
    const file = path.join(REPO_ROOT, 'profiles', 'quickstart.yaml')
    const kubeconfig = path.join(a, 'etc', 'kubernetes', 'admin.conf')
    const cluster = clusterAt(loadCluster(file), '1.35.0')
    const r = await upgrade({cluster, profilePath: file, stateDir: path.join(e.tmp, 'no-state'), kubeconfig, handOver: true})
    assert.equal(r.plan.from, KUBE)
    assert.equal(r.plan.fromSource, 'api')
    assert.equal(r.plan.kind, 'minor')
    assert.deepEqual(r.handedOver, {
      namespace: 'kube-system',
      name: 'nodegen-upgrade',
      server: `https://127.0.0.1:${e.port}`,
      version: '1.35.0',
      planHash: r.plan.hash,
    })
    const cm = JSON.parse(
      run(e.kubectl, ['--kubeconfig', kubeconfig, 'get', 'configmap', '-n', 'kube-system', 'nodegen-upgrade', '-o', 'json']).stdout,
    ) as {data: Record<string, string>; metadata: {labels: Record<string, string>}}
    assert.equal(cm.data.version, '1.35.0')
    assert.equal(cm.data.from, KUBE)
    assert.equal(cm.data.planHash, r.plan.hash)
    assert.equal(JSON.parse(cm.data['plan.json'] ?? '{}').hash, r.plan.hash)
    assert.equal(cm.metadata.labels['app.kubernetes.io/managed-by'], 'nodegen')
    // Handing the same plan over again changes nothing; a refused step reaches nothing.
    const again = await upgrade({cluster, profilePath: file, stateDir: path.join(e.tmp, 'no-state'), kubeconfig, handOver: true})
    assert.equal(again.plan.hash, r.plan.hash)
    await assert.rejects(
      upgrade({
        cluster: clusterAt(cluster, '1.36.3'),
        profilePath: file,
        stateDir: path.join(e.tmp, 'no-state'),
        kubeconfig,
        handOver: true,
      }),
      /NG1203|skips 1\.35/,
    )
  })
})
