/**
 * The image mirror rule (src/profile/image-mirror.ts) for every CNI's images, and the bootstrap
 * program's copy of it (mirror_cni_images in assets/bootstrap/cni-mirror.sh), which control
 * plane 0 runs on a manifest it downloads at boot: both must map every manifest the same way.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {buildInventory, manifestImages} from '../../../src/plan/inventory.js'
import {CNI_INFO} from '../../../src/profile/cni.js'
import {type ImageMirror, imageMirrorOf, imageMirrorsTsv, mirrorImage, mirrorManifest} from '../../../src/profile/image-mirror.js'
import {loadCluster, PROFILES_DIR, REPO_ROOT} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-image-mirror-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const ALIYUN = 'registry.aliyuncs.com/google_containers'

/** Every CNI's images: the release manifests' tables, and cilium's as its Helm chart renders them. */
const CNI_IMAGES: Record<string, readonly string[]> = {
  flannel: CNI_INFO.flannel.releaseImages ?? [],
  calico: CNI_INFO.calico.releaseImages ?? [],
  cilium: [
    'quay.io/cilium/cilium:v1.16.5@sha256:758ca0793f5995bb938a2fa219dcce63dc0b3fa7fc4ce5cc851125281fb7361d',
    'quay.io/cilium/operator-generic:v1.16.5@sha256:f7884848483bbcd7b1e0ccfd34ba4546f258b460cb4b7e2f06a1bcc96ef88039',
  ],
}

describe('mirrorImage: the rule', () => {
  const m = imageMirrorOf(ALIYUN)
  const table: Array<[string, string, ImageMirror?]> = [
    ['ghcr.io/flannel-io/flannel:v0.26.7', `${ALIYUN}/flannel:v0.26.7`],
    ['ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1', `${ALIYUN}/flannel-cni-plugin:v1.6.2-flannel1`],
    ['docker.io/calico/node:v3.29.1', `${ALIYUN}/node:v3.29.1`],
    ['calico/cni:v3.29.1', `${ALIYUN}/cni:v3.29.1`],
    ['busybox', `${ALIYUN}/busybox`],
    ['quay.io/cilium/cilium:v1.16.5@sha256:abc', `${ALIYUN}/cilium:v1.16.5@sha256:abc`],
    ['quay.io/cilium/cilium@sha256:abc', `${ALIYUN}/cilium@sha256:abc`],
    ['localhost:5000/x/y:1', `${ALIYUN}/y:1`],
    // Already on the mirror's registry: left alone.
    ['registry.aliyuncs.com/other/flannel:v1', 'registry.aliyuncs.com/other/flannel:v1'],
    // No mirror: nothing changes but what imageMirrors names.
    ['ghcr.io/flannel-io/flannel:v0.26.7', 'ghcr.io/flannel-io/flannel:v0.26.7', imageMirrorOf('registry.k8s.io')],
    [
      'calico/node:v3.29.1',
      'mirror.lan/calico/node:v3.29.1',
      imageMirrorOf('registry.k8s.io', {'docker.io/calico/node': 'mirror.lan/calico/node'}),
    ],
    // imageMirrors wins over the rule, and keys are compared in full form.
    ['calico/node:v3.29.1', 'mirror.lan/calico-node:v3.29.1', imageMirrorOf(ALIYUN, {'calico/node': 'mirror.lan/calico-node'})],
  ]
  for (const [from, to, mirror] of table) it(`${from} -> ${to}`, () => assert.equal(mirrorImage(from, mirror ?? m), to))
})

/** A manifest naming the images in the forms manifests use: plain, quoted, in a list, with a comment. */
function manifest(images: readonly string[]): string {
  const lines = ['# a CNI manifest', 'apiVersion: apps/v1', 'kind: DaemonSet', 'metadata: {name: cni}', 'spec:', '  template:', '    spec:']
  lines.push('      initContainers:')
  images.forEach((img, i) => {
    lines.push(`      - name: init-${i}`, i % 2 ? `        image: "${img}"` : `        image: ${img}`)
  })
  lines.push('      containers:')
  images.forEach((img, i) => {
    lines.push(
      `        - image: '${img}'  # pinned`,
      `          name: c-${i}`,
      '          env: [{name: IMAGE_HINT, value: "image: not-a-key"}]',
    )
  })
  lines.push('')
  return lines.join('\n')
}

