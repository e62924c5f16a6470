import path from 'node:path'
import {test} from 'node:test'
import {buildEtcdMemberFiles} from '../../../../src/plan/etcd/index.js'
import {header} from '../../../../src/plan/files.js'
import {buildEndpointFiles} from '../../../../src/plan/ha/index.js'
import {buildKubeadmFiles, kubeadmDocuments, yamlStream} from '../../../../src/plan/kubeadm/index.js'
import type {Cluster, ClusterNode} from '../../../../src/profile/index.js'
import {matchGolden} from '../../../support/golden.js'
import {REPO_ROOT} from '../../../support/profiles.js'
import {cluster, firstOf, SECRETS} from './fixtures.js'

const EXPECTED = path.join(REPO_ROOT, 'test', 'golden', 'plan-kubeadm', 'expected')

function golden(rel: string, actual: string): void {
  matchGolden(EXPECTED, [[rel, actual]])
}

function docsByKind(c: Cluster, node: ClusterNode): Map<string, string> {
  const out = new Map<string, string>()
  for (const d of kubeadmDocuments(c, node, SECRETS)) out.set((d.value as {kind: string}).kind, yamlStream(header(c, node), [d]))
  return out
}

for (const {version, api} of [
  {version: '1.34.2', api: 'v1beta4'},
  {version: '1.30.14', api: 'v1beta3'},
]) {
  test(`quickstart kubeadm documents, ${api}`, () => {
    const c = cluster('quickstart', (s) => {
      s.kubernetes.version = version
    })
    const init = docsByKind(c, firstOf(c, 'control-plane', 0))
    for (const kind of ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration', 'KubeProxyConfiguration'])
      golden(`${api}/${kind}.yaml`, init.get(kind)!)
    golden(`${api}/JoinConfiguration-control-plane.yaml`, docsByKind(c, firstOf(c, 'control-plane', 1)).get('JoinConfiguration')!)
    golden(`${api}/JoinConfiguration-worker.yaml`, docsByKind(c, firstOf(c, 'worker', 0)).get('JoinConfiguration')!)
  })
}

test('quickstart endpoint files (keepalived + haproxy) and the kube-apiserver patch', () => {
  const c = cluster('quickstart')
  const cp0 = firstOf(c, 'control-plane', 0)
  for (const f of buildEndpointFiles(c, cp0).files) golden(`endpoint/${path.basename(f.path)}`, f.content)
  const patch = buildKubeadmFiles(c, cp0, SECRETS).find((f) => f.path.includes('/patches/'))!
  golden(`endpoint/${path.basename(patch.path)}`, patch.content)
})

test('quickstart with kube-vip', () => {
  const c = cluster('quickstart', (s) => {
    s.loadBalancer.type = 'kube-vip'
  })
  for (const f of buildEndpointFiles(c, firstOf(c, 'control-plane', 0)).files) golden(`kube-vip/${path.basename(f.path)}`, f.content)
})

test('external etcd member', () => {
  const c = cluster('ha-external-etcd')
  const m = buildEtcdMemberFiles(c, firstOf(c, 'etcd', 0))
  for (const f of m.files) golden(`etcd/${path.basename(f.path)}`, f.content)
  for (const d of m.units[0]!.dropIns) golden(`etcd/${d.name}`, d.content)
  const cc = docsByKind(c, firstOf(c, 'control-plane', 0)).get('ClusterConfiguration')!
  golden('etcd/ClusterConfiguration-external.yaml', cc)
})
