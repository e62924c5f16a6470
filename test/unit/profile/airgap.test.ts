/**
 * spec.airgap in validation: a valid air-gapped profile and what its bundle changes in the Cluster
 * model (the Kubernetes package repository under the bundle's kubernetes/, unless the profile names
 * one), every source left at an internet default refused with NG0429 at the field that points it
 * elsewhere (with its file, line and column), CRI-O refused with a bundle (NG0430), a bad pin or URL,
 * and the bundle URL normalised to end in `/`.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {type Diagnostic, formatDiagnostic, formatPath, loadProfile} from '../../../src/profile/index.js'

const BUNDLE = 'http://10.30.0.1:8080/bundle/'
const PIN = 'AB'.repeat(32)

/** An air-gapped Debian cluster whose every source is the bundle or a file beside the profile. */
const BASE = `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: island}
spec:
  kubernetes:
    version: 1.34.2
  os: debian-12
  controlPlaneEndpoint: {host: 10.30.0.100}
  loadBalancer: {type: keepalived-haproxy}
  networking:
    cni: {type: flannel, manifestFile: kube-flannel.yml}
    gateway: 10.30.0.1
  containerRuntime: {type: containerd, source: distribution}
  airgap:
    bundle: ${BUNDLE}
    sha256: ${PIN}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
    - {name: w-0, role: worker, ip: 10.30.0.20/24}
`

const NO_BUNDLE = (s: string) => s.replace(`    bundle: ${BUNDLE}\n`, '')
const KUBE_VIP = (s: string) => s.replace('type: keepalived-haproxy', 'type: kube-vip')
const FLATCAR = (s: string) => KUBE_VIP(s).replace('os: debian-12', 'os: flatcar')

function edit(text: string, ...edits: Array<(s: string) => string>): string {
  const out = edits.reduce((s, e) => e(s), text)
  assert.notEqual(out, text, 'the edit changed nothing')
  return out
}

function list(ds: Diagnostic[]): string {
  return ds.map((d) => formatDiagnostic(d, {excerpt: false})).join('\n') || '(none)'
}

/** The diagnostic with this code at this path; fails naming every diagnostic there was. */
function find(text: string, code: string, path: string): Diagnostic {
  const r = loadProfile(text, 'airgap.yaml')
  const hit = r.diagnostics.find((d) => d.code === code && formatPath(d.path) === path)
  assert.ok(hit, `expected ${code} at ${path}, got:\n${list(r.diagnostics)}`)
  assert.equal(hit.severity, 'error')
  assert.equal(r.cluster, undefined)
  return hit
}

/** The diagnostic sits on the line holding `at`, at the column where `at` starts. */
function assertAt(text: string, d: Diagnostic, at: string): void {
  const lines = text.split('\n')
  const line = lines.findIndex((l) => l.includes(at))
  assert.ok(line >= 0, `${at} is in the profile`)
  assert.equal(d.position?.file, 'airgap.yaml')
  assert.equal(d.position?.line, line + 1, `${formatPath(d.path)}: line`)
  assert.equal(d.position?.col, (lines[line] ?? '').indexOf(at) + 1, `${formatPath(d.path)}: column`)
  assert.equal(d.position?.excerpt, lines[line])
}

/**
 * [what, edits of BASE, the field NG0429 names, where it points (the value, or the nearest parent
 * the profile writes), an edit that points the source at the network and clears it].
 */
