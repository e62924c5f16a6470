/**
 * The rendered endpoint files against the real tools: `haproxy -c`, `keepalived -t`, `shellcheck`,
 * and check_apiserver.sh run against local HTTPS servers answering 200 and 500.
 */
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {
  buildEndpointFiles,
  CHECK_APISERVER_SCRIPT,
  CHECK_SCRIPT_PATH,
  HAPROXY_CFG_PATH,
  KEEPALIVED_CONF_PATH,
} from '../../../../src/plan/ha/index.js'
import {type Cluster, controlPlanes} from '../../../../src/profile/index.js'
import {findTool, requireTool, run} from '../../../support/tools.js'
import {cluster} from '../../../unit/plan/kubeadm/fixtures.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-endpoint-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const VARIANTS: Array<[string, Cluster]> = [
  ['quickstart: 3 control planes, multicast, no authentication', cluster('quickstart')],
  [
    'quickstart with unicast and authPass',
    cluster('quickstart', (s) => {
      s.loadBalancer.unicast = true
      s.loadBalancer.authPass = 'k8sVrrp1'
    }),
  ],
  ['ha-external-etcd: unicast, authPass', cluster('ha-external-etcd')],
  [
    'keepalived alone, interface override',
    cluster('quickstart', (s) => {
      s.loadBalancer.type = 'keepalived'
      s.loadBalancer.interface = 'eth0'
    }),
  ],
  [
    'haproxy on 8443 in front of API servers on 6443',
    cluster('quickstart', (s) => {
      s.controlPlaneEndpoint.port = 8443
    }),
  ],
]

function content(c: Cluster, nodeIndex: number, p: string): string | undefined {
  return buildEndpointFiles(c, c.nodes[nodeIndex]!).files.find((f) => f.path === p)?.content
}

let seq = 0
function writeTmp(name: string, text: string, mode = 0o644): string {
  const p = path.join(tmp, `${seq++}-${name}`)
  writeFileSync(p, text, {mode})
  return p
}

/**
 * `keepalived -t` on the file exactly as rendered, in a private mount namespace where
 * /etc/keepalived holds it and the check script (keepalived disables a track script it cannot find,
 * and -t then fails). Without the privilege for that, the script path is pointed at a copy.
 */
function keepalivedTest(keepalived: string, conf: string): {status: number; output: string} {
  const dir = mkdtempSync(path.join(tmp, 'keepalived-'))
  writeFileSync(path.join(dir, 'keepalived.conf'), conf)
  writeFileSync(path.join(dir, 'check_apiserver.sh'), CHECK_APISERVER_SCRIPT, {mode: 0o755})
  const ns = run(
    'unshare',
    [
      '--mount',
      'sh',
      '-c',
      'mount --make-rprivate / && mount --bind "$1" /etc/keepalived && exec "$2" -t -f /etc/keepalived/keepalived.conf',
      'sh',
      dir,
      keepalived,
    ],
    {allowFail: true},
  )
  if (!/unshare failed|Operation not permitted|mount:/.test(ns.stderr)) return {status: ns.status, output: ns.stderr + ns.stdout}
  const copy = path.join(dir, 'keepalived-copy.conf')
  writeFileSync(copy, conf.replace(`"${CHECK_SCRIPT_PATH}"`, `"${path.join(dir, 'check_apiserver.sh')}"`))
  const r = run(keepalived, ['-t', '-f', copy], {allowFail: true})
  return {status: r.status, output: r.stderr + r.stdout}
}

describe('haproxy -c and keepalived -t accept every rendered configuration', () => {
  for (const [name, c] of VARIANTS) {
    test(name, (t) => {
      const haproxy = requireTool(t, 'haproxy')
      const keepalived = requireTool(t, 'keepalived')
      requireTool(t, 'unshare')
      for (const cp of controlPlanes(c)) {
        const cfg = content(c, cp.index, HAPROXY_CFG_PATH)
        if (c.loadBalancer.type === 'keepalived-haproxy') {
          assert.ok(cfg, `${cp.name} has haproxy.cfg`)
          const r = run(haproxy, ['-c', '-f', writeTmp('haproxy.cfg', cfg)], {allowFail: true})
          assert.equal(r.status, 0, `haproxy -c ${cp.name}: ${r.stderr}${r.stdout}`)
          assert.doesNotMatch(r.stderr + r.stdout, /WARNING|ALERT/, `${cp.name}: haproxy warns`)
        } else assert.equal(cfg, undefined)
        const conf = content(c, cp.index, KEEPALIVED_CONF_PATH)
        assert.ok(conf)
        const k = keepalivedTest(keepalived, conf)
        assert.equal(k.status, 0, `keepalived -t ${cp.name}: ${k.output}`)
        assert.doesNotMatch(k.output, /Unknown keyword|not found|invalid/i, `${cp.name}: ${k.output}`)
      }
    })
  }

  test('the checks are not vacuous: a broken configuration fails both', (t) => {
    const haproxy = requireTool(t, 'haproxy')
    const keepalived = requireTool(t, 'keepalived')
    requireTool(t, 'unshare')
    const c = cluster('quickstart')
    const cfg = content(c, 0, HAPROXY_CFG_PATH)!.replace('balance roundrobin', 'balance nonsense')
    assert.notEqual(run(haproxy, ['-c', '-f', writeTmp('bad-haproxy.cfg', cfg)], {allowFail: true}).status, 0)
    const conf = content(c, 0, KEEPALIVED_CONF_PATH)!.replace('virtual_router_id 51', 'virtual_router_id 300')
    assert.notEqual(keepalivedTest(keepalived, conf).status, 0)
  })
})

