/**
 * What an air-gap bundle changes in the rendered nodes: Debian and AlmaLinux nodes get a repository
 * file for the bundle's OS repository and Kubernetes under the bundle's kubernetes/, no Docker
 * repository (the runtime comes from the bundle too), the bundle's URL and pin as parameters, the
 * control plane's images skipped on workers, and bundle.sh (0755) — on every node, Flatcar's in
 * /opt/nodegen with its sysext from the bundle's sysext/, never without a bundle.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {gunzipSync} from 'node:zlib'
import {parse} from 'yaml'
import {loadAssets} from '../../../src/app/assets.js'
import {compactShell, header} from '../../../src/plan/files.js'
import type {NodePlan} from '../../../src/plan/types.js'
import {PROFILES_DIR} from '../../support/profiles.js'
import {cloudInit, type RenderedForTest, renderProfile} from '../../support/render.js'

const BUNDLE = 'http://10.30.0.1:8080/bundle/'
const PIN = 'ab'.repeat(32)
const BUNDLE_SH = '/usr/local/lib/nodegen/bundle.sh'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-plan-airgap-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

/** Debian and AlmaLinux nodes, containerd from its default source (Docker's), the bundle pinned. */
const MIXED = `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: island}
spec:
  kubernetes: {version: 1.34.2}
  controlPlaneEndpoint: {host: 10.30.0.100}
  loadBalancer: {type: keepalived-haproxy}
  networking:
    cni: {type: flannel, manifestUrl: ${BUNDLE}cni/kube-flannel.yml}
    gateway: 10.30.0.1
  airgap: {bundle: "${BUNDLE.slice(0, -1)}", sha256: ${PIN.toUpperCase()}}
  nodes:
    - {name: deb-cp, role: control-plane, ip: 10.30.0.10/24, os: debian-12}
    - {name: alma-cp, role: control-plane, ip: 10.30.0.11/24, os: almalinux-9}
    - {name: alma-cp-2, role: control-plane, ip: 10.30.0.12/24, os: almalinux-9}
    - {name: deb-w, role: worker, ip: 10.30.0.20/24, os: debian-12}
    - {name: alma-w, role: worker, ip: 10.30.0.21/24, os: almalinux-9}
`

/** A Debian control plane beside Flatcar nodes, no mirror at all: everything from the bundle. */
const WITH_FLATCAR = `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: island-fc}
spec:
  kubernetes: {version: 1.34.2}
  controlPlaneEndpoint: {host: 10.30.0.100}
  loadBalancer: {type: kube-vip}
  networking:
    cni: {type: flannel, manifestUrl: ${BUNDLE}cni/kube-flannel.yml}
    gateway: 10.30.0.1
  airgap: {bundle: "${BUNDLE}"}
  nodes:
    - {name: deb-cp, role: control-plane, ip: 10.30.0.10/24, os: debian-12}
    - {name: fc-cp, role: control-plane, ip: 10.30.0.11/24, os: flatcar}
    - {name: fc-cp-2, role: control-plane, ip: 10.30.0.12/24, os: flatcar}
    - {name: fc-w, role: worker, ip: 10.30.0.20/24, os: flatcar}
`

function render(name: string, text: string): Promise<RenderedForTest> {
  const file = path.join(tmp, `${name}.yaml`)
  writeFileSync(file, text)
  return renderProfile(file)
}

function planOf(r: RenderedForTest, node: string): NodePlan {
  const n = r.nodes.find((x) => x.plan.node === node)
  assert.ok(n, `${node} is rendered`)
  return n.plan
}

function content(p: NodePlan, file: string): string {
  const f = p.files.find((x) => x.path === file)
  assert.ok(f, `${p.node}: ${file} is planned`)
  return f.content
}

function has(p: NodePlan, file: string): boolean {
  return p.files.some((x) => x.path === file)
}

function params(p: NodePlan): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of content(p, '/etc/nodegen/bootstrap.env').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    if (m) out.set(m[1] as string, m[2] as string)
  }
  return out
}

