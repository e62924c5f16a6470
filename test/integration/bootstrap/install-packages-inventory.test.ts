/**
 * `nodegen images` lists the packages install-packages.sh installs: the script runs with the
 * parameters a node gets, with recording stand-ins for dnf, apt-get, apt-mark, curl, install and
 * chmod (nothing is installed or written outside the test's directory), and what it asks the
 * package manager for must be the inventory's packages for that OS and role — across OS families,
 * runtimes and their sources, roles, load balancers and firewall settings.
 */
import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {header} from '../../../src/plan/files.js'
import {buildInventory, type InventoryOs, type InventoryPackage} from '../../../src/plan/inventory.js'
import {bootstrapParams, encodeParams} from '../../../src/plan/params.js'
import type {Cluster, ClusterNode} from '../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR, REPO_ROOT} from '../../support/profiles.js'
import {run} from '../../support/tools.js'

const SCRIPT = path.join(REPO_ROOT, 'assets/bootstrap/install-packages.sh')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-install-inventory-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const bin = path.join(tmp, 'bin')
mkdirSync(bin)
for (const name of ['dnf', 'apt-get', 'apt-mark', 'curl', 'install', 'chmod']) {
  const f = path.join(bin, name)
  // apt-get also notes whether invoke-rc.d would start services (the script's policy-rc.d).
  const policy =
    name === 'apt-get'
      ? `if grep -qx 'exit 101' "$NODEGEN_POLICY_RC" 2>/dev/null; then echo 'policy-rc.d: no starts' >>"$NODEGEN_TEST_LOG"; fi\n`
      : ''
  writeFileSync(f, `#!/bin/sh\n${policy}printf '%s\\n' "${name} $*" >>"$NODEGEN_TEST_LOG"\n`)
  chmodSync(f, 0o755)
}

/** The package arguments of every dnf/apt-get install the script ran for this node. */
function requested(cluster: Cluster, node: ClusterNode): string[] {
  const dir = mkdtempSync(path.join(tmp, `${node.name}-`))
  const params = path.join(dir, 'bootstrap.env')
  writeFileSync(params, encodeParams(bootstrapParams(cluster, node), header(cluster, node)))
  const log = path.join(dir, 'calls.log')
  writeFileSync(log, '')
  // The script keeps services down with a policy-rc.d while it installs: in the scratch folder.
  const policy = path.join(path.dirname(params), 'policy-rc.d')
  run('bash', [SCRIPT, params], {
    env: {...process.env, PATH: `${bin}:${process.env.PATH}`, NODEGEN_TEST_LOG: log, NODEGEN_POLICY_RC: policy},
  })
  const out: string[] = []
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const [cmd, ...args] = line.split(' ')
    if ((cmd !== 'dnf' && cmd !== 'apt-get') || !args.includes('install')) continue
    for (let i = args.indexOf('install') + 1; i < args.length; i++) {
      const a = args[i] ?? ''
      if (a === '-o') i++
      else if (a !== '' && !a.startsWith('-')) out.push(a)
    }
  }
  return out.sort()
}

const nodesOf = (os: string, etcd = false) =>
  (etcd
    ? `
    - {name: etcd-1, role: etcd, ip: 10.0.0.31/24, os: ${os}}
    - {name: etcd-2, role: etcd, ip: 10.0.0.32/24, os: ${os}}
    - {name: etcd-3, role: etcd, ip: 10.0.0.33/24, os: ${os}}`
    : '') +
  `
    - {name: cp-1, role: control-plane, ip: 10.0.0.11/24, os: ${os}}
    - {name: w-1, role: worker, ip: 10.0.0.21/24, os: ${os}}`

const CASES: Array<[string, string]> = []
for (const os of ['almalinux-9', 'debian-12']) {
  CASES.push(
    [
      `${os}, containerd from Docker, keepalived-haproxy, open ports`,
      `  loadBalancer: {type: keepalived-haproxy}\n  firewall: open-ports\n  nodes:${nodesOf(os)}`,
    ],
    [
      `${os}, CRI-O, keepalived, firewall disabled`,
      `  containerRuntime: {type: cri-o}\n  loadBalancer: {type: keepalived}\n  firewall: disabled\n  nodes:${nodesOf(os)}`,
    ],
    [
      `${os}, the distribution's containerd, external etcd, kube-vip`,
      `  topology: external\n  containerRuntime: {type: containerd, source: distribution}\n  loadBalancer: {type: kube-vip}\n  nodes:${nodesOf(os, true)}`,
    ],
  )
}

describe("install-packages.sh installs the inventory's packages", () => {
  for (const [label, spec] of CASES) {
    it(label, () => {
      const cluster = loadCluster(
        path.join(PROFILES_DIR, 'inline.yaml'),
        `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: inline}
spec:
  kubernetes: {version: 1.34.2}
  controlPlaneEndpoint: {host: 10.0.0.100}
${spec}
`,
      )
      const inv = buildInventory(cluster)
      assert.equal(inv.os.length, 1)
      const entry: InventoryOs = inv.os[0] as InventoryOs
      for (const role of entry.roles) {
        const node = cluster.nodes.find((n) => n.role === role) as ClusterNode
        const got = requested(cluster, node)
        const listed: InventoryPackage[] = entry.packages.filter((p) => p.roles.includes(role) && p.dependencyOf === undefined)
        // Packages installed only in a case (curl missing) may be absent; everything else is exact.
        const always = listed.filter((p) => p.when === undefined).map((p) => p.request)
        const allowed = new Set(listed.map((p) => p.request))
        for (const r of always)
          assert.ok(got.includes(r), `${role}: the inventory lists ${r}, the script does not install it (${got.join(' ')})`)
        for (const r of got) assert.ok(allowed.has(r), `${role}: the script installs ${r}, the inventory does not list it`)
      }
    })
  }
})

describe('a Debian install starts no service by itself', () => {
  it('apt-get install runs under a policy-rc.d that refuses every start, gone afterwards', () => {
    const cluster = loadCluster(
      path.join(PROFILES_DIR, 'inline.yaml'),
      `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: inline}
spec:
  kubernetes: {version: 1.34.2}
  os: debian-12
  nodes:
    - {name: cp-1, role: control-plane, ip: 10.0.0.11/24}
`,
    )
    const node = cluster.nodes[0] as ClusterNode
    const dir = mkdtempSync(path.join(tmp, 'policy-'))
    const params = path.join(dir, 'bootstrap.env')
    writeFileSync(params, encodeParams(bootstrapParams(cluster, node), header(cluster, node)))
    const log = path.join(dir, 'calls.log')
    writeFileSync(log, '')
    const policy = path.join(dir, 'policy-rc.d')
    run('bash', [SCRIPT, params], {
      env: {...process.env, PATH: `${bin}:${process.env.PATH}`, NODEGEN_TEST_LOG: log, NODEGEN_POLICY_RC: policy},
    })
    const calls = readFileSync(log, 'utf8').split('\n')
    const install = calls.findIndex((l) => /^apt-get (.* )?install /.test(l))
    assert.ok(install > 0, calls.join('\n'))
    assert.equal(calls[install - 1], 'policy-rc.d: no starts', 'keepalived and haproxy would start during the install')
    assert.equal(existsSync(policy), false, 'the policy-rc.d is removed after the install')
  })
})