test('shellcheck passes on check_apiserver.sh', (t) => {
  const shellcheck = requireTool(t, 'shellcheck')
  const script = content(cluster('quickstart'), 0, CHECK_SCRIPT_PATH)!
  const r = run(shellcheck, ['--shell=sh', '--severity=style', writeTmp('check_apiserver.sh', script, 0o755)], {allowFail: true})
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

describe('check_apiserver.sh against local HTTPS servers', () => {
  let ok: Server
  let failing: Server
  let okPort = 0
  let failPort = 0
  let closedPort = 0
  let script = ''

  before(async () => {
    // Without openssl the tests below skip (or, under CI=true, fail) through their own requireTool.
    const openssl = findTool('openssl')
    if (!openssl) return
    const key = path.join(tmp, 'tls.key')
    const crt = path.join(tmp, 'tls.crt')
    run(openssl, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      key,
      '-out',
      crt,
    ])
    const tls = {key: readFileSync(key), cert: readFileSync(crt)}
    ok = createServer(tls, (req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404)
      res.end('ok')
    })
    failing = createServer(tls, (_req, res) => {
      res.writeHead(500)
      res.end('[-]etcd failed')
    })
    const listen = (s: Server) =>
      new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)))
    okPort = await listen(ok)
    failPort = await listen(failing)
    const probe = createServer(tls)
    closedPort = await listen(probe)
    await new Promise((r) => probe.close(r))
    script = writeTmp('check_apiserver.sh', content(cluster('quickstart'), 0, CHECK_SCRIPT_PATH)!, 0o755)
  })
  after(() => {
    ok?.close()
    failing?.close()
  })

  /** Runs the script asynchronously (the servers answer from this process's event loop). */
  function check(env: string): Promise<{code: number; stderr: string}> {
    const envFile = writeTmp('endpoint.env', env)
    return new Promise((resolve) => {
      execFile('sh', [script, envFile], {timeout: 20000}, (err, _stdout, stderr) => {
        resolve({code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr})
      })
    })
  }
  const env = (vip: string, vipPort: number, localPort: number, extra = '') =>
    `# Generated by nodegen\n${extra}APISERVER_VIP=${vip}\nAPISERVER_VIP_PORT=${vipPort}\nAPISERVER_LOCAL_PORT=${localPort}\n`

  test('exit 0 when 127.0.0.1:<port>/healthz answers 200', async (t) => {
    requireTool(t, 'curl')
    requireTool(t, 'openssl')
    const r = await check(env('10.255.255.254', 6443, okPort))
    assert.equal(r.code, 0, r.stderr)
  })

  test('exit 1 when it answers 500, or nothing listens', async (t) => {
    requireTool(t, 'curl')
    requireTool(t, 'openssl')
    const r = await check(env('10.255.255.254', 6443, failPort))
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`GET https://127\\.0\\.0\\.1:${failPort}/healthz failed`))
    assert.equal((await check(env('10.255.255.254', 6443, closedPort))).code, 1)
  })

  test('on the VIP holder the VIP is checked too (127.0.0.1 stands in for a held VIP)', async (t) => {
    requireTool(t, 'curl')
    requireTool(t, 'openssl')
    requireTool(t, 'ip')
    assert.equal((await check(env('127.0.0.1', okPort, okPort))).code, 0)
    const r = await check(env('127.0.0.1', failPort, okPort))
    assert.equal(r.code, 1)
    assert.match(r.stderr, /on the VIP holder/)
  })

  test('values are data: shapes checked, nothing evaluated, unknown keys and comments ignored', async (t) => {
    requireTool(t, 'curl')
    requireTool(t, 'openssl')
    const marker = path.join(tmp, 'evaluated')
    const hostile = `APISERVER_X=$(touch ${marker})\n`
    assert.equal((await check(env('10.255.255.254', 6443, okPort, hostile))).code, 0)
    assert.equal(existsSync(marker), false)
    const bad = await check(`APISERVER_VIP=10.0.0.1;touch ${marker}\nAPISERVER_VIP_PORT=6443\nAPISERVER_LOCAL_PORT=${okPort}\n`)
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /APISERVER_VIP .* is not an IPv4 address/)
    assert.equal(existsSync(marker), false)
    assert.equal((await check(`APISERVER_VIP=10.0.0.1\nAPISERVER_VIP_PORT=6443\nAPISERVER_LOCAL_PORT=99999\n`)).code, 1)
    assert.equal((await check(`APISERVER_VIP=10.0.0.1\nAPISERVER_VIP_PORT=6443\n`)).code, 1)
    const missing = await new Promise<number>((resolve) =>
      execFile('sh', [script, path.join(tmp, 'does-not-exist.env')], (err) => resolve(err && typeof err.code === 'number' ? err.code : 0)),
    )
    assert.equal(missing, 1)
  })
})
