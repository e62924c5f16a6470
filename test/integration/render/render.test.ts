/**
 * What `nodegen render` writes for every example profile, checked by the tools that consume it:
 * cloud-init's schema, shellcheck on every script, the shared kubeadm/kubelet/kube-proxy schemas,
 * haproxy -c and keepalived -t; plus the secret rules (workers carry no CA key, keys are 0600), the
 * EC2 budget and byte-identical re-renders.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {renderNode} from '../../../src/app/render.js'
import {isBudgetProblem} from '../../../src/emit/budget.js'
import {readBundle} from '../../../src/plan/secrets/index.js'
import {exampleProfiles} from '../../support/profiles.js'
import {cloudInit, renderProfile} from '../../support/render.js'
import {validateKubeDocuments} from '../../support/schemas.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-render-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const cloudInitProfiles = exampleProfiles().filter((p) => !p.endsWith('flatcar.yaml'))

for (const profile of cloudInitProfiles) {
  const name = path.basename(profile, '.yaml')
  describe(`render ${name}`, () => {
    it('every user-data passes cloud-init schema', async (t) => {
      const ci = requireTool(t, 'cloud-init')
      const r = await renderProfile(profile)
      for (const n of r.nodes) {
        const f = path.join(tmp, `${name}-${n.plan.node}.user-data`)
        writeFileSync(f, cloudInit(n).userData)
        const out = run(ci, ['schema', '--config-file', f], {allowFail: true})
        assert.equal(out.status, 0, `${n.plan.node}: ${out.stdout}${out.stderr}`)
      }
    })

    it('every script passes shellcheck', async (t) => {
      const sc = requireTool(t, 'shellcheck')
      const r = await renderProfile(profile)
      const seen = new Set<string>()
      for (const n of r.nodes) {
        for (const f of n.plan.files) {
          if (!(f.mode & 0o111) || !f.content.startsWith('#!') || seen.has(f.content)) continue
          seen.add(f.content)
          const p = path.join(tmp, `${name}-${path.basename(f.path)}-${seen.size}`)
          writeFileSync(p, f.content)
          const out = run(sc, ['-S', 'style', p], {allowFail: true})
          assert.equal(out.status, 0, `${n.plan.node} ${f.path}:\n${out.stdout}`)
        }
      }
      assert.ok(seen.size >= 2)
    })

    it('every kubeadm, kubelet and kube-proxy document validates against the kube schemas in test/fixtures', async () => {
      const r = await renderProfile(profile)
      let docs = 0
      for (const n of r.nodes) {
        // On aws/gcp the control planes' kubeadm configuration travels in the secret bundle.
        for (const f of [...n.plan.files, ...(n.bundle ? readBundle(n.bundle.archive) : [])]) {
          if (!/\/kubeadm\/(config|config-next|rejoin)\.yaml$|etcd-kubelet\.yaml$/.test(f.path)) continue
          for (const d of validateKubeDocuments(f.content)) {
            docs++
            assert.deepEqual(d.errors, [], `${n.plan.node} ${f.path} ${d.kind}`)
          }
        }
      }
      assert.ok(docs >= r.nodes.length)
    })

    it('workers carry no private key of any CA; control planes carry the CA keys 0600', async () => {
      const r = await renderProfile(profile)
      for (const n of r.nodes) {
        const text = cloudInit(n).userData.toString()
        if (n.plan.role === 'worker') {
          assert.doesNotMatch(text, /PRIVATE KEY/, `${n.plan.node} carries a private key`)
          assert.ok(!n.plan.files.some((f) => f.path.endsWith('.key')))
        }
        if (n.plan.role === 'control-plane' && r.cluster.platform.type !== 'aws' && r.cluster.platform.type !== 'gcp') {
          for (const k of ['ca.key', 'front-proxy-ca.key', 'sa.key']) {
            const f = n.plan.files.find((x) => x.path === `/etc/kubernetes/pki/${k}`)
            assert.ok(f, `${n.plan.node} lacks ${k}`)
            assert.equal(f.mode, 0o600)
            assert.equal(f.secret, true)
          }
        }
        for (const f of n.plan.files.filter((x) => x.secret || /PRIVATE KEY/.test(x.content))) {
          assert.equal(f.mode, 0o600, `${n.plan.node} ${f.path}`)
          assert.equal(f.owner, 'root:root')
        }
      }
    })

    it('haproxy -c and keepalived -t accept the endpoint configs', async (t) => {
      const r = await renderProfile(profile)
      const cps = r.nodes.filter((n) => n.plan.role === 'control-plane')
      for (const n of cps) {
        const hap = n.plan.files.find((f) => f.path === '/etc/haproxy/haproxy.cfg')
        const kad = n.plan.files.find((f) => f.path === '/etc/keepalived/keepalived.conf')
        if (hap) {
          const bin = requireTool(t, 'haproxy')
          const p = path.join(tmp, `${name}-${n.plan.node}-haproxy.cfg`)
          writeFileSync(p, hap.content)
          const out = run(bin, ['-c', '-f', p], {allowFail: true})
          assert.equal(out.status, 0, out.stdout + out.stderr)
        }
        if (kad) {
          const bin = requireTool(t, 'keepalived')
          // keepalived -t checks that the track script exists: point it at the rendered one.
          const check = n.plan.files.find((f) => f.path === '/etc/keepalived/check_apiserver.sh')
          assert.ok(check, 'keepalived without its check script')
          const script = path.join(tmp, `${name}-${n.plan.node}-check_apiserver.sh`)
          writeFileSync(script, check.content, {mode: 0o755})
          const p = path.join(tmp, `${name}-${n.plan.node}-keepalived.conf`)
          writeFileSync(p, kad.content.replaceAll('/etc/keepalived/check_apiserver.sh', script))
          const out = run(bin, ['-t', '-f', p], {allowFail: true})
          assert.equal(out.status, 0, out.stdout + out.stderr)
        }
      }
    })

    it('two renders of the same profile and state are byte-identical', async () => {
      const r = await renderProfile(profile)
      const material = r.material
      for (const n of r.nodes.slice(0, 2)) {
        const node = r.cluster.nodes.find((x) => x.name === n.plan.node)
        assert.ok(node)
        const again = renderNode(r.cluster, node, material, undefined)
        assert.ok(cloudInit(again).userData.equals(cloudInit(n).userData))
        assert.equal(cloudInit(again).metaData, cloudInit(n).metaData)
        assert.equal(cloudInit(again).networkConfig, cloudInit(n).networkConfig)
      }
    })
  })
}

describe('render aws.yaml', () => {
  it('every node fits EC2 user-data (16384 bytes)', async () => {
    const r = await renderProfile(exampleProfiles().find((p) => p.endsWith('aws.yaml')) as string)
    for (const n of r.nodes) {
      assert.ok(!isBudgetProblem(n.fitted), `${n.plan.node}: ${JSON.stringify(n.fitted)}`)
      assert.ok(n.fitted.size <= 16384, `${n.plan.node}: ${n.fitted.size}`)
    }
  })
})

describe('render: the token calendar', () => {
  it("joining nodes carry this window's and the next window's join configuration; control planes the calendar, workers never", async () => {
    const r = await renderProfile(exampleProfiles().find((p) => p.endsWith('quickstart.yaml')) as string)
    const cal = r.material.calendar
    assert.ok(cal && r.material.nextToken)
    for (const n of r.nodes) {
      const config = n.plan.files.find((f) => f.path === '/etc/nodegen/kubeadm/config.yaml')
      const next = n.plan.files.find((f) => f.path === '/etc/nodegen/kubeadm/config-next.yaml')
      const calendar = n.plan.files.find((f) => f.path === '/etc/nodegen/calendar.env')
      assert.ok(config?.content.includes(r.material.token))
      if (n.plan.role === 'control-plane' && n.plan.ordinal === 0) assert.equal(next, undefined)
      else {
        assert.ok(next?.content.includes(r.material.nextToken.token), n.plan.node)
        assert.equal(next?.mode, 0o600)
        assert.match(
          n.plan.files.find((f) => f.path === '/etc/nodegen/bootstrap.env')?.content ?? '',
          new RegExp(`^TOKEN_NEXT_FROM=${r.material.nextToken.from}$`, 'm'),
        )
      }
      if (n.plan.role === 'control-plane') {
        assert.equal(calendar?.mode, 0o600)
        assert.equal(calendar?.secret, true)
        assert.ok(calendar?.content.includes(cal.secret))
      } else {
        assert.equal(calendar, undefined)
        assert.ok(!cloudInit(n).userData.toString().includes(cal.secret), `${n.plan.node} carries the calendar secret`)
      }
    }
  })
})