const INTERNET: Array<[string, Array<(s: string) => string>, string, string, (s: string) => string]> = [
  [
    'kubelet, kubeadm and kubectl from pkgs.k8s.io (no bundle, no packageRepository)',
    [NO_BUNDLE],
    'spec.kubernetes.packageRepository',
    'version: 1.34.2',
    (s) => s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    packageRepository: http://mirror.lan/k8s/{channel}/{format}/\n'),
  ],
  [
    'the control-plane images from registry.k8s.io (no bundle, the default imageRepository)',
    [NO_BUNDLE],
    'spec.kubernetes.imageRepository',
    'version: 1.34.2',
    (s) => s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    imageRepository: registry.lan:5000/k8s\n'),
  ],
  [
    'the control-plane images from registry.k8s.io, written out',
    [NO_BUNDLE, (s) => s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    imageRepository: registry.k8s.io\n')],
    'spec.kubernetes.imageRepository',
    'registry.k8s.io',
    (s) => s.replace('imageRepository: registry.k8s.io', 'imageRepository: registry.lan:5000/k8s'),
  ],
  [
    "containerd.io from download.docker.com (no bundle, the runtime's default source)",
    [NO_BUNDLE, (s) => s.replace('{type: containerd, source: distribution}', '{type: containerd}')],
    'spec.containerRuntime.dockerRepository',
    '{type: containerd}',
    (s) => s.replace('{type: containerd}', '{type: containerd, dockerRepository: http://mirror.lan/docker}'),
  ],
  [
    'CRI-O from download.opensuse.org (no bundle, no crioRepository)',
    [NO_BUNDLE, (s) => s.replace('{type: containerd, source: distribution}', '{type: cri-o}')],
    'spec.containerRuntime.crioRepository',
    '{type: cri-o}',
    (s) => s.replace('{type: cri-o}', '{type: cri-o, crioRepository: http://mirror.lan/cri-o}'),
  ],
  [
    "the CNI's manifest from its GitHub release (with a bundle)",
    [(s) => s.replace('{type: flannel, manifestFile: kube-flannel.yml}', '{type: flannel}')],
    'spec.networking.cni',
    '{type: flannel}',
    (s) => s.replace('{type: flannel}', '{type: flannel, manifestUrl: http://10.30.0.1:8080/kube-flannel.yml}'),
  ],
  [
    'the kube-vip image from ghcr.io (no bundle, the default kubeVipImage)',
    [NO_BUNDLE, KUBE_VIP],
    'spec.loadBalancer.kubeVipImage',
    '{type: kube-vip}',
    (s) => s.replace('{type: kube-vip}', '{type: kube-vip, kubeVipImage: "registry.lan:5000/kube-vip:v0.8.9"}'),
  ],
  [
    "Flatcar's Kubernetes sysext from extensions.flatcar.org (no bundle, no sysextRepository)",
    [NO_BUNDLE, FLATCAR, (s) => s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    imageRepository: registry.lan:5000/k8s\n')],
    'spec.kubernetes.sysextRepository',
    'version: 1.34.2',
    (s) => s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    sysextRepository: http://10.30.0.1:8080/extensions\n'),
  ],
  [
    "Flatcar's images from registry.k8s.io (no bundle)",
    [
      NO_BUNDLE,
      FLATCAR,
      (s) => s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    sysextRepository: http://10.30.0.1:8080/extensions\n'),
    ],
    'spec.kubernetes.imageRepository',
    'version: 1.34.2',
    (s) => s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    imageRepository: registry.lan:5000/k8s\n'),
  ],
]

describe('spec.airgap', () => {
  it('a valid air-gapped profile: the bundle normalised, the pin in lowercase', () => {
    const r = loadProfile(BASE, 'airgap.yaml')
    assert.ok(r.cluster, list(r.diagnostics))
    assert.deepEqual(r.cluster.airgap, {bundle: BUNDLE, sha256: PIN.toLowerCase()})
  })

  it("kubelet, kubeadm and kubectl come from the bundle's kubernetes/, in pkgs.k8s.io's layout", () => {
    const r = loadProfile(BASE, 'airgap.yaml')
    assert.equal(r.cluster?.kubernetes.packageRepository, `${BUNDLE}kubernetes/core:/stable:/{channel}/{format}/`)
  })

  it('a packageRepository the profile names wins over the bundle', () => {
    const mirror = 'http://mirror.lan/k8s/{channel}/{format}/'
    const text = edit(BASE, (s) => s.replace('    version: 1.34.2\n', `    version: 1.34.2\n    packageRepository: "${mirror}"\n`))
    const r = loadProfile(text, 'airgap.yaml')
    assert.ok(r.cluster, list(r.diagnostics))
    assert.equal(r.cluster.kubernetes.packageRepository, mirror)
  })

  it('the bundle URL ends in exactly one /, however it is written', () => {
    for (const written of ['http://10.30.0.1:8080/bundle', 'http://10.30.0.1:8080/bundle/', 'http://10.30.0.1:8080/bundle///']) {
      const r = loadProfile(BASE.replace(`bundle: ${BUNDLE}`, `bundle: ${written}`), 'airgap.yaml')
      assert.ok(r.cluster, list(r.diagnostics))
      assert.equal(r.cluster.airgap?.bundle, BUNDLE, written)
      assert.equal(r.cluster.kubernetes.packageRepository, `${BUNDLE}kubernetes/core:/stable:/{channel}/{format}/`, written)
    }
  })

  it('without spec.airgap nothing changes: pkgs.k8s.io, no airgap in the model', () => {
    const r = loadProfile(
      edit(BASE, (s) => s.replace(/ {2}airgap:\n.*\n.*\n/, '')),
      'airgap.yaml',
    )
    assert.ok(r.cluster, list(r.diagnostics))
    assert.equal(r.cluster.airgap, undefined)
    assert.equal(r.cluster.kubernetes.packageRepository, 'https://pkgs.k8s.io/core:/stable:/{channel}/{format}/')
  })

  it('no bundle, every source a mirror on the network: valid, and no bundle in the model', () => {
    const text = edit(BASE, NO_BUNDLE, (s) =>
      s.replace(
        '    version: 1.34.2\n',
        '    version: 1.34.2\n    imageRepository: registry.lan:5000/k8s\n    packageRepository: http://mirror.lan/k8s\n',
      ),
    )
    const r = loadProfile(text, 'airgap.yaml')
    assert.ok(r.cluster, list(r.diagnostics))
    assert.deepEqual(r.cluster.airgap, {sha256: PIN.toLowerCase()})
    assert.equal(r.cluster.kubernetes.packageRepository, 'http://mirror.lan/k8s/core:/stable:/{channel}/{format}/')
  })

  for (const [what, edits, path, at, fix] of INTERNET) {
    it(`NG0429 ${path}: ${what}`, () => {
      const text = edit(BASE, ...edits)
      const d = find(text, 'NG0429', path)
      assert.match(d.message, /^the cluster is air-gapped \(spec\.airgap\), but .+ would come from .+ on the internet: .+/)
      assertAt(text, d, at)
      const fixed = loadProfile(edit(text, fix), 'airgap.yaml')
      assert.ok(
        !fixed.diagnostics.some((x) => x.code === 'NG0429' && formatPath(x.path) === path),
        `pointed at the network, ${path} is still refused:\n${list(fixed.diagnostics)}`,
      )
    })
  }

  it('NG0429 names every internet source at once', () => {
    const text = edit(BASE, NO_BUNDLE, KUBE_VIP, (s) =>
      s.replace('{type: containerd, source: distribution}', '{type: containerd}').replace(', manifestFile: kube-flannel.yml', ''),
    )
    const r = loadProfile(text, 'airgap.yaml')
    const paths = r.diagnostics
      .filter((d) => d.code === 'NG0429')
      .map((d) => formatPath(d.path))
      .sort()
    assert.deepEqual(paths, [
      'spec.containerRuntime.dockerRepository',
      'spec.kubernetes.imageRepository',
      'spec.kubernetes.packageRepository',
      'spec.loadBalancer.kubeVipImage',
      'spec.networking.cni',
    ])
  })

  it('NG0430: CRI-O with a bundle, at spec.containerRuntime.type', () => {
    const text = edit(BASE, (s) =>
      s.replace('{type: containerd, source: distribution}', '{type: cri-o, crioRepository: http://mirror.lan/cri-o}'),
    )
    const d = find(text, 'NG0430', 'spec.containerRuntime.type')
    assert.match(d.message, /CRI-O nodes cannot use it/)
    assertAt(text, d, 'cri-o')
  })

  it('NG0301: a pin that is not 64 hexadecimal digits, at spec.airgap.sha256', () => {
    for (const pin of ['abc', 'g'.repeat(64), 'a'.repeat(63), 'a'.repeat(65)]) {
      const text = BASE.replace(`sha256: ${PIN}`, `sha256: "${pin}"`)
      const d = find(text, 'NG0301', 'spec.airgap.sha256')
      assert.match(d.message, /is not a valid SHA-256 digest: it must be 64 hexadecimal digits/, pin)
      assertAt(text, d, `"${pin}"`)
    }
  })

  it('NG0308: a bundle URL that is not http(s), or not safe, at spec.airgap.bundle', () => {
    for (const url of ['ftp://10.30.0.1/bundle/', '/srv/bundle/', 'http://10.30.0.1/$(reboot)/', 'http://10.30.0.1/a b/']) {
      const text = BASE.replace(`bundle: ${BUNDLE}`, `bundle: "${url}"`)
      const d = find(text, 'NG0308', 'spec.airgap.bundle')
      assertAt(text, d, `"${url}"`)
    }
  })

  it('NG0301: a bundle URL with a query or a fragment, which the paths appended to it would land in', () => {
    for (const url of ['http://10.30.0.1/bundle/?v=2', 'http://10.30.0.1/bundle#top']) {
      const text = BASE.replace(`bundle: ${BUNDLE}`, `bundle: "${url}"`)
      const d = find(text, 'NG0301', 'spec.airgap.bundle')
      assert.match(d.message, /is not a valid bundle URL: .*no query \(\?\) or fragment \(#\)/)
      assertAt(text, d, `"${url}"`)
    }
  })

  it('with a bundle, Flatcar nodes need no mirror: the sysext and the images come from the bundle', () => {
    const r = loadProfile(edit(BASE, FLATCAR), 'airgap.yaml')
    assert.ok(r.cluster, list(r.diagnostics))
    assert.equal(r.cluster.kubernetes.sysextRepository, `${BUNDLE}sysext`)
  })

  it('with a bundle, a sysextRepository the profile names wins', () => {
    const text = edit(BASE, FLATCAR, (s) =>
      s.replace('    version: 1.34.2\n', '    version: 1.34.2\n    sysextRepository: http://10.30.0.1:8080/extensions/\n'),
    )
    const r = loadProfile(text, 'airgap.yaml')
    assert.ok(r.cluster, list(r.diagnostics))
    assert.equal(r.cluster.kubernetes.sysextRepository, 'http://10.30.0.1:8080/extensions')
  })
})
