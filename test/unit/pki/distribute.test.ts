import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {type ClusterSecrets, loadState, nodeSecretsSummary, secretFilesForNode} from '../../../src/pki/index.js'
import type {Cluster} from '../../../src/profile/index.js'
import {copyFixtureState, fixtureCluster} from '../../support/pki-fixture.js'

const P = '/etc/kubernetes/pki'

describe('secretFilesForNode', () => {
  let tmp: string
  let stacked: {cluster: Cluster; secrets: ClusterSecrets}
  let external: {cluster: Cluster; secrets: ClusterSecrets}

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-distribute-'))
    const load = async (name: 'quickstart' | 'ha-external-etcd') => {
      const cluster = fixtureCluster(name)
      return {cluster, secrets: await loadState(copyFixtureState(name, path.join(tmp, name)), cluster, {})}
    }
    stacked = await load('quickstart')
    external = await load('ha-external-etcd')
  })
  after(() => rmSync(tmp, {recursive: true, force: true}))

  const files = (x: {cluster: Cluster; secrets: ClusterSecrets}, role: string, ordinal = 0) => {
    const node = x.cluster.nodes.filter((n) => n.role === role)[ordinal]!
    return secretFilesForNode(x.cluster, node, x.secrets)
  }

  it('gives workers nothing, in either topology', () => {
    assert.deepEqual(files(stacked, 'worker'), [])
    assert.deepEqual(files(external, 'worker'), [])
  })

  it("gives stacked control planes kubeadm's manual distribution list: four pairs, all 0600", () => {
    const f = files(stacked, 'control-plane', 1)
    assert.deepEqual(
      f.map((x) => x.path),
      [
        `${P}/ca.crt`,
        `${P}/ca.key`,
        `${P}/etcd/ca.crt`,
        `${P}/etcd/ca.key`,
        `${P}/front-proxy-ca.crt`,
        `${P}/front-proxy-ca.key`,
        `${P}/sa.key`,
        `${P}/sa.pub`,
      ],
    )
    assert.ok(f.every((x) => x.mode === 0o600))
    assert.deepEqual(
      f.filter((x) => x.secret).map((x) => path.basename(x.path)),
      ['ca.key', 'ca.key', 'front-proxy-ca.key', 'sa.key'],
    )
    assert.equal(f.find((x) => x.path === `${P}/ca.key`)?.content, stacked.secrets.cas.ca.key)
    assert.equal(f.find((x) => x.path === `${P}/etcd/ca.key`)?.content, stacked.secrets.cas['etcd-ca'].key)
  })

  it('gives external-etcd control planes the etcd CA certificate without its key, and the etcd client pair', () => {
    const f = files(external, 'control-plane')
    assert.deepEqual(
      f.map((x) => x.path),
      [
        `${P}/apiserver-etcd-client.crt`,
        `${P}/apiserver-etcd-client.key`,
        `${P}/ca.crt`,
        `${P}/ca.key`,
        `${P}/etcd/ca.crt`,
        `${P}/front-proxy-ca.crt`,
        `${P}/front-proxy-ca.key`,
        `${P}/sa.key`,
        `${P}/sa.pub`,
      ],
    )
  })

  it('gives an etcd member its own pairs, the healthcheck client and no CA key', () => {
    const f = files(external, 'etcd', 1)
    assert.deepEqual(
      f.map((x) => x.path),
      [
        `${P}/etcd/ca.crt`,
        `${P}/etcd/healthcheck-client.crt`,
        `${P}/etcd/healthcheck-client.key`,
        `${P}/etcd/peer.crt`,
        `${P}/etcd/peer.key`,
        `${P}/etcd/server.crt`,
        `${P}/etcd/server.key`,
      ],
    )
    assert.equal(f.find((x) => x.path.endsWith('/etcd/server.crt'))?.content, external.secrets.etcdMembers['etcd-02']?.server.cert)
    const cas = Object.values(external.secrets.cas).map((p) => p.key)
    assert.ok(f.every((x) => !cas.includes(x.content)))
  })

  it('marks exactly the private keys secret', () => {
    for (const x of [stacked, external]) {
      for (const node of x.cluster.nodes) {
        for (const file of secretFilesForNode(x.cluster, node, x.secrets)) {
          assert.equal(file.secret, file.content.includes('PRIVATE KEY'), file.path)
          assert.equal(file.mode, 0o600)
        }
      }
    }
  })

  it('keeps no CA private key on any worker', () => {
    const caKeys = new Set(Object.values(external.secrets.cas).map((p) => p.key))
    for (const node of external.cluster.nodes.filter((n) => n.role === 'worker')) {
      assert.ok(
        secretFilesForNode(external.cluster, node, external.secrets).every(
          (f) => !caKeys.has(f.content) && !f.content.includes('PRIVATE KEY'),
        ),
      )
    }
  })

  it('summarises without contents', () => {
    const s = nodeSecretsSummary(files(stacked, 'control-plane'))
    assert.equal(s.length, 8)
    assert.ok(!JSON.stringify(s).includes('PRIVATE KEY'))
    assert.deepEqual(Object.keys(s[0]!), ['path', 'mode', 'secret', 'bytes', 'digest'])
    assert.equal(s[0]!.mode, '0600')
  })
})
