/**
 * The rendered etcd static pods, run for real: three members started with exactly the command each
 * manifest holds (paths and ports moved into a temporary directory and free ports, member addresses
 * on 127.0.0.11–13), with certificates made by openssl here. They must form one cluster and pass
 * the manifests' own liveness probe.
 */
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, test} from 'node:test'
import {parse} from 'yaml'
import {buildEtcdMemberFiles, ETCD_MANIFEST_PATH} from '../../../../src/plan/etcd/index.js'
import type {Cluster} from '../../../../src/profile/index.js'
import {requireTool, run} from '../../../support/tools.js'
import {cluster} from '../../../unit/plan/kubeadm/fixtures.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-etcd-'))
const children: ChildProcess[] = []
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  rmSync(tmp, {recursive: true, force: true})
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address() as {port: number}
      s.close(() => resolve(port))
    })
  })
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms))
}

test('three etcd members from the rendered manifests form a cluster', {timeout: 120_000}, async (t) => {
  const etcd = requireTool(t, 'etcd')
  const openssl = requireTool(t, 'openssl')
  const curl = requireTool(t, 'curl')

  const base = cluster('ha-external-etcd')
  const addr = (ordinal: number) => `127.0.0.${11 + ordinal}`
  const c: Cluster = {...base, nodes: base.nodes.map((n) => (n.role === 'etcd' ? {...n, ip: addr(n.ordinal)} : n))}
  const members = c.nodes.filter((n) => n.role === 'etcd')

  // The etcd CA and, per member, server and peer certificates for its address and loopback.
  const ssl = (...args: string[]) => run(openssl, args, {cwd: tmp})
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=etcd-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  )
  const issue = (dir: string, name: string, cn: string, san: string) => {
    const ext = path.join(dir, `${name}.ext`)
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`)
    ssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      path.join(dir, `${name}.key`),
      '-out',
      path.join(dir, `${name}.csr`),
    )
    ssl(
      'x509',
      '-req',
      '-in',
      path.join(dir, `${name}.csr`),
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      path.join(dir, `${name}.crt`),
    )
  }
  issue(tmp, 'client', 'healthcheck-client', 'DNS:client')

  const clientPort = await freePort()
  const peerPort = await freePort()
  const loops: Array<{client: number; metrics: number}> = []
  for (const m of members) {
    const pki = path.join(tmp, m.name, 'pki')
    mkdirSync(pki, {recursive: true})
    run('cp', [path.join(tmp, 'ca.crt'), path.join(pki, 'ca.crt')])
    for (const kind of ['server', 'peer']) issue(pki, kind, m.name, `IP:${m.ip},IP:127.0.0.1,DNS:${m.name},DNS:localhost`)
    const loop = {client: await freePort(), metrics: await freePort()}
    loops.push(loop)

    // biome-ignore lint/suspicious/noExplicitAny: a pod read as plain data
    const pod: any = parse(buildEtcdMemberFiles(c, m).files.find((f) => f.path === ETCD_MANIFEST_PATH)!.content)
    const command: string[] = pod.spec.containers[0].command
    assert.equal(command[0], 'etcd')
    const args = command.slice(1).map((a) =>
      a
        .replaceAll('/etc/kubernetes/pki/etcd/', `${pki}/`)
        .replaceAll('/var/lib/etcd', path.join(tmp, m.name, 'data'))
        .replaceAll('https://127.0.0.1:2379', `https://127.0.0.1:${loop.client}`)
        .replaceAll('http://127.0.0.1:2381', `http://127.0.0.1:${loop.metrics}`)
        .replaceAll(':2379', `:${clientPort}`)
        .replaceAll(':2380', `:${peerPort}`),
    )
    const child = spawn(etcd, args, {stdio: ['ignore', 'ignore', 'pipe']})
    let log = ''
    child.stderr?.on('data', (d) => {
      log = (log + d.toString()).slice(-4000)
    })
    child.on('exit', (code) => {
      if (code !== null && code !== 0) t.diagnostic(`${m.name} exited ${code}: ${log}`)
    })
    children.push(child)
  }

  // Every member passes the manifest's liveness probe (host, port and path as rendered, port moved).
  // biome-ignore lint/suspicious/noExplicitAny: a pod read as plain data
  const probe = (parse(buildEtcdMemberFiles(c, members[0]!).files.find((f) => f.path === ETCD_MANIFEST_PATH)!.content) as any).spec
    .containers[0].livenessProbe.httpGet
  assert.equal(probe.port, 2381)
  const deadline = Date.now() + 60_000
  for (const [i, m] of members.entries()) {
    let body = ''
    while (Date.now() < deadline) {
      for (const ch of children) assert.equal(ch.exitCode, null, 'an etcd member exited (see diagnostics)')
      try {
        const r = await fetch(`http://${probe.host}:${loops[i]!.metrics}${probe.path}`)
        body = await r.text()
        if (r.ok && body.includes('"health":"true"')) break
      } catch {}
      await sleep(300)
    }
    assert.match(body, /"health":"true"/, `${m.name} healthy`)
  }

  // One cluster of three, reached over TLS with client-certificate authentication on a member's address.
  const list = run(curl, [
    '-fsS',
    '--cacert',
    path.join(tmp, 'ca.crt'),
    '--cert',
    path.join(tmp, 'client.crt'),
    '--key',
    path.join(tmp, 'client.key'),
    '-X',
    'POST',
    '-d',
    '{}',
    `https://${members[1]!.ip}:${clientPort}/v3/cluster/member/list`,
  ]).stdout
  const names = [...list.matchAll(/"name":"([^"]+)"/g)].map((x) => x[1]).sort()
  assert.deepEqual(names, members.map((m) => m.name).sort())

  // And without a client certificate the member refuses (client-cert-auth=true).
  const anon = run(curl, ['-fsS', '--cacert', path.join(tmp, 'ca.crt'), `https://${members[0]!.ip}:${clientPort}/health`], {
    allowFail: true,
  })
  assert.notEqual(anon.status, 0)
})
