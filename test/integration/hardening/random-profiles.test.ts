/**
 * Random *valid* profiles (versions, topologies, endpoint types, OSes, runtimes, CNIs, algorithms,
 * proxies, labels) always render to output the real consumers accept: cloud-init's schema, the
 * shared kubeadm/kubelet/kube-proxy schemas, haproxy -c and keepalived -t. A fixed seed always runs;
 * a random one is printed for reproduction (NODEGEN_FUZZ_SEED).
 */
import assert from 'node:assert/strict'
import {randomInt} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import fc from 'fast-check'
import {stringify} from 'yaml'
import {materialFromSecrets} from '../../../src/app/material.js'
import {renderNode} from '../../../src/app/render.js'
import {loadOrCreateCalendar, loadOrCreateState} from '../../../src/pki/index.js'
import {loadProfile, OS_IDS} from '../../../src/profile/index.js'
import {fixturePkiContext} from '../../support/pki-fixture.js'
import {cloudInit} from '../../support/render.js'
import {validateKubeDocuments} from '../../support/schemas.js'
import {requireTool, run} from '../../support/tools.js'

const FIXED_SEED = 4242
const RANDOM_SEED = Number(process.env.NODEGEN_FUZZ_SEED ?? randomInt(1, 2 ** 31 - 1))
const RUNS = Number(process.env.NODEGEN_FUZZ_RUNS ?? 8)
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-randprof-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const labelValue = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,10}[a-z0-9])?$/)
const profileArb = fc.record({
  minor: fc.integer({min: 29, max: 36}),
  patch: fc.integer({min: 0, max: 12}),
  cps: fc.constantFrom(1, 3, 5),
  workers: fc.integer({min: 0, max: 3}),
  external: fc.boolean(),
  lb: fc.constantFrom('keepalived-haproxy', 'keepalived', 'kube-vip', 'external'),
  unicast: fc.boolean(),
  os: fc.constantFrom(...OS_IDS.filter((o) => o !== 'flatcar')),
  runtime: fc.constantFrom('containerd', 'cri-o'),
  cni: fc.constantFrom('flannel', 'calico'),
  alg: fc.constantFrom('ECDSA-P256', 'RSA-2048'),
  proxy: fc.boolean(),
  firewall: fc.constantFrom('open-ports', 'disabled'),
  baked: fc.boolean(),
  label: labelValue,
})

type P = typeof profileArb extends fc.Arbitrary<infer T> ? T : never

function toProfile(p: P, name: string): string {
  const nodes: Array<Record<string, unknown>> = []
  let ip = 10
  if (p.external) for (let i = 0; i < 3; i++) nodes.push({name: `etcd-${i}`, role: 'etcd', ip: `10.9.0.${ip++}/24`})
  for (let i = 0; i < p.cps; i++) nodes.push({name: `cp-${i}`, role: 'control-plane', ip: `10.9.0.${ip++}/24`})
  for (let i = 0; i < p.workers; i++)
    nodes.push({name: `w-${i}`, role: 'worker', ip: `10.9.0.${ip++}/24`, labels: {'example.com/tier': p.label}})
  const spec: Record<string, unknown> = {
    kubernetes: {version: `1.${p.minor}.${p.patch}`},
    topology: p.external ? 'external' : 'stacked',
    os: p.os,
    containerRuntime: {type: p.runtime},
    networking: {cni: {type: p.cni}, podSubnet: '10.244.0.0/16', gateway: '10.9.0.1', dnsServers: ['10.9.0.1']},
    pki: {keyAlgorithm: p.alg},
    firewall: p.firewall,
    image: {baked: p.baked},
    nodes,
  }
  if (p.cps > 1 || p.lb !== 'external') {
    spec.controlPlaneEndpoint = {host: p.lb === 'external' ? 'api.example.com' : '10.9.0.200', port: 6443}
    spec.loadBalancer = {type: p.lb, unicast: p.unicast}
  }
  if (p.proxy) spec.proxy = {http: 'http://proxy.example.com:3128', https: 'http://proxy.example.com:3128', noProxy: ['.example.com']}
  return stringify({apiVersion: 'nodegen.dev/v1alpha1', kind: 'Cluster', metadata: {name}, spec})
}

describe('random valid profiles', () => {
  it('render to output cloud-init, the kubeadm schemas, haproxy and keepalived accept', async (t) => {
    const ci = requireTool(t, 'cloud-init')
    const haproxy = requireTool(t, 'haproxy')
    let n = 0
    for (const seed of [FIXED_SEED, RANDOM_SEED]) {
      const samples = fc.sample(profileArb, {seed, numRuns: RUNS})
      for (const p of samples) {
        const name = `rand-${n++}`
        const text = toProfile(p, name)
        const r = loadProfile(text, `${name}.yaml`)
        const errors = r.diagnostics.filter((d) => d.severity === 'error')
        assert.deepEqual(errors, [], `seed ${seed}: a valid profile was refused:\n${text}`)
        const cluster = r.cluster
        assert.ok(cluster)
        const dir = path.join(tmp, name)
        const ctx = fixturePkiContext()
        const {secrets} = await loadOrCreateState(dir, cluster, ctx)
        const material = materialFromSecrets(cluster, secrets, await loadOrCreateCalendar(dir, ctx), new Date('2026-06-01T00:00:00Z'))
        const picks = [
          cluster.nodes.find((x) => x.role === 'control-plane' && x.ordinal === 0),
          cluster.nodes.find((x) => x.role === 'worker'),
          cluster.nodes.find((x) => x.role === 'etcd'),
        ]
        for (const node of picks) {
          if (!node) continue
          const out = renderNode(cluster, node, material, undefined)
          const f = path.join(dir, `${node.name}.user-data`)
          writeFileSync(f, cloudInit(out).userData)
          const s = run(ci, ['schema', '--config-file', f], {allowFail: true})
          assert.equal(s.status, 0, `seed ${seed} ${name}/${node.name}: ${s.stdout}${s.stderr}\n${text}`)
          for (const file of out.plan.files) {
            if (/kubeadm\/config(-next)?\.yaml$|etcd-kubelet\.yaml$/.test(file.path))
              for (const d of validateKubeDocuments(file.content))
                assert.deepEqual(d.errors, [], `seed ${seed} ${name}/${node.name} ${d.kind}\n${text}`)
            if (file.path === '/etc/haproxy/haproxy.cfg') {
              const hp = path.join(dir, `${node.name}.haproxy.cfg`)
              writeFileSync(hp, file.content)
              const h = run(haproxy, ['-c', '-f', hp], {allowFail: true})
              assert.equal(h.status, 0, `seed ${seed} ${name}: haproxy -c: ${h.stderr}`)
            }
          }
        }
      }
    }
  })
  it(`random seed ${RANDOM_SEED} (rerun with NODEGEN_FUZZ_SEED=${RANDOM_SEED})`, () => {})
})
