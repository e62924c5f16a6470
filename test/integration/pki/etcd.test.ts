/**
 * A real three-member etcd cluster (Debian's etcd-server) on loopback addresses, started with the
 * member certificates nodegen issued, client and peer certificate authentication on. etcdctl with
 * the issued healthcheck-client certificate writes and reads; a client certificate from another CA
 * is refused.
 */
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {loadOrCreateState} from '../../../src/pki/index.js'
import type {Cluster} from '../../../src/profile/index.js'
import {fixtureCluster, fixturePkiContext} from '../../support/pki-fixture.js'
import {requireTool, run} from '../../support/tools.js'

const MEMBERS = [
  {name: 'etcd-01', ip: '127.0.0.11'},
  {name: 'etcd-02', ip: '127.0.0.12'},
  {name: 'etcd-03', ip: '127.0.0.13'},
]

/** A free TCP port on `ip` (loopback addresses other than 127.0.0.1 work on Linux without setup). */
function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, ip, () => {
      const {port} = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/** The fixture's external-etcd cluster with its members moved to loopback addresses. */
function loopbackCluster(name: string): Cluster {
  const c = fixtureCluster('ha-external-etcd')
  return {
    ...c,
    name,
    nodes: c.nodes.map((n) => {
      const m = MEMBERS.find((x) => x.name === n.name)
      return m ? {...n, ip: m.ip} : n
    }),
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('a real 3-member etcd cluster with the issued certificates', {timeout: 60_000}, () => {
  const procs: ChildProcess[] = []
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-etcd-'))

  after(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM')
    await sleep(300)
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    rmSync(tmp, {recursive: true, force: true})
  })

  it('serves clients holding the healthcheck-client certificate and refuses another CA', async (t) => {
    const etcd = requireTool(t, 'etcd')
    const etcdctl = requireTool(t, 'etcdctl')
    const state = path.join(tmp, 'state')
    await loadOrCreateState(state, loopbackCluster('etcd-test'), fixturePkiContext({seed: 'etcd', now: new Date()}))
    const other = path.join(tmp, 'other')
    // Fresh keys: the test key pool is shared, and a CA with the same name and key *is* the same CA.
    await loadOrCreateState(other, loopbackCluster('other-ca'), fixturePkiContext({seed: 'other', now: new Date(), freshKeys: true}))

    const ports = await Promise.all(MEMBERS.map(async (m) => ({client: await freePort(m.ip), peer: await freePort(m.ip)})))
    const initialCluster = MEMBERS.map((m, i) => `${m.name}=https://${m.ip}:${ports[i]?.peer}`).join(',')
    const pki = path.join(state, 'pki')
    MEMBERS.forEach((m, i) => {
      const dataDir = path.join(tmp, `${m.name}.data`)
      mkdirSync(dataDir, {mode: 0o700})
      const log = openSync(path.join(tmp, `${m.name}.log`), 'w')
      const member = path.join(pki, 'etcd', m.name)
      const p = spawn(
        etcd,
        [
          `--name=${m.name}`,
          `--data-dir=${dataDir}`,
          `--listen-client-urls=https://${m.ip}:${ports[i]?.client}`,
          `--advertise-client-urls=https://${m.ip}:${ports[i]?.client}`,
          `--listen-peer-urls=https://${m.ip}:${ports[i]?.peer}`,
          `--initial-advertise-peer-urls=https://${m.ip}:${ports[i]?.peer}`,
          `--initial-cluster=${initialCluster}`,
          '--initial-cluster-state=new',
          '--initial-cluster-token=nodegen-test',
          `--cert-file=${member}/server.crt`,
          `--key-file=${member}/server.key`,
          '--client-cert-auth',
          `--trusted-ca-file=${pki}/etcd/ca.crt`,
          `--peer-cert-file=${member}/peer.crt`,
          `--peer-key-file=${member}/peer.key`,
          '--peer-client-cert-auth',
          `--peer-trusted-ca-file=${pki}/etcd/ca.crt`,
        ],
        {stdio: ['ignore', log, log]},
      )
      closeSync(log)
      procs.push(p)
    })
    t.after(() => {
      // Shown only when the test fails (node:test prints diagnostics of failed tests).
      for (const m of MEMBERS)
        t.diagnostic(
          `${m.name}: ${readFileSync(path.join(tmp, `${m.name}.log`), 'utf8')
            .split('\n')
            .slice(-5)
            .join(' | ')}`,
        )
    })

    const endpoints = MEMBERS.map((m, i) => `https://${m.ip}:${ports[i]?.client}`).join(',')
    const ctl = (certDir: string, cert: string, ...args: string[]) =>
      run(
        etcdctl,
        [
          `--endpoints=${endpoints}`,
          `--cacert=${pki}/etcd/ca.crt`,
          `--cert=${certDir}/${cert}.crt`,
          `--key=${certDir}/${cert}.key`,
          '--dial-timeout=2s',
          '--command-timeout=4s',
          ...args,
        ],
        {env: {...process.env, ETCDCTL_API: '3'}, allowFail: true},
      )

    const deadline = Date.now() + 25_000
    let health = ctl(pki, 'etcd/healthcheck-client', 'endpoint', 'health')
    while (health.status !== 0 && Date.now() < deadline) {
      assert.ok(
        procs.every((p) => p.exitCode === null),
        `an etcd member exited: ${MEMBERS.map((m) => readFileSync(path.join(tmp, `${m.name}.log`), 'utf8')).join('\n')}`,
      )
      await sleep(300)
      health = ctl(pki, 'etcd/healthcheck-client', 'endpoint', 'health')
    }
    assert.equal(health.status, 0, `cluster not healthy: ${health.stderr}`)
    assert.equal((health.stdout + health.stderr).match(/is healthy/g)?.length, 3)

    const members = ctl(pki, 'etcd/healthcheck-client', 'member', 'list', '--write-out=simple')
    assert.equal(members.status, 0, members.stderr)
    for (const m of MEMBERS) assert.match(members.stdout, new RegExp(`started, ${m.name}, https://${m.ip.replace(/\./g, '\\.')}:`))

    const put = ctl(pki, 'etcd/healthcheck-client', 'put', '/nodegen/test', 'issued-offline')
    assert.equal(put.status, 0, put.stderr)
    const get = ctl(pki, 'etcd/healthcheck-client', 'get', '/nodegen/test', '--print-value-only')
    assert.equal(get.stdout.trim(), 'issued-offline')
    // The API server's client pair works the same way.
    assert.equal(ctl(pki, 'apiserver-etcd-client', 'get', '/nodegen/test', '--print-value-only').stdout.trim(), 'issued-offline')

    // A healthcheck-client certificate of another cluster's etcd CA: the TLS handshake is refused.
    const refused = ctl(path.join(other, 'pki'), 'etcd/healthcheck-client', 'get', '/nodegen/test', '--print-value-only')
    assert.notEqual(refused.status, 0)
    assert.doesNotMatch(refused.stdout, /issued-offline/)
    assert.match(refused.stderr, /certificate|tls|deadline exceeded|context deadline/i)
  })
})
