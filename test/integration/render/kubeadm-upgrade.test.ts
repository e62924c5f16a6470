/**
 * The control planes' `kubeadm upgrade` configuration, read by the real kubeadm of the cluster's
 * release (built from the Go module proxy by scripts/build-kubernetes.sh, cached). haproxy holds
 * VIP:port and 127.0.0.1:port on the API server's own port, so each API server's --bind-address comes
 * from a kubeadm patch; `kubeadm upgrade` without the patches would rewrite the static pod without it.
 * The UpgradeConfiguration (v1beta4) carries the patches directory for `upgrade apply` and
 * `upgrade node`: kubeadm must load it strictly (no unknown field, no type error) and go on to the
 * point where it needs the cluster (here: a kubeconfig that does not exist).
 */
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {parse} from 'yaml'
import {KUBEADM_PATCHES_DIR, KUBEADM_UPGRADE_CONFIG} from '../../../src/plan/kubeadm/index.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {run, SkipSignal} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-upgrade-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

/** The real kubeadm of a release: cached, or built now (needs Go); skipped (failed under CI) without. */
function realKubeadm(t: TestContext, version: string): string {
  const cache = process.env.NODEGEN_K8S_CACHE ?? path.join(os.homedir(), '.cache', 'nodegen-k8s')
  const bin = path.join(cache, `v${version}`, 'bin', 'kubeadm')
  if (!existsSync(bin)) {
    const r = run('bash', [path.join(REPO_ROOT, 'scripts/build-kubernetes.sh'), '--version', version, 'kubeadm'], {allowFail: true})
    if (r.status !== 0 || !existsSync(bin)) {
      const msg = `the real kubeadm ${version} is not built and could not be (scripts/build-kubernetes.sh): ${r.stderr.trim().split('\n').pop()}`
      if (process.env.CI) throw new Error(msg)
      t.skip(msg)
      throw new SkipSignal(msg)
    }
  }
  return bin
}

function profile(version: string, lb: string): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: upgrade}
spec:
  kubernetes: {version: ${version}}
  os: almalinux-9
  controlPlaneEndpoint: {host: 10.50.0.100, port: 6443}
  loadBalancer: {type: ${lb}${lb === 'keepalived-haproxy' ? ', apiServerPort: 6443' : ''}}
  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.50.0.10/24}
    - {name: cp-1, role: control-plane, ip: 10.50.0.11/24}
    - {name: cp-2, role: control-plane, ip: 10.50.0.12/24}
    - {name: w-0, role: worker, ip: 10.50.0.20/24}
`
}

async function rendered(name: string, version: string, lb: string) {
  const file = path.join(tmp, `${name}.yaml`)
  writeFileSync(file, profile(version, lb))
  return renderProfile(file)
}

/** Runs `kubeadm <args> --config FILE --kubeconfig /nonexistent` and returns its output. */
function kubeadmLoads(kubeadm: string, args: string[], content: string, name: string): string {
  const dir = path.join(tmp, name)
  mkdirSync(dir, {recursive: true})
  const f = path.join(dir, 'upgrade.yaml')
  writeFileSync(f, content)
  const r = run(
    kubeadm,
    [...args, '--config', f, '--kubeconfig', path.join(dir, 'no-such-kubeconfig'), '--yes'].filter(
      (a) => a !== '--yes' || args[1] === 'apply',
    ),
    {
      allowFail: true,
    },
  )
  assert.notEqual(r.status, 0)
  return r.stdout + r.stderr
}

describe('kubeadm upgrade configuration', () => {
  it('1.34, keepalived-haproxy on the API port: every control plane has an UpgradeConfiguration with its patches, which kubeadm upgrade apply and node load', async (t) => {
    const kubeadm = realKubeadm(t, '1.34.2')
    const r = await rendered('v134', '1.34.2', 'keepalived-haproxy')
    for (const n of r.nodes) {
      const f = n.plan.files.find((x) => x.path === KUBEADM_UPGRADE_CONFIG)
      if (n.plan.role !== 'control-plane') {
        assert.equal(f, undefined, `${n.plan.node} has no upgrade configuration`)
        continue
      }
      assert.ok(f, `${n.plan.node} has ${KUBEADM_UPGRADE_CONFIG}`)
      assert.ok(!f.secret && f.mode === 0o644)
      const doc = parse(f.content) as {
        apiVersion: string
        kind: string
        apply: {patches: {directory: string}}
        node: {patches: {directory: string}}
      }
      assert.equal(doc.apiVersion, 'kubeadm.k8s.io/v1beta4')
      assert.equal(doc.kind, 'UpgradeConfiguration')
      assert.equal(doc.apply.patches.directory, KUBEADM_PATCHES_DIR)
      assert.equal(doc.node.patches.directory, KUBEADM_PATCHES_DIR)
      assert.ok(
        n.plan.files.some((x) => x.path === `${KUBEADM_PATCHES_DIR}/kube-apiserver0+json.json`),
        'the patch it points to is there',
      )
      for (const args of [
        ['upgrade', 'apply', 'v1.34.3'],
        ['upgrade', 'node'],
      ]) {
        const out = kubeadmLoads(kubeadm, args, f.content, `${n.plan.node}-${args[1]}`)
        assert.doesNotMatch(out, /unmarshaling|strict decoding|unknown field|cannot unmarshal/, out)
        assert.match(
          out,
          /failed to load admin kubeconfig/,
          `kubeadm ${args.join(' ')} loaded the configuration and went on to the cluster:\n${out}`,
        )
      }
    }
  })

  it('the check has teeth: kubeadm reports an unknown field in an UpgradeConfiguration', (t) => {
    const kubeadm = realKubeadm(t, '1.34.2')
    const out = kubeadmLoads(
      kubeadm,
      ['upgrade', 'node'],
      'apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\nnode:\n  patchez: {directory: /x}\n',
      'teeth',
    )
    assert.match(out, /strict decoding error: unknown field "node.patchez"/)
  })

  it('1.30 (kubeadm v1beta3, no UpgradeConfiguration): the file says to pass --patches', async () => {
    const r = await rendered('v130', '1.30.14', 'keepalived-haproxy')
    const f = r.nodes[0]!.plan.files.find((x) => x.path === KUBEADM_UPGRADE_CONFIG)
    assert.ok(f)
    assert.match(f.content, new RegExp(`kubeadm upgrade apply <version> --patches ${KUBEADM_PATCHES_DIR}`))
    assert.match(f.content, new RegExp(`kubeadm upgrade node --patches ${KUBEADM_PATCHES_DIR}`))
  })
})
