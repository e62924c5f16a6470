/**
 * The image and package inventory (`nodegen images`): every image each example profile's nodes pull,
 * as written and with an imageRepository mirror; the CNI's images from a manifest file or the
 * release table; the packages per OS, runtime, role and firewall; Flatcar's sysext.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import {describe, it} from 'node:test'
import {buildInventory, extraControlPlaneImages, type Inventory, manifestImages} from '../../../src/plan/inventory.js'
import {imageMirrorOf, mirrorImage} from '../../../src/profile/index.js'
import {exampleProfiles, loadCluster, PROFILES_DIR, profileText} from '../../support/profiles.js'

const MIRROR = 'mirror.example.com:5000/google_containers'

/** What each example profile's nodes pull, by hand from kubeadm 1.33/1.34's constants and the manifests. */
function expected(repo: string, dns: string): Record<string, Array<[string, string]>> {
  const k134 = (extra: Array<[string, string]>): Array<[string, string]> => [
    [`${repo}/kube-apiserver:v1.34.2`, 'control-plane'],
    [`${repo}/kube-controller-manager:v1.34.2`, 'control-plane'],
    [`${repo}/kube-scheduler:v1.34.2`, 'control-plane'],
    [`${repo}/kube-proxy:v1.34.2`, 'control-plane,worker'],
    [`${dns}:v1.12.1`, 'control-plane,worker'],
    [`${repo}/pause:3.10.1`, 'control-plane,worker'],
    [`${repo}/etcd:3.6.5-0`, 'control-plane'],
    ...extra,
  ]
  const flannel: Array<[string, string]> = [
    ['ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1', 'control-plane,worker'],
    ['ghcr.io/flannel-io/flannel:v0.26.4', 'control-plane,worker'],
  ]
  const calico: Array<[string, string]> = [
    ['docker.io/calico/cni:v3.29.1', 'control-plane,worker'],
    ['docker.io/calico/kube-controllers:v3.29.1', 'control-plane,worker'],
    ['docker.io/calico/node:v3.29.1', 'control-plane,worker'],
  ]
  return {
    'aws.yaml': k134(calico),
    'flatcar.yaml': k134([['ghcr.io/kube-vip/kube-vip:v0.8.9', 'control-plane'], ...flannel]),
    'gcp.yaml': k134(flannel),
    'quickstart.yaml': k134(flannel),
    'single-debian.yaml': k134(flannel),
    'ha-external-etcd.yaml': [
      [`${repo}/kube-apiserver:v1.33.5`, 'control-plane'],
      [`${repo}/kube-controller-manager:v1.33.5`, 'control-plane'],
      [`${repo}/kube-scheduler:v1.33.5`, 'control-plane'],
      [`${repo}/kube-proxy:v1.33.5`, 'control-plane,worker'],
      [`${dns}:v1.12.0`, 'control-plane,worker'],
      [`${repo}/pause:3.10`, 'control-plane,worker,etcd'],
      // nodegen's etcd static pod on the etcd members, at the tag of plan/etcd/versions.ts.
      [`${repo}/etcd:3.5.24-0`, 'etcd'],
      ...calico,
    ],
  }
}

function mirrored(name: string): string {
  const text = profileText(name)
  return /^\s+imageRepository:/m.test(text)
    ? text.replace(/^(\s+imageRepository:\s*)\S+/m, `$1${MIRROR}`)
    : text.replace(/^(\s+)(version:\s*[0-9.]+\s*)$/m, `$1$2\n$1imageRepository: ${MIRROR}`)
}

function pairs(inv: Inventory): Array<[string, string]> {
  return inv.images.map((i) => [i.image, i.roles.join(',')])
}

describe('the inventory of every example profile', () => {
  it('covers every example profile', () => {
    assert.deepEqual(
      exampleProfiles().map((p) => path.basename(p)),
      Object.keys(expected('', '')).sort(),
    )
  })

  for (const file of exampleProfiles()) {
    const name = path.basename(file)
    it(`${name}: every image, with the roles that pull it`, () => {
      const inv = buildInventory(loadCluster(file))
      const want = expected('registry.k8s.io', 'registry.k8s.io/coredns/coredns')[name] ?? []
      assert.deepEqual(pairs(inv), want)
      assert.equal(inv.complete, true)
      assert.deepEqual(inv.diagnostics, [])
    })

    it(`${name} with imageRepository ${MIRROR}: every image under the mirror, CoreDNS at <mirror>/coredns`, () => {
      const inv = buildInventory(loadCluster(path.join(PROFILES_DIR, name), mirrored(name)))
      // kubeadm's by kubeadm's rule, the CNI's and kube-vip's by nodegen's (src/profile/image-mirror.ts).
      const want = (expected(MIRROR, `${MIRROR}/coredns`)[name] ?? []).map(([image, roles]): [string, string] => [
        mirrorImage(image, imageMirrorOf(MIRROR)),
        roles,
      ])
      assert.deepEqual(pairs(inv), want)
      for (const i of inv.images) assert.ok(i.image.startsWith(`${MIRROR}/`), i.image)
      assert.ok(inv.images.some((i) => i.image === `${MIRROR}/flannel:v0.26.4` || i.image === `${MIRROR}/node:v3.29.1`))
    })
  }
})