/** The bootstrap program's mirror_cni_images (cni-mirror.sh), run on `text`. */
function shellRewrite(text: string, mirror: ImageMirror): string {
  const bash = 'bash'
  const script = readFileSync(path.join(REPO_ROOT, 'assets/bootstrap/cni-mirror.sh'), 'utf8')
  assert.ok(script.includes('mirror_cni_images() {'), 'cni-mirror.sh defines mirror_cni_images')
  const dir = mkdtempSync(path.join(tmp, 'sh-'))
  writeFileSync(path.join(dir, 'functions.sh'), script)
  writeFileSync(path.join(dir, 'mirrors.tsv'), imageMirrorsTsv(mirror))
  writeFileSync(path.join(dir, 'cni.yaml'), text)
  const harness = `set -Eeuo pipefail
ROOT=
declare -A P=([CNI_IMAGE_MIRROR]="$MIRROR" [CNI_IMAGE_MIRRORS_FILE]="$MAP")
param() { printf '%s' "\${P[$1]-}"; }
log() { printf '%s\\n' "$*" >&2; }
. "$1/functions.sh"
mirror_cni_images "$1/cni.yaml"
cat "$1/cni.yaml"
`
  const map = Object.keys(mirror.mirrors).length > 0 ? path.join(dir, 'mirrors.tsv') : ''
  return run(bash, ['-c', harness, 'harness', dir], {env: {...process.env, MIRROR: mirror.repository ?? '', MAP: map}}).stdout
}

describe('mirrorManifest and the bootstrap program agree, for every CNI', () => {
  const mirrors: Array<[string, ImageMirror]> = [
    ['a flat mirror', imageMirrorOf(ALIYUN)],
    [
      'a mirror and per-image overrides',
      imageMirrorOf('mirror.lan:5000/k8s', {
        'ghcr.io/flannel-io/flannel': 'mirror.lan:5000/flannel-io/flannel',
        'calico/node': 'mirror.lan:5000/calico/node',
      }),
    ],
    ['overrides only', imageMirrorOf('registry.k8s.io', {'quay.io/cilium/cilium': 'mirror.lan/cilium/cilium'})],
    ['no mirror', imageMirrorOf('registry.k8s.io')],
  ]
  for (const [cni, images] of Object.entries(CNI_IMAGES))
    for (const [what, mirror] of mirrors)
      it(`${cni}, ${what}`, (t) => {
        requireTool(t, 'bash')
        const text = manifest(images)
        const {text: out, changed} = mirrorManifest(text, mirror)
        // The manifest names exactly the mapped images afterwards, and nothing else changed.
        assert.deepEqual(manifestImages(out).images, [...new Set(images.map((i) => mirrorImage(i, mirror)))].sort())
        assert.equal(out.split('\n').length, text.split('\n').length)
        assert.equal(changed.length, images.filter((i) => mirrorImage(i, mirror) !== i).length * 2)
        assert.match(out, /value: "image: not-a-key"/)
        assert.equal(shellRewrite(text, mirror), out.endsWith('\n') ? out : `${out}\n`)
      })
})

describe('the inventory and the rendered plan name the mirrored images', () => {
  const profile = (extra: string) => `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: mirrored}
spec:
  kubernetes: {version: 1.34.2, imageRepository: ${ALIYUN}${extra}}
  os: debian-12
  controlPlaneEndpoint: {host: 10.30.0.100}
  loadBalancer: {type: kube-vip}
  networking: {cni: {type: calico}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`
  it('kube-vip and the release manifest images under the mirror, with where they came from', () => {
    const cluster = loadCluster(path.join(PROFILES_DIR, 'mirrored.yaml'), profile(''))
    const inv = buildInventory(cluster)
    assert.equal(cluster.loadBalancer.kubeVipImage, `${ALIYUN}/kube-vip:v0.8.9`)
    const cni = inv.images.filter((i) => i.component === 'cni')
    assert.deepEqual(
      cni.map((i) => [i.image, i.upstream]),
      (CNI_INFO.calico.releaseImages ?? []).map((i) => [mirrorImage(i, imageMirrorOf(ALIYUN)), i]),
    )
    assert.ok(
      inv.images.every((i) => i.image.startsWith(`${ALIYUN}/`)),
      inv.images.map((i) => i.image).join('\n'),
    )
  })

  it('two images mapped to one name is an error naming both (NG0433)', () => {
    const cluster = loadCluster(path.join(PROFILES_DIR, 'mirrored.yaml'), profile(''))
    const clash = {
      ...cluster,
      networking: {...cluster.networking, cni: {type: 'calico' as const, version: 'v3.29.1', manifestFile: 'x.yaml'}},
    }
    const inv = buildInventory(clash, {cniManifest: manifest(['docker.io/calico/node:v1', 'quay.io/other/node:v1'])})
    const d = inv.diagnostics.find((x) => x.code === 'NG0433')
    assert.ok(d, JSON.stringify(inv.diagnostics))
    assert.match(
      d.message,
      /docker\.io\/calico\/node:v1 and quay\.io\/other\/node:v1 would both be pulled as registry\.aliyuncs\.com\/google_containers\/node:v1/,
    )
    const fixed = {...clash, kubernetes: {...clash.kubernetes, imageMirrors: {'quay.io/other/node': `${ALIYUN}/other-node`}}}
    const ok = buildInventory(fixed, {cniManifest: manifest(['docker.io/calico/node:v1', 'quay.io/other/node:v1'])})
    assert.equal(ok.diagnostics.filter((x) => x.code === 'NG0433').length, 0)
  })
})
