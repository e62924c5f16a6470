import assert from 'node:assert/strict'
import {X509Certificate} from 'node:crypto'
import {describe, it} from 'node:test'
import {
  CAS,
  caCertHash,
  issueClusterPki,
  KEY_ALGORITHM_INFO,
  LEAVES,
  newBootstrapToken,
  parseWindow,
  TOKEN_PATTERN,
} from '../../../src/pki/index.js'
import {leafSubject, randomSerial, validityFor} from '../../../src/pki/issue.js'
import {buildKubeconfig, parseKubeconfigCredentials, replaceClientKey, serverUrl} from '../../../src/pki/kubeconfig.js'
import {randomTokenChars} from '../../../src/pki/token.js'
import {FIXTURE_NOW, fixtureCluster, fixturePkiContext, seededRandom} from '../../support/pki-fixture.js'

describe('the certificate table', () => {
  it('is frozen and names kubeadm files', () => {
    assert.ok(Object.isFrozen(CAS) && Object.isFrozen(LEAVES))
    assert.ok(CAS.every((c) => Object.isFrozen(c)))
    assert.deepEqual(
      CAS.map((c) => [c.id, c.file, c.cn]),
      [
        ['ca', 'ca', 'kubernetes'],
        ['front-proxy-ca', 'front-proxy-ca', 'front-proxy-ca'],
        ['etcd-ca', 'etcd/ca', 'etcd-ca'],
      ],
    )
    assert.deepEqual(
      LEAVES.map((l) => [l.id, l.ca, l.file, l.cn, l.usages.join('+')]),
      [
        ['etcd-server', 'etcd-ca', 'etcd/{member}/server', '{member}', 'serverAuth+clientAuth'],
        ['etcd-peer', 'etcd-ca', 'etcd/{member}/peer', '{member}', 'serverAuth+clientAuth'],
        ['etcd-healthcheck-client', 'etcd-ca', 'etcd/healthcheck-client', 'kube-etcd-healthcheck-client', 'clientAuth'],
        ['apiserver-etcd-client', 'etcd-ca', 'apiserver-etcd-client', 'kube-apiserver-etcd-client', 'clientAuth'],
        ['admin', 'ca', 'admin.conf', 'kubernetes-admin', 'clientAuth'],
      ],
    )
  })

  it('follows the organisation rules of the kubeadm version', () => {
    const leaf = (id: string) => LEAVES.find((l) => l.id === id)!
    const k129 = {minor: 29, clusterAdminsGroup: true}
    const k128 = {minor: 28, clusterAdminsGroup: false}
    assert.deepEqual(leaf('admin').organization(k129), ['kubeadm:cluster-admins'])
    assert.deepEqual(leaf('admin').organization(k128), ['system:masters'])
    assert.deepEqual(leaf('apiserver-etcd-client').organization(k129), [])
    assert.deepEqual(leaf('apiserver-etcd-client').organization(k128), ['system:masters'])
    assert.deepEqual(leaf('etcd-healthcheck-client').organization(k129), [])
  })

  it("gives etcd members kubeadm's SANs: sorted names, then the IP, 127.0.0.1 and ::1", () => {
    const c = fixtureCluster('ha-external-etcd')
    const m = c.nodes.find((n) => n.name === 'etcd-02')!
    const s = leafSubject(LEAVES.find((l) => l.id === 'etcd-server')!, c.kubernetes, m)
    assert.deepEqual(s, {cn: 'etcd-02', organization: [], dns: ['etcd-02', 'localhost'], ips: ['10.0.1.22', '127.0.0.1', '::1']})
  })
})