/** The write_files entry of a cloud-init node's user-data, as cloud-init reads it. */
function writeFile(r: RenderedForTest, node: string, file: string): {permissions?: string; content?: string} | undefined {
  const n = r.nodes.find((x) => x.plan.node === node)
  assert.ok(n)
  const raw = cloudInit(n).userData
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8')
  const doc = parse(text) as {write_files?: Array<{path: string; permissions?: string; content?: string}>}
  return doc.write_files?.find((f) => f.path === file)
}

describe('an air-gap bundle in the rendered nodes', () => {
  it('Debian: nodegen-bundle.list names the flat os/debian-12/ repository, kubernetes.list the bundle, no docker.list', async () => {
    const r = await render('mixed', MIXED)
    const p = planOf(r, 'deb-cp')
    const node = r.cluster.nodes.find((n) => n.name === 'deb-cp')
    assert.ok(node)
    assert.equal(
      content(p, '/etc/apt/sources.list.d/nodegen-bundle.list'),
      `${header(r.cluster, node)}deb [signed-by=/etc/apt/keyrings/nodegen-bundle.asc] ${BUNDLE}os/debian-12/ ./\n`,
    )
    assert.match(
      content(p, '/etc/apt/sources.list.d/kubernetes.list'),
      new RegExp(
        `^deb \\[signed-by=/etc/apt/keyrings/kubernetes-apt-keyring\\.asc\\] ${esc(BUNDLE)}kubernetes/core:/stable:/v1\\.34/deb/ /$`,
        'm',
      ),
    )
    assert.equal(has(p, '/etc/apt/sources.list.d/docker.list'), false, 'docker.list is not planned')
    assert.deepEqual(
      p.files.filter((f) => f.path.startsWith('/etc/apt/sources.list.d/')).map((f) => f.path),
      ['/etc/apt/sources.list.d/kubernetes.list', '/etc/apt/sources.list.d/nodegen-bundle.list'],
    )
    assert.equal(params(p).get('KUBERNETES_REPO'), `${BUNDLE}kubernetes/core:/stable:/v1.34/deb/`)
  })

  it('AlmaLinux: nodegen-bundle.repo with the bundle keys, kubernetes.repo from the bundle with its key from bundle.sh, no docker-ce.repo', async () => {
    const r = await render('mixed', MIXED)
    const p = planOf(r, 'alma-cp')
    const node = r.cluster.nodes.find((n) => n.name === 'alma-cp')
    assert.ok(node)
    assert.equal(
      content(p, '/etc/yum.repos.d/nodegen-bundle.repo'),
      `${header(r.cluster, node)}[nodegen-bundle]
name=nodegen air-gap bundle (almalinux-9)
baseurl=${BUNDLE}os/almalinux-9/
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/nodegen-bundle.asc
`,
    )
    const k8s = content(p, '/etc/yum.repos.d/kubernetes.repo')
    assert.match(k8s, new RegExp(`^baseurl=${esc(BUNDLE)}kubernetes/core:/stable:/v1\\.34/rpm/$`, 'm'))
    assert.match(k8s, /^gpgkey=file:\/\/\/etc\/pki\/rpm-gpg\/nodegen-kubernetes\.asc$/m)
    assert.equal(params(p).get('KUBERNETES_REPO'), `${BUNDLE}kubernetes/core:/stable:/v1.34/rpm/`)
    assert.equal(has(p, '/etc/yum.repos.d/docker-ce.repo'), false, 'docker-ce.repo is not planned')
    assert.deepEqual(
      p.files.filter((f) => f.path.startsWith('/etc/yum.repos.d/')).map((f) => f.path),
      ['/etc/yum.repos.d/kubernetes.repo', '/etc/yum.repos.d/nodegen-bundle.repo'],
    )
  })

  it('every node: BUNDLE_URL ending in / and BUNDLE_SHA256 in lowercase; BUNDLE_IMAGES_SKIP only on workers', async () => {
    const r = await render('mixed', MIXED)
    const skip = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'].map((c) => `registry.k8s.io/${c}`).join(' ')
    for (const n of r.nodes) {
      const got = params(n.plan)
      assert.equal(got.get('BUNDLE_URL'), BUNDLE, n.plan.node)
      assert.equal(got.get('BUNDLE_SHA256'), PIN, n.plan.node)
      assert.equal(got.get('BUNDLE_IMAGES_SKIP'), n.plan.role === 'worker' ? skip : undefined, n.plan.node)
    }
  })

  it('BUNDLE_IMAGES_SKIP names the images under the profile’s imageRepository', async () => {
    const r = await render('mirror', MIXED.replace('{version: 1.34.2}', '{version: 1.34.2, imageRepository: registry.lan:5000/k8s}'))
    assert.equal(
      params(planOf(r, 'deb-w')).get('BUNDLE_IMAGES_SKIP'),
      'registry.lan:5000/k8s/kube-apiserver registry.lan:5000/k8s/kube-controller-manager registry.lan:5000/k8s/kube-scheduler registry.lan:5000/k8s/etcd',
    )
  })

  it('no pin: no BUNDLE_SHA256', async () => {
    const r = await render('unpinned', MIXED.replace(`, sha256: ${PIN.toUpperCase()}`, ''))
    for (const n of r.nodes) {
      assert.equal(params(n.plan).get('BUNDLE_URL'), BUNDLE)
      assert.equal(params(n.plan).has('BUNDLE_SHA256'), false, n.plan.node)
    }
  })

  it('bundle.sh ships on every Debian and AlmaLinux node, 0755, in the user-data cloud-init writes', async () => {
    const r = await render('mixed', MIXED)
    const script = compactShell(loadAssets().bundleScript ?? '')
    assert.match(script, /^#!\/usr\/bin\/env bash\n/)
    for (const n of r.nodes) {
      const f = n.plan.files.find((x) => x.path === BUNDLE_SH)
      assert.ok(f, `${n.plan.node}: bundle.sh is planned`)
      assert.equal(f.mode, 0o755)
      assert.equal(f.owner, 'root:root')
      assert.equal(f.content, script)
      const w = writeFile(r, n.plan.node, BUNDLE_SH)
      assert.ok(w, `${n.plan.node}: bundle.sh is in the user-data`)
      assert.equal(w.permissions, '0755')
      assert.equal(w.content, script)
    }
  })

  it('Flatcar nodes get bundle.sh in /opt/nodegen, the bundle parameters and their sysext from the bundle', async () => {
    const r = await render('flatcar', WITH_FLATCAR)
    for (const n of r.nodes) {
      const flatcar = n.plan.family === 'flatcar'
      const script = flatcar ? '/opt/nodegen/bundle.sh' : BUNDLE_SH
      assert.equal(has(n.plan, script), true, `${n.plan.node}: ${script}`)
      assert.ok(!n.plan.files.some((f) => f.path.startsWith('/usr/')) || !flatcar, `${n.plan.node}: nothing under /usr on Flatcar`)
      assert.equal(params(n.plan).get('BUNDLE_URL'), BUNDLE, n.plan.node)
      assert.equal(params(n.plan).has('BUNDLE_IMAGES_SKIP'), n.plan.role === 'worker', n.plan.node)
      assert.equal(has(n.plan, '/etc/apt/sources.list.d/nodegen-bundle.list'), !flatcar, n.plan.node)
      if (flatcar) {
        const sysext = n.plan.files.find((f) => f.path === '/opt/extensions/kubernetes/kubernetes-v1.34.2-x86-64.raw')
        assert.equal(sysext?.remote?.url, `${BUNDLE}sysext/kubernetes-v1.34.2-x86-64.raw`, n.plan.node)
      }
    }
  })

  it('without a bundle: no bundle.sh, no bundle repositories, no BUNDLE_ parameters, Docker’s repository back', async () => {
    const r = await renderProfile(path.join(PROFILES_DIR, 'quickstart.yaml'))
    for (const n of r.nodes) {
      assert.equal(has(n.plan, BUNDLE_SH), false, n.plan.node)
      assert.equal(has(n.plan, '/etc/yum.repos.d/nodegen-bundle.repo'), false, n.plan.node)
      assert.equal(has(n.plan, '/etc/yum.repos.d/docker-ce.repo'), true, n.plan.node)
      assert.deepEqual(
        [...params(n.plan).keys()].filter((k) => k.startsWith('BUNDLE_')),
        [],
        n.plan.node,
      )
    }
  })
})

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
