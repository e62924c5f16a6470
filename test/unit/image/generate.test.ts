/** The image generator's choices: HCL for the installed Packer, escaping, what a profile changes. */
import assert from 'node:assert/strict'
import path from 'node:path'
import {describe, it} from 'node:test'
import {loadImageAssets} from '../../../src/app/image.js'
import {CURRENT_FEATURES, featuresFor, generateImageTree, hclString, imageBaseName, parsePackerVersion} from '../../../src/image/index.js'
import {type ImageRecord, imageForNode} from '../../../src/image/records.js'
import {loadCluster, PROFILES_DIR, profileText} from '../../support/profiles.js'

const QUICKSTART = path.join(PROFILES_DIR, 'quickstart.yaml')

describe('the image generator', () => {
  it('reads Packer versions, machine-readable and human', () => {
    assert.equal(parsePackerVersion('1796160860,,version,1.6.6\n1796160860,,version-prelease,\n')?.text, '1.6.6')
    assert.equal(parsePackerVersion('Packer v1.11.2\n\nYour version of Packer is out of date!')?.text, '1.11.2')
    assert.equal(parsePackerVersion('something else'), undefined)
  })

  it('writes required_plugins only for Packer 1.7 and later', () => {
    const v = (s: string) => featuresFor(parsePackerVersion(`Packer v${s}`)!)
    assert.deepEqual(v('1.6.6'), {requiredPlugins: false, requiredVersion: '>= 1.6.6'})
    assert.deepEqual(v('1.7.0'), CURRENT_FEATURES)
    assert.deepEqual(v('1.11.2'), CURRENT_FEATURES)
    const c = loadCluster(QUICKSTART)
    const old = generateImageTree(c, 'debian-12', {features: v('1.6.6'), assets: loadImageAssets()}).get('versions.pkr.hcl')!.content
    const cur = generateImageTree(c, 'debian-12', {features: CURRENT_FEATURES, assets: loadImageAssets()}).get('versions.pkr.hcl')!.content
    assert.doesNotMatch(old, /required_plugins \{/)
    assert.match(cur, /required_plugins \{[\s\S]*source {2}= "github.com\/hashicorp\/qemu"/)
  })

  it('templates for Packer 1.6 and for current Packer differ only in versions.pkr.hcl', () => {
    const c = loadCluster(QUICKSTART)
    for (const os of ['almalinux-9', 'debian-13', 'ubuntu-24.04'] as const) {
      const old = generateImageTree(c, os, {features: featuresFor(parsePackerVersion('Packer v1.6.6')!), assets: loadImageAssets()})
      const cur = generateImageTree(c, os, {features: CURRENT_FEATURES, assets: loadImageAssets()})
      assert.deepEqual([...old.keys()], [...cur.keys()])
      assert.deepEqual(
        [...old.keys()].filter((k) => old.get(k)?.content !== cur.get(k)?.content),
        ['versions.pkr.hcl'],
      )
    }
  })

  it('escapes HCL template sequences in strings', () => {
    const open = '$' + '{'
    assert.equal(hclString(`a${open}b}%{c}"\\`), `"a$${open}b}%%{c}\\"\\\\"`)
  })

  it('follows the profile: version, mirrors, platform defaults, a CNI manifest file', () => {
    const text = profileText('quickstart.yaml')
      .replace('version: 1.34.2', 'version: 1.33.1')
      .replace('imageRepository: registry.k8s.io', 'imageRepository: registry.aliyuncs.com/google_containers')
    const c = loadCluster(QUICKSTART, text)
    const t = generateImageTree(c, 'centos-stream-9', {
      features: CURRENT_FEATURES,
      assets: loadImageAssets(),
      cniManifest: 'image: x/y:1\n',
    })
    const env = t.get('image/image.env')!.content
    assert.match(env, /^KUBERNETES_VERSION=1\.33\.1$/m)
    assert.match(env, /^IMAGE_REPOSITORY=registry\.aliyuncs\.com\/google_containers$/m)
    assert.match(env, /^CONTAINERD_VERSION=2\.0\.11$/m, 'the bake installs the pinned containerd too')
    assert.match(t.get('image/files/etc/yum.repos.d/docker-ce.repo')!.content, /^exclude=containerd\.io$/m)
    assert.doesNotMatch(env, /^CNI_MANIFEST_URL=/m, 'a manifest file is shipped, not fetched')
    assert.equal(t.get('image/cni.yaml')?.content, 'image: x/y:1\n')
    assert.match(t.get('image/files/etc/yum.repos.d/kubernetes.repo')!.content, /core:\/stable:\/v1\.33\/rpm/)
    assert.equal(imageBaseName(c, 'ubuntu-24.04'), 'nodegen-ubuntu-24-04-k8s-1-33-1')
    assert.match(t.get('centos-stream-9.pkr.hcl')!.content, /"nodegen\/kubernetes-version" = "1\.33\.1"/)
    assert.equal(t.get('scripts/bake.sh')!.mode, 0o755)
  })

  it('a recorded image baked with another containerd release is not used for the nodes', () => {
    const c = loadCluster(QUICKSTART, profileText('quickstart.yaml'))
    const node = c.nodes[0]!
    const record: ImageRecord = {
      os: node.os,
      builder: 'qemu',
      artifact: {builder: 'qemu', id: '/img/a.qcow2', path: '/img/a.qcow2'} as ImageRecord['artifact'],
      kubernetesVersion: '1.34.2',
      containerRuntime: 'containerd',
      containerdVersion: '2.0.11',
      imageRepository: 'registry.k8s.io',
      built: '2026-01-01T00:00:00Z',
      packerVersion: '1.6.6',
      buildDir: '/b',
    }
    assert.equal(imageForNode(c, node, [record]).problem, undefined)
    assert.match(
      imageForNode(c, node, [{...record, containerdVersion: '1.7.34'}]).problem ?? '',
      /baked with containerd 1\.7\.34, the profile asks for 2\.0\.11/,
    )
    // Records from before the pin say nothing about containerd: still used.
    const {containerdVersion: _, ...older} = record
    assert.equal(imageForNode(c, node, [older]).problem, undefined)
  })

  it('bakes the repositories even when the profile boots baked images, and no secrets', () => {
    const c = loadCluster(QUICKSTART, profileText('quickstart.yaml').replace(/^spec:\n/m, 'spec:\n  image: {baked: true}\n'))
    assert.equal(c.image.baked, true)
    const t = generateImageTree(c, 'almalinux-9', {features: CURRENT_FEATURES, assets: loadImageAssets()})
    assert.ok(t.has('image/files/etc/yum.repos.d/kubernetes.repo'))
    for (const [rel, f] of t) assert.doesNotMatch(f.content, /PRIVATE KEY|CALENDAR_SECRET|token:/, rel)
  })

  it('an air-gapped profile bakes from its bundle: its URL and pin, the bundle client, a bundle Packer can serve', () => {
    const pin = 'ab'.repeat(32)
    const c = loadCluster(
      path.join(PROFILES_DIR, 'airgapped.yaml'),
      `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: airgapped}
spec:
  kubernetes: {version: 1.34.2}
  os: debian-12
  controlPlaneEndpoint: {host: 10.0.0.100, port: 6443}
  networking: {cni: {type: flannel, manifestUrl: "http://10.0.0.5:8080/cni/kube-flannel.yml"}, gateway: 10.0.0.1}
  airgap: {bundle: "http://10.0.0.5:8080/", sha256: "${pin}"}
  nodes:
    - {name: cp0, role: control-plane, ip: 10.0.0.10/24}
`,
    )
    const t = generateImageTree(c, 'debian-12', {features: CURRENT_FEATURES, assets: loadImageAssets()})
    const env = t.get('image/image.env')!.content
    assert.match(env, /^BUNDLE_URL=http:\/\/10\.0\.0\.5:8080\/$/m)
    assert.match(env, new RegExp(`^BUNDLE_SHA256=${pin}$`, 'm'))
    assert.match(env, /^KUBERNETES_REPO=http:\/\/10\.0\.0\.5:8080\/kubernetes\/core:\/stable:\/v1\.34\/deb\/$/m)
    assert.equal(t.get('scripts/bundle.sh')?.content, loadImageAssets().bundleScript)
    const hcl = t.get('debian-12.pkr.hcl')!.content
    assert.match(hcl, /^ {2}http_directory {7}= var\.qemu_bundle_directory$/m)
    assert.match(hcl, /^ {2}qemuargs {13}= var\.qemu_args$/m)
    assert.match(hcl, /variable "qemu_args" \{\n {2}type {8}= list\(list\(string\)\)\n {2}default {5}= \[\]/)
    assert.equal(hcl.match(/environment_vars = \["NODEGEN_BUNDLE_SERVED=\$\{var\.qemu_bundle_directory == "" \? "" : "1"\}"\]/g)?.length, 5)
    // Without a bundle: no bundle client, no bundle parameters.
    const plain = generateImageTree(loadCluster(QUICKSTART), 'debian-12', {features: CURRENT_FEATURES, assets: loadImageAssets()})
    assert.equal(plain.has('scripts/bundle.sh'), false)
    assert.doesNotMatch(plain.get('image/image.env')!.content, /BUNDLE/)
  })
})
