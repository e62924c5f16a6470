import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {parse} from 'yaml'
import {
  buildEtcdMemberFiles,
  ETCD_KUBELET_CONFIG_PATH,
  ETCD_MANIFEST_PATH,
  ETCD_VERSIONS,
  etcdImageTag,
} from '../../../../src/plan/etcd/index.js'
import {etcdMembers, SUPPORTED} from '../../../../src/profile/index.js'
import {validateKubeDocuments} from '../../../support/schemas.js'
import {cluster, firstOf} from '../kubeadm/fixtures.js'

// biome-ignore lint/suspicious/noExplicitAny: manifests read as plain data
type Doc = any

function flags(command: string[]): Record<string, string> {
  return Object.fromEntries(command.slice(1).map((f) => /^--([^=]+)=(.*)$/.exec(f)!.slice(1, 3) as [string, string]))
}

describe('external etcd member', () => {
  const c = cluster('ha-external-etcd')

  test('files and the kubelet drop-in of an etcd member; nothing for other roles', () => {
    const m = buildEtcdMemberFiles(c, firstOf(c, 'etcd', 1))
    assert.deepEqual(
      m.files.map((f) => [f.path, f.mode, f.secret]),
      [
        [ETCD_MANIFEST_PATH, 0o600, false],
        [ETCD_KUBELET_CONFIG_PATH, 0o644, false],
      ],
    )
    assert.equal(m.units.length, 1)
    const u = m.units[0]!
    assert.equal(u.name, 'kubelet.service')
    assert.equal(u.content, undefined)
    assert.equal(u.enabled, true)
    assert.equal(u.dropIns[0]!.name, '20-etcd-service-manager.conf')
    assert.match(
      u.dropIns[0]!.content,
      /^\[Service\]\nExecStart=\nExecStart=\/usr\/bin\/kubelet --config=\/etc\/nodegen\/etcd-kubelet\.yaml\nRestart=always\n$/m,
    )
    for (const n of c.nodes.filter((x) => x.role !== 'etcd')) assert.deepEqual(buildEtcdMemberFiles(c, n), {files: [], units: []})
  })

  test("the standalone kubelet's configuration validates and is local-only", () => {
    const f = buildEtcdMemberFiles(c, firstOf(c, 'etcd')).files.find((x) => x.path === ETCD_KUBELET_CONFIG_PATH)!
    for (const r of validateKubeDocuments(f.content)) assert.deepEqual(r.errors, [], r.kind)
    const k: Doc = parse(f.content)
    assert.deepEqual(k.authentication, {anonymous: {enabled: false}, webhook: {enabled: false}})
    assert.deepEqual(k.authorization, {mode: 'AlwaysAllow'})
    assert.equal(k.cgroupDriver, 'systemd')
    assert.equal(k.address, '127.0.0.1')
    assert.equal(k.containerRuntimeEndpoint, 'unix:///var/run/containerd/containerd.sock')
    assert.equal(k.staticPodPath, '/etc/kubernetes/manifests')
  })

  test('the static pod: every member in initial-cluster, URLs on the node IP and loopback, TLS both ways', () => {
    for (const node of etcdMembers(c)) {
      const pod: Doc = parse(buildEtcdMemberFiles(c, node).files.find((x) => x.path === ETCD_MANIFEST_PATH)!.content)
      const ctr = pod.spec.containers[0]
      assert.equal(ctr.command[0], 'etcd')
      const f = flags(ctr.command)
      assert.equal(f.name, node.name)
      assert.equal(
        f['initial-cluster'],
        'etcd-1=https://192.168.2.21:2380,etcd-2=https://192.168.2.22:2380,etcd-3=https://192.168.2.23:2380',
      )
      assert.equal(f['initial-cluster-state'], 'new')
      assert.equal(f['initial-cluster-token'], 'ha-external')
      assert.equal(f['advertise-client-urls'], `https://${node.ip}:2379`)
      assert.equal(f['initial-advertise-peer-urls'], `https://${node.ip}:2380`)
      assert.equal(f['listen-client-urls'], `https://127.0.0.1:2379,https://${node.ip}:2379`)
      assert.equal(f['listen-peer-urls'], `https://${node.ip}:2380`)
      assert.equal(f['listen-metrics-urls'], 'http://127.0.0.1:2381')
      assert.equal(f['client-cert-auth'], 'true')
      assert.equal(f['peer-client-cert-auth'], 'true')
      assert.equal(f['cert-file'], '/etc/kubernetes/pki/etcd/server.crt')
      assert.equal(f['key-file'], '/etc/kubernetes/pki/etcd/server.key')
      assert.equal(f['peer-cert-file'], '/etc/kubernetes/pki/etcd/peer.crt')
      assert.equal(f['peer-key-file'], '/etc/kubernetes/pki/etcd/peer.key')
      assert.equal(f['trusted-ca-file'], '/etc/kubernetes/pki/etcd/ca.crt')
      assert.equal(f['peer-trusted-ca-file'], '/etc/kubernetes/pki/etcd/ca.crt')
      assert.equal(f['data-dir'], '/var/lib/etcd')
      assert.deepEqual(ctr.livenessProbe.httpGet, {
        host: '127.0.0.1',
        path: '/health?exclude=NOSPACE&serializable=true',
        port: 2381,
        scheme: 'HTTP',
      })
      assert.equal(ctr.image, 'registry.k8s.io/etcd:3.5.24-0')
      assert.equal(pod.spec.hostNetwork, true)
      assert.deepEqual(pod.spec.volumes, [
        {hostPath: {path: '/etc/kubernetes/pki/etcd', type: 'DirectoryOrCreate'}, name: 'etcd-certs'},
        {hostPath: {path: '/var/lib/etcd', type: 'DirectoryOrCreate'}, name: 'etcd-data'},
      ])
    }
  })

  test("the image follows the profile's repository and kubeadm's etcd version of the minor", () => {
    const mirror = cluster('ha-external-etcd', (s) => {
      s.kubernetes.version = '1.34.2'
      s.kubernetes.imageRepository = 'registry.aliyuncs.com/google_containers'
    })
    const pod: Doc = parse(buildEtcdMemberFiles(mirror, firstOf(mirror, 'etcd')).files[0]!.content)
    assert.equal(pod.spec.containers[0].image, 'registry.aliyuncs.com/google_containers/etcd:3.6.5-0')
  })

  test("the profile's etcd flags reach the external members' manifest, sorted with nodegen's", () => {
    const extra = {
      ...c,
      kubernetes: {...c.kubernetes, extraArgs: {...c.kubernetes.extraArgs, etcd: {'election-timeout': '5000', 'snapshot-count': '5000'}}},
    }
    const node = firstOf(extra, 'etcd', 1)
    const pod: Doc = parse(buildEtcdMemberFiles(extra, node).files.find((x) => x.path === ETCD_MANIFEST_PATH)!.content)
    const command: string[] = pod.spec.containers[0].command
    const f = flags(command)
    assert.equal(f['election-timeout'], '5000')
    assert.equal(f['snapshot-count'], '5000')
    assert.equal(f.name, node.name)
    const names = command.slice(1).map((a) => a.slice(2, a.indexOf('=')))
    assert.deepEqual(names, [...names].sort())
  })

  test('the version table covers every supported minor with an image tag', () => {
    for (let minor = SUPPORTED.minMinor; minor <= SUPPORTED.maxMinor; minor++) assert.match(etcdImageTag(minor), /^3\.[56]\.\d+-0$/)
    assert.ok(Object.isFrozen(ETCD_VERSIONS))
    assert.throws(() => etcdImageTag(SUPPORTED.maxMinor + 1), /no etcd version/)
  })
})
