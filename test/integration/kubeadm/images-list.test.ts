/**
 * The real kubeadm judges `nodegen images`: `kubeadm config images list --config` on control plane
 * 0's rendered kubeadm configuration, for every example profile and for each of them with an
 * imageRepository mirror, names exactly the images nodegen's inventory says come from kubeadm (so
 * kubeadm's list is inside nodegen's). And the images the real-cluster artifacts are built under
 * (scripts/build-kube-images.sh: kubeadm's names and the flannel manifest's) are nodegen's list for
 * a profile that ships that manifest as its manifestFile.
 */
import assert from 'node:assert/strict'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {buildInventory} from '../../../src/plan/inventory.js'
import {readBundle} from '../../../src/plan/secrets/index.js'
import {requireKubeCommand} from '../../support/kubernetes.js'
import {exampleProfiles, loadCluster, PROFILES_DIR} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-images-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const MIRROR = 'registry.aliyuncs.com/google_containers'

/** The profile's text with spec.kubernetes.imageRepository set to the mirror, written beside a copy. */
function withMirror(profile: string): string {
  const text = readFileSync(profile, 'utf8')
  const mirrored = /^\s+imageRepository:/m.test(text)
    ? text.replace(/^(\s+imageRepository:\s*)\S+/m, `$1${MIRROR}`)
    : text.replace(/^(\s+)(version:\s*[0-9.]+\s*)$/m, `$1$2\n$1imageRepository: ${MIRROR}`)
  assert.match(mirrored, new RegExp(`imageRepository: ${MIRROR}`), `${profile}: no place for imageRepository`)
  const file = path.join(mkdtempSync(path.join(tmp, 'mirror-')), path.basename(profile))
  writeFileSync(file, mirrored)
  return file
}

/** `kubeadm config images list --config` on control plane 0's kubeadm configuration. */
async function kubeadmList(t: TestContext, profile: string): Promise<string[]> {
  const r = await renderProfile(profile)
  const kubeadm = requireKubeCommand(t, 'kubeadm', r.cluster.kubernetes.version)
  const cp0 = r.nodes.find((n) => r.cluster.nodes.some((c) => c.name === n.plan.node && c.role === 'control-plane' && c.ordinal === 0))
  assert.ok(cp0)
  const files = [...cp0.plan.files, ...(cp0.bundle ? readBundle(cp0.bundle.archive) : [])]
  const config = files.find((f) => f.path === '/etc/nodegen/kubeadm/config.yaml')
  assert.ok(config, `${profile}: control plane 0 has no kubeadm config.yaml`)
  const file = path.join(mkdtempSync(path.join(tmp, 'config-')), 'config.yaml')
  writeFileSync(file, config.content)
  const out = run(kubeadm, ['config', 'images', 'list', '--config', file], {allowFail: true})
  assert.equal(out.status, 0, `kubeadm config images list: ${out.stderr}`)
  return out.stdout.split('\n').filter(Boolean).sort()
}

describe("kubeadm's image list is inside nodegen's", () => {
  for (const profile of exampleProfiles()) {
    for (const [label, file] of [
      ['', () => profile],
      [` with imageRepository ${MIRROR}`, () => withMirror(profile)],
    ] as const) {
      it(`${path.basename(profile)}${label}`, async (t) => {
        const p = file()
        const listed = await kubeadmList(t, p)
        const inv = buildInventory(loadCluster(p))
        const names = new Set(inv.images.map((i) => i.image))
        for (const image of listed) assert.ok(names.has(image), `kubeadm pulls ${image}, which nodegen does not list`)
        const fromKubeadm = inv.images.filter((i) => i.source === 'kubeadm').map((i) => i.image)
        assert.deepEqual([...fromKubeadm].sort(), listed, 'the images nodegen attributes to kubeadm are exactly kubeadm list')
        for (const i of inv.images.filter((x) => x.source === 'kubeadm'))
          assert.ok(i.roles.includes('control-plane'), `${i.image}: kubeadm pre-pulls it on control planes`)
        if (label) for (const image of listed) assert.ok(image.startsWith(`${MIRROR}/`), `${image} is not under the mirror`)
      })
    }
  }
})

describe("the real-cluster artifacts' images", () => {
  it("are nodegen's list for a profile that ships their flannel manifest", (t) => {
    const dir = path.join(process.env.NODEGEN_K8S_CACHE ?? path.join(os.homedir(), '.cache', 'nodegen-k8s'), 'images-v1.34.2')
    // Built by `npm run test:kube-artifacts`, which npm test does not run: absent means not built here.
    if (!existsSync(path.join(dir, 'images.txt'))) {
      t.skip(`${dir}/images.txt is not built (scripts/build-kube-images.sh)`)
      return
    }
    const built = readFileSync(path.join(dir, 'images.txt'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0] ?? '')
      // Images under the reserved .test name are workloads the artifact tests run, not the cluster's.
      .filter((image) => !image.startsWith('registry.nodegen.test/'))
      .sort()
    const work = mkdtempSync(path.join(tmp, 'artifacts-'))
    copyFileSync(path.join(dir, 'kube-flannel.yml'), path.join(work, 'kube-flannel.yml'))
    const text = readFileSync(path.join(PROFILES_DIR, 'quickstart.yaml'), 'utf8').replace(
      /^(\s+)cni:\s*\n\s+type: flannel\s*$/m,
      '$1cni:\n$1  type: flannel\n$1  manifestFile: kube-flannel.yml',
    )
    assert.match(text, /manifestFile: kube-flannel.yml/)
    mkdirSync(work, {recursive: true})
    writeFileSync(path.join(work, 'cluster.yaml'), text)
    const cluster = loadCluster(path.join(work, 'cluster.yaml'))
    assert.equal(cluster.kubernetes.version, '1.34.2')
    const inv = buildInventory(cluster, {cniManifest: readFileSync(path.join(work, 'kube-flannel.yml'), 'utf8')})
    assert.deepEqual(inv.diagnostics, [])
    assert.deepEqual(inv.images.map((i) => i.image).sort(), built)
  })
})
