/**
 * The upgrade plan: kubeadm's version-step rules as a table, and the plan of every example profile
 * from the minor before its own.
 */
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {inventoryOf} from '../../../src/app/inventory.js'
import {buildUpgradePlan, clusterAt, UpgradeError, upgradeStep} from '../../../src/plan/upgrade.js'
import {controlPlanes, workers} from '../../../src/profile/index.js'
import {loadCluster, REPO_ROOT} from '../../support/profiles.js'

describe('upgradeStep: kubeadm skew rules', () => {
  const CASES: Array<[string, string, string]> = [
    ['1.33.5', '1.34.2', 'minor'],
    ['1.34.0', '1.34.2', 'patch'],
    ['v1.34.2', '1.34.2', 'none'],
    ['1.34.2', '1.34.1', 'NG1202'],
    ['1.35.0', '1.34.2', 'NG1202'],
    ['1.32.4', '1.34.2', 'NG1203'],
    ['0.34.2', '1.34.2', 'NG1204'],
    ['latest', '1.34.2', 'NG1201'],
  ]
  for (const [from, to, want] of CASES)
    it(`${from} to ${to}: ${want}`, () => {
      if (want.startsWith('NG')) {
        assert.throws(
          () => upgradeStep(from, to),
          (e: unknown) => e instanceof UpgradeError && e.code === want,
        )
      } else assert.equal(upgradeStep(from, to), want)
    })

  it('names the minor to take first when one is skipped', () => {
    assert.throws(() => upgradeStep('1.31.3', '1.34.2'), /skips 1\.32, 1\.33: .*upgrade to 1\.32\.x first/)
  })
})

describe('the upgrade plan of every example profile, from the minor before', () => {
  const dir = path.join(REPO_ROOT, 'profiles')
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
    it(f, () => {
      const file = path.join(dir, f)
      const cluster = loadCluster(file)
      const from = `1.${cluster.kubernetes.minor - 1}.0`
      const plan = buildUpgradePlan(cluster, from, 'flag', {
        from: inventoryOf(clusterAt(cluster, from), file),
        to: inventoryOf(cluster, file),
      })
      assert.equal(plan.kind, 'minor')
      assert.equal(plan.to, cluster.kubernetes.version)
      const cps = controlPlanes(cluster)
      assert.deepEqual(
        plan.controlPlanes.map((c) => c.node),
        cps.map((c) => c.name),
        'control planes in profile order',
      )
      assert.match(
        plan.controlPlanes[0]?.command ?? '',
        new RegExp(`^kubeadm upgrade apply v${cluster.kubernetes.version.replace(/\./g, '\\.')}`),
      )
      for (const c of plan.controlPlanes.slice(1)) assert.match(c.command, /^kubeadm upgrade node/)
      // Seeds of 1.31+ carry a v1beta4 UpgradeConfiguration, which keeps the patches.
      for (const c of plan.controlPlanes) assert.match(c.command, /--config \/etc\/nodegen\/kubeadm\/upgrade\.yaml/)
      assert.deepEqual(
        plan.workers.batches.flat(),
        workers(cluster).map((w) => w.name),
      )
      assert.ok(plan.workers.batches.every((b) => b.length <= cluster.upgrade.maxUnavailableWorkers))
      assert.ok(plan.images.some((i) => i.component === 'kube-apiserver' && i.image.endsWith(`:v${cluster.kubernetes.version}`)))
      for (const p of plan.packages) {
        if (p.sysext) assert.match(p.sysext, new RegExp(cluster.kubernetes.version.replace(/\./g, '\\.')))
        else
          assert.ok(
            p.requests.some((r) => r.startsWith('kubelet') && r.includes(cluster.kubernetes.version)),
            JSON.stringify(p),
          )
      }
      assert.match(plan.hash, /^sha256:[0-9a-f]{64}$/)
    })
  }

  it('workers go maxUnavailableWorkers at a time, and the hash follows the plan', () => {
    const file = path.join(dir, 'quickstart.yaml')
    const cluster = loadCluster(file)
    const two = {...cluster, upgrade: {maxUnavailableWorkers: 2}}
    const inv = {from: inventoryOf(clusterAt(cluster, '1.33.5'), file), to: inventoryOf(cluster, file)}
    const one = buildUpgradePlan(cluster, '1.33.5', 'flag', inv)
    const both = buildUpgradePlan(two, '1.33.5', 'flag', inv)
    assert.deepEqual(both.workers.batches, [workers(cluster).map((w) => w.name)])
    assert.notEqual(one.hash, both.hash)
    assert.equal(one.hash, buildUpgradePlan(cluster, '1.33.5', 'flag', inv).hash, 'the same plan, the same hash')
  })

  it('a seed of 1.30 (kubeadm v1beta3: no UpgradeConfiguration) passes the patches by flag', () => {
    const file = path.join(dir, 'quickstart.yaml')
    const cluster = clusterAt(loadCluster(file), '1.31.2')
    const plan = buildUpgradePlan(cluster, '1.30.14', 'flag', {
      from: inventoryOf(clusterAt(cluster, '1.30.14'), file),
      to: inventoryOf(cluster, file),
    })
    assert.equal(plan.controlPlanes[0]?.command, 'kubeadm upgrade apply v1.31.2 --patches /etc/nodegen/kubeadm/patches --yes')
    assert.equal(plan.controlPlanes[1]?.command, 'kubeadm upgrade node --patches /etc/nodegen/kubeadm/patches')
  })
})