describe('issuance', () => {
  it('backdates by five minutes and ends the validity after creation', () => {
    const v = validityFor(new Date('2026-01-01T00:00:00.750Z'), 3600)
    assert.equal(v.notBefore.toISOString(), '2025-12-31T23:55:00.000Z')
    assert.equal(v.notAfter.toISOString(), '2026-01-01T01:00:00.000Z')
  })

  it('draws serials in [1, 2^63)', () => {
    const rnd = seededRandom('serial')
    for (let i = 0; i < 200; i++) {
      const s = BigInt(`0x${randomSerial(rnd)}`)
      assert.ok(s >= 1n && s < 2n ** 63n)
    }
    assert.equal(
      randomSerial(() => new Uint8Array(8)),
      '01',
    )
  })

  it('issues the stacked set: three CAs, the service-account key, admin, no etcd leaves', async () => {
    const c = fixtureCluster('quickstart')
    const pki = await issueClusterPki(c, fixturePkiContext())
    assert.deepEqual(Object.keys(pki.cas).sort(), ['ca', 'etcd-ca', 'front-proxy-ca'])
    assert.equal(pki.apiserverEtcdClient, undefined)
    assert.deepEqual(pki.etcdMembers, {})
    assert.equal(pki.caCertHash, caCertHash(pki.cas.ca.cert))
    const admin = new X509Certificate(pki.admin.cert)
    assert.ok(admin.verify(new X509Certificate(pki.cas.ca.cert).publicKey))
    assert.equal(admin.subject, 'O=kubeadm:cluster-admins\nCN=kubernetes-admin')
    assert.equal(pki.token.ttlSeconds, c.bootstrapToken.ttlSeconds)
    assert.equal(pki.token.created, FIXTURE_NOW.toISOString())
  })

  it('issues every external etcd member a server and a peer pair', async () => {
    const c = fixtureCluster('ha-external-etcd')
    const pki = await issueClusterPki(c, fixturePkiContext())
    assert.deepEqual(Object.keys(pki.etcdMembers), ['etcd-01', 'etcd-02', 'etcd-03'])
    assert.ok(pki.apiserverEtcdClient && pki.etcdHealthcheckClient)
    const etcdCa = new X509Certificate(pki.cas['etcd-ca'].cert)
    for (const [name, p] of Object.entries(pki.etcdMembers)) {
      for (const pair of [p.server, p.peer]) {
        const x = new X509Certificate(pair.cert)
        assert.equal(x.subject, `CN=${name}`)
        assert.ok(x.verify(etcdCa.publicKey) && x.checkPrivateKey(pair.key))
      }
    }
  })

  it('maps each key algorithm onto a WebCrypto key and signature hash', () => {
    assert.deepEqual(
      Object.entries(KEY_ALGORITHM_INFO).map(([a, i]) => `${a}:${i.kind}:${i.bits ?? i.curve}:${i.hash}`),
      [
        'RSA-2048:rsa:2048:SHA-256',
        'RSA-3072:rsa:3072:SHA-256',
        'RSA-4096:rsa:4096:SHA-256',
        'ECDSA-P256:ecdsa:P-256:SHA-256',
        'ECDSA-P384:ecdsa:P-384:SHA-384',
      ],
    )
  })
})

describe('bootstrap tokens', () => {
  it("have kubeadm's format and expire ttl after creation", () => {
    const t = newBootstrapToken({now: new Date('2026-03-04T05:06:07.890Z'), randomBytes: seededRandom('t')}, 7200, 'x')
    assert.match(t.token, TOKEN_PATTERN)
    assert.equal(t.token, `${t.tokenId}.${t.tokenSecret}`)
    assert.equal(t.created, '2026-03-04T05:06:07.000Z')
    assert.equal(t.expires, '2026-03-04T07:06:07.000Z')
    assert.deepEqual(t.usages, ['signing', 'authentication'])
    assert.deepEqual(t.groups, ['system:bootstrappers:kubeadm:default-node-token'])
  })

  it('redraws bytes at or above 252, so every character is equally likely', () => {
    // 252..255 would bias 0..3; a source of only such bytes and then 0x00 yields '0's.
    let calls = 0
    const rnd = (n: number) => {
      calls++
      return calls === 1 ? new Uint8Array(n).fill(252) : new Uint8Array(n).fill(37)
    }
    assert.equal(randomTokenChars(rnd, 6), '111111')
    const counts = new Map<string, number>()
    const r = seededRandom('uniform')
    for (const ch of randomTokenChars(r, 36_000)) counts.set(ch, (counts.get(ch) ?? 0) + 1)
    assert.equal(counts.size, 36)
    for (const n of counts.values()) assert.ok(n > 800 && n < 1200, `count ${n}`)
  })

  it('parses windows: Go durations and days', () => {
    const cases: Array<[string, number | undefined]> = [
      ['30d', 30 * 86400],
      ['720h', 720 * 3600],
      ['1d12h', 36 * 3600],
      ['90m', 5400],
      ['1h30m', 5400],
      ['0d', undefined],
      ['0s', undefined],
      ['', undefined],
      ['30', undefined],
      ['d', undefined],
      ['-1h', undefined],
      ['1w', undefined],
    ]
    for (const [s, want] of cases) assert.equal(parseWindow(s), want, s)
  })
})

describe('kubeconfig', () => {
  it('brackets IPv6 endpoints', () => {
    assert.equal(serverUrl('10.0.0.100', 6443), 'https://10.0.0.100:6443')
    assert.equal(serverUrl('fd00::1', 6443), 'https://[fd00::1]:6443')
    assert.equal(serverUrl('api.example.com', 443), 'https://api.example.com:443')
  })

  it("writes kubeadm's shape and reads its credentials back", () => {
    const text = buildKubeconfig({
      clusterName: 'c',
      server: 'https://h:1',
      caCert: 'CA',
      userName: 'u',
      clientCert: 'CERT',
      clientKey: 'KEY',
    })
    assert.match(text, /^current-context: u@c$/m)
    assert.match(text, /^ {2}name: u@c$/m)
    assert.deepEqual(parseKubeconfigCredentials(text), {caCert: 'CA', clientCert: 'CERT', clientKey: 'KEY', server: 'https://h:1'})
    assert.equal(parseKubeconfigCredentials(replaceClientKey(text, 'OTHER')).clientKey, 'OTHER')
  })
})