const profile = (spec: string, kubernetes = '{version: 1.34.2}') =>
  loadCluster(
    path.join(PROFILES_DIR, 'inline.yaml'),
    `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: inline}
spec:
  kubernetes: ${kubernetes}
  controlPlaneEndpoint: {host: 10.0.0.100}
${spec}
`,
  )

const nodes = `  nodes:
    - {name: cp-1, role: control-plane, ip: 10.0.0.11/24}
    - {name: cp-2, role: control-plane, ip: 10.0.0.12/24}
    - {name: cp-3, role: control-plane, ip: 10.0.0.13/24}
    - {name: w-1, role: worker, ip: 10.0.0.21/24, os: debian-12}`

describe('the CNI images', () => {
  it('come from the manifest file: containers and initContainers of every pod template, once each', () => {
    const manifest = `apiVersion: apps/v1
kind: DaemonSet
spec:
  template:
    spec:
      initContainers: [{name: a, image: quay.io/cni/install:v1}]
      containers: [{name: b, image: quay.io/cni/agent:v1}, {name: c, image: "quay.io/cni/agent:v1"}]
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate: {spec: {template: {spec: {containers: [{name: d, image: quay.io/cni/gc:v1}]}}}}
---
apiVersion: v1
kind: ConfigMap
data: {image: not-an-image}
`
    assert.deepEqual(manifestImages(manifest), {images: ['quay.io/cni/agent:v1', 'quay.io/cni/gc:v1', 'quay.io/cni/install:v1']})
    const c = profile(`  networking: {cni: {type: cilium, manifestFile: cilium.yaml}}\n${nodes}`)
    const inv = buildInventory(c, {cniManifest: manifest})
    const cni = inv.images.filter((i) => i.component === 'cni')
    assert.deepEqual(
      cni.map((i) => [i.image, i.source, i.roles.join(',')]),
      [
        ['quay.io/cni/agent:v1', 'cni-manifest', 'control-plane,worker'],
        ['quay.io/cni/gc:v1', 'cni-manifest', 'control-plane,worker'],
        ['quay.io/cni/install:v1', 'cni-manifest', 'control-plane,worker'],
      ],
    )
    assert.equal(inv.complete, true)
  })

  it('a manifest file that is not YAML is NG0501', () => {
    const c = profile(`  networking: {cni: {type: cilium, manifestFile: cilium.yaml}}\n${nodes}`)
    const inv = buildInventory(c, {cniManifest: 'a: [1,\n'})
    assert.deepEqual(
      inv.diagnostics.map((d) => [d.severity, d.code, d.path.join('.')]),
      [['error', 'NG0501', 'spec.networking.cni.manifestFile']],
    )
    assert.equal(inv.complete, false)
  })

  it('a manifest URL other than the default release is NG0502: a warning, the list incomplete', () => {
    for (const cni of ['{type: flannel, version: v0.26.7}', '{type: calico, manifestUrl: "https://mirror.example.com/calico.yaml"}']) {
      const inv = buildInventory(profile(`  networking: {cni: ${cni}}\n${nodes}`))
      assert.deepEqual(
        inv.diagnostics.map((d) => [d.severity, d.code]),
        [['warning', 'NG0502']],
      )
      assert.equal(inv.complete, false)
      assert.equal(inv.images.filter((i) => i.component === 'cni').length, 0)
    }
  })

  it('CNI none: no CNI image, and the list is complete', () => {
    const inv = buildInventory(profile(`  networking: {cni: {type: none}, podSubnet: 10.244.0.0/16}\n${nodes}`))
    assert.equal(inv.images.filter((i) => i.component === 'cni').length, 0)
    assert.equal(inv.complete, true)
  })
})

describe('the packages', () => {
  const names = (inv: Inventory, os: string) => inv.os.find((o) => o.os === os)?.packages.map((p) => p.request) ?? []

  it('per OS: each OS of the profile with its nodes, repositories and pinned, held Kubernetes packages', () => {
    const inv = buildInventory(profile(`  os: rocky-9\n${nodes}`))
    assert.deepEqual(
      inv.os.map((o) => [o.os, o.nodes.join(','), o.roles.join(',')]),
      [
        ['rocky-9', 'cp-1,cp-2,cp-3', 'control-plane'],
        ['debian-12', 'w-1', 'worker'],
      ],
    )
    assert.deepEqual(names(inv, 'rocky-9'), [
      'containerd.io-2.0.11',
      'chrony',
      'curl',
      'openssl',
      'iproute-tc',
      'conntrack-tools',
      'socat',
      'keepalived',
      'haproxy',
      'firewalld',
      'kubelet-1.34.2',
      'kubeadm-1.34.2',
      'kubectl-1.34.2',
      'cri-tools',
      'kubernetes-cni',
    ])
    // The worker's OS has no keepalived/haproxy, and Debian gets no firewalld.
    assert.deepEqual(names(inv, 'debian-12'), [
      'curl',
      'ca-certificates',
      'containerd.io=2.0.11-*',
      'chrony',
      'openssl',
      'conntrack',
      'socat',
      'kubelet=1.34.2-*',
      'kubeadm=1.34.2-*',
      'kubectl=1.34.2-*',
      'cri-tools',
      'kubernetes-cni',
    ])
    const deb = inv.os.find((o) => o.os === 'debian-12')
    assert.deepEqual(deb?.repositories, [
      {name: 'kubernetes', url: 'https://pkgs.k8s.io/core:/stable:/v1.34/deb/'},
      {name: 'docker', url: 'https://download.docker.com/linux/debian', suite: 'bookworm stable'},
    ])
    const kubelet = deb?.packages.find((p) => p.name === 'kubelet')
    assert.deepEqual(kubelet, {
      name: 'kubelet',
      version: '1.34.2',
      request: 'kubelet=1.34.2-*',
      repository: 'kubernetes',
      roles: ['worker'],
      held: true,
    })
  })

  it('CRI-O, the distribution containerd, a package mirror and firewall disabled', () => {
    const crio = buildInventory(
      profile(`  os: almalinux-9\n  containerRuntime: {type: cri-o}\n  firewall: disabled\n  loadBalancer: {type: keepalived}\n${nodes}`),
    )
    const alma = crio.os.find((o) => o.os === 'almalinux-9')
    assert.deepEqual(alma?.repositories, [
      {name: 'kubernetes', url: 'https://pkgs.k8s.io/core:/stable:/v1.34/rpm/'},
      {name: 'cri-o', url: 'https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v1.34/rpm/'},
    ])
    assert.ok(names(crio, 'almalinux-9').includes('cri-o'))
    assert.ok(names(crio, 'almalinux-9').includes('keepalived'))
    assert.ok(!names(crio, 'almalinux-9').includes('haproxy'))
    assert.ok(!names(crio, 'almalinux-9').includes('firewalld'))
    const dist = buildInventory(
      profile(
        `  os: debian-12\n  containerRuntime: {type: containerd, source: distribution}\n${nodes}`,
        '{version: 1.34.2, packageRepository: aliyun}',
      ),
    )
    const d = dist.os.find((o) => o.os === 'debian-12')
    assert.deepEqual(d?.repositories, [{name: 'kubernetes', url: 'https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.34/deb/'}])
    assert.equal(d?.packages.find((p) => p.name === 'containerd')?.repository, 'distribution')
  })

  it('Flatcar: the sysext image instead of packages', () => {
    const inv = buildInventory(loadCluster(path.join(PROFILES_DIR, 'flatcar.yaml')))
    assert.deepEqual(inv.os, [
      {
        os: 'flatcar',
        family: 'flatcar',
        nodes: ['fc-cp-1', 'fc-cp-2', 'fc-cp-3', 'fc-worker-1', 'fc-worker-2'],
        roles: ['control-plane', 'worker'],
        repositories: [],
        packages: [],
        sysext: {
          name: 'kubernetes',
          version: '1.34.2',
          file: 'kubernetes-v1.34.2-x86-64.raw',
          url: 'https://extensions.flatcar.org/extensions/kubernetes-v1.34.2-x86-64.raw',
        },
      },
    ])
  })
})

describe('the image bake', () => {
  it("pre-pulls beyond kubeadm's list and the CNI manifest exactly the inventory's other control-plane images", () => {
    assert.deepEqual(extraControlPlaneImages(loadCluster(path.join(PROFILES_DIR, 'flatcar.yaml'))), ['ghcr.io/kube-vip/kube-vip:v0.8.9'])
    assert.deepEqual(extraControlPlaneImages(loadCluster(path.join(PROFILES_DIR, 'quickstart.yaml'))), [])
    // The external etcd members' image is theirs, not a control plane's.
    assert.deepEqual(extraControlPlaneImages(loadCluster(path.join(PROFILES_DIR, 'ha-external-etcd.yaml'))), [])
  })
})
