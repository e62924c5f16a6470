/**
 * OpenSSL reads every certificate nodegen issues the way kubeadm's table says it must look: one row
 * per certificate, checked for each of the five key algorithms with `openssl x509` and
 * `openssl verify`; and the discovery hash is the one kubeadm's documentation computes with openssl.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {ADMIN_CONF, KEY_ALGORITHM_INFO, loadOrCreateState} from '../../../src/pki/index.js'
import {parseKubeconfigCredentials} from '../../../src/pki/kubeconfig.js'
import type {Cluster, KeyAlgorithm} from '../../../src/profile/index.js'
import {FIXTURE_NOW, fixtureCluster, fixturePkiContext, warmKeyPool, withKeyAlgorithm} from '../../support/pki-fixture.js'
import {requireTool, run} from '../../support/tools.js'

const ALGORITHMS = Object.keys(KEY_ALGORITHM_INFO) as KeyAlgorithm[]
const CA_SECONDS = 87600 * 3600 // the profile defaults: CA 10 years,
const LEAF_SECONDS = 8760 * 3600 // leaves 1 year

const CA_USAGE = 'Digital Signature, Key Encipherment, Certificate Sign'
const LEAF_USAGE = 'Digital Signature, Key Encipherment'
const CLIENT = 'TLS Web Client Authentication'
const SERVER_CLIENT = 'TLS Web Server Authentication, TLS Web Client Authentication'
const ETCD_01_SANS = 'DNS:etcd-01, DNS:localhost, IP Address:10.0.1.21, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'

interface Row {
  name: string
  /** In the state dir; admin's certificate is taken out of admin.conf. */
  file: string
  /** The issuing CA's file, or undefined for a self-signed CA. */
  ca?: string
  subject: string
  sans?: string
  eku?: string
  isCA: boolean
}

/** kubeadm's table as openssl prints it (ha-external-etcd fixture profile, member etcd-01). */
const ROWS: Row[] = [
  {name: 'ca', file: 'pki/ca.crt', subject: 'CN = kubernetes', sans: 'DNS:kubernetes', isCA: true},
  {name: 'front-proxy-ca', file: 'pki/front-proxy-ca.crt', subject: 'CN = front-proxy-ca', sans: 'DNS:front-proxy-ca', isCA: true},
  {name: 'etcd-ca', file: 'pki/etcd/ca.crt', subject: 'CN = etcd-ca', sans: 'DNS:etcd-ca', isCA: true},
  {
    name: 'etcd-server',
    file: 'pki/etcd/etcd-01/server.crt',
    ca: 'pki/etcd/ca.crt',
    subject: 'CN = etcd-01',
    sans: ETCD_01_SANS,
    eku: SERVER_CLIENT,
    isCA: false,
  },
  {
    name: 'etcd-peer',
    file: 'pki/etcd/etcd-01/peer.crt',
    ca: 'pki/etcd/ca.crt',
    subject: 'CN = etcd-01',
    sans: ETCD_01_SANS,
    eku: SERVER_CLIENT,
    isCA: false,
  },
  {
    name: 'etcd-healthcheck-client',
    file: 'pki/etcd/healthcheck-client.crt',
    ca: 'pki/etcd/ca.crt',
    subject: 'CN = kube-etcd-healthcheck-client',
    eku: CLIENT,
    isCA: false,
  },
  {
    name: 'apiserver-etcd-client',
    file: 'pki/apiserver-etcd-client.crt',
    ca: 'pki/etcd/ca.crt',
    subject: 'CN = kube-apiserver-etcd-client',
    eku: CLIENT,
    isCA: false,
  },
  {
    name: 'admin',
    file: 'admin.crt',
    ca: 'pki/ca.crt',
    subject: 'O = kubeadm:cluster-admins, CN = kubernetes-admin',
    eku: CLIENT,
    isCA: false,
  },
]

/** `openssl x509 -ext` output → {extension name: value}. */
function extensions(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  let current: string | undefined
  for (const line of text.split('\n')) {
    const head = /^X509v3 (.+?):( critical)?\s*$/.exec(line)
    if (head) {
      current = `${head[1]}${head[2] ? ' (critical)' : ''}`
      out[current] = ''
    } else if (current && line.trim()) out[current] = `${out[current]}${out[current] ? ' ' : ''}${line.trim()}`
  }
  return out
}

const iso = (d: Date) => `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`

function expectedKey(alg: KeyAlgorithm): {pub: RegExp; sig: string; pem: string} {
  const info = KEY_ALGORITHM_INFO[alg]
  if (info.kind === 'rsa')
    return {pub: new RegExp(`Public-Key: \\(${info.bits} bit\\)`), sig: 'sha256WithRSAEncryption', pem: 'RSA PRIVATE KEY'}
  return {
    pub: new RegExp(`NIST CURVE: ${info.curve}`),
    sig: info.hash === 'SHA-384' ? 'ecdsa-with-SHA384' : 'ecdsa-with-SHA256',
    pem: 'EC PRIVATE KEY',
  }
}

describe('issued certificates, read by openssl', () => {
  let tmp: string
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-openssl-'))
    // Key generation dominates (RSA-4096): start every pool at once, on libuv's threads.
    await Promise.all(ALGORITHMS.map((a) => warmKeyPool(a)))
  })
  after(() => rmSync(tmp, {recursive: true, force: true}))

  for (const alg of ALGORITHMS) {
    describe(alg, () => {
      let dir: string
      let cluster: Cluster
      before(async () => {
        const base = withKeyAlgorithm(fixtureCluster('ha-external-etcd'), alg)
        cluster = {...base, pki: {...base.pki, caValiditySeconds: CA_SECONDS, certValiditySeconds: LEAF_SECONDS}}
        dir = path.join(tmp, alg)
        await loadOrCreateState(dir, cluster, fixturePkiContext({seed: alg}))
        const admin = parseKubeconfigCredentials(readFileSync(path.join(dir, ADMIN_CONF), 'utf8'))
        writeFileSync(path.join(dir, 'admin.crt'), admin.clientCert ?? '')
        writeFileSync(path.join(dir, 'admin.key'), admin.clientKey ?? '')
      })

      for (const row of ROWS) {
        it(`${row.name}: subject, SANs, key usages, EKUs, CA flag, validity, key and chain`, (t) => {
          const openssl = requireTool(t, 'openssl')
          const f = path.join(dir, row.file)
          const out = run(openssl, [
            'x509',
            '-in',
            f,
            '-noout',
            '-subject',
            '-issuer',
            '-dates',
            '-dateopt',
            'iso_8601',
            '-ext',
            'subjectAltName,keyUsage,extendedKeyUsage,basicConstraints,subjectKeyIdentifier,authorityKeyIdentifier',
          ]).stdout
          assert.match(out, new RegExp(`^subject=${row.subject}$`, 'm'))
          assert.match(
            out,
            new RegExp(`^issuer=${row.isCA ? row.subject : row.name === 'admin' ? 'CN = kubernetes' : 'CN = etcd-ca'}$`, 'm'),
          )
          const ext = extensions(out)
          assert.equal(ext['Key Usage (critical)'], row.isCA ? CA_USAGE : LEAF_USAGE)
          assert.equal(ext['Basic Constraints (critical)'], row.isCA ? 'CA:TRUE' : 'CA:FALSE')
          assert.equal(ext['Extended Key Usage'], row.eku)
          assert.equal(ext['Subject Alternative Name'], row.sans)
          // Go's x509 (so kubeadm) puts a subject key id on CAs and the issuer's key id on leaves.
          assert.equal('Subject Key Identifier' in ext, row.isCA)
          assert.equal('Authority Key Identifier' in ext, !row.isCA)
          const notBefore = new Date(FIXTURE_NOW.getTime() - 300_000)
          const notAfter = new Date(FIXTURE_NOW.getTime() + (row.isCA ? CA_SECONDS : LEAF_SECONDS) * 1000)
          assert.match(out, new RegExp(`^notBefore=${iso(notBefore)}$`, 'm'))
          assert.match(out, new RegExp(`^notAfter=${iso(notAfter)}$`, 'm'))

          const text = run(openssl, ['x509', '-in', f, '-noout', '-text']).stdout
          const k = expectedKey(alg)
          assert.match(text, k.pub)
          assert.match(text, new RegExp(`Signature Algorithm: ${k.sig}`))
          const serial = BigInt(`0x${run(openssl, ['x509', '-in', f, '-noout', '-serial']).stdout.trim().split('=')[1]}`)
          assert.ok(serial > 0n && serial < 2n ** 63n)

          const keyFile = f.replace(/\.crt$/, '.key')
          assert.match(readFileSync(keyFile, 'utf8'), new RegExp(`^-----BEGIN ${k.pem}-----`))
          const keyPub = run(openssl, ['pkey', '-in', keyFile, '-pubout']).stdout
          const certPub = run(openssl, ['x509', '-in', f, '-noout', '-pubkey']).stdout
          assert.equal(keyPub, certPub, 'the key belongs to the certificate')

          const verify = run(openssl, ['verify', '-CAfile', path.join(dir, row.ca ?? row.file), f], {allowFail: true})
          assert.equal(verify.status, 0, verify.stderr + verify.stdout)
          assert.match(verify.stdout, /: OK$/m)
        })
      }

      it('every member certificate verifies against the etcd CA and not against the cluster CA', (t) => {
        const openssl = requireTool(t, 'openssl')
        for (const m of ['etcd-01', 'etcd-02', 'etcd-03']) {
          for (const kind of ['server', 'peer']) {
            const f = path.join(dir, 'pki', 'etcd', m, `${kind}.crt`)
            assert.equal(run(openssl, ['verify', '-CAfile', path.join(dir, 'pki/etcd/ca.crt'), f], {allowFail: true}).status, 0)
            assert.notEqual(run(openssl, ['verify', '-CAfile', path.join(dir, 'pki/ca.crt'), f], {allowFail: true}).status, 0)
          }
        }
      })

      it('sa.pub is the public half of sa.key', (t) => {
        const openssl = requireTool(t, 'openssl')
        const fromKey = run(openssl, ['pkey', '-in', path.join(dir, 'pki/sa.key'), '-pubout']).stdout
        assert.equal(fromKey, readFileSync(path.join(dir, 'pki/sa.pub'), 'utf8'))
        assert.match(run(openssl, ['pkey', '-pubin', '-in', path.join(dir, 'pki/sa.pub'), '-noout', '-text']).stdout, expectedKey(alg).pub)
      })

      it('the discovery hash equals openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum', (t) => {
        requireTool(t, 'openssl')
        requireTool(t, 'sha256sum')
        const pipe = run('sh', [
          '-c',
          'openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform der | sha256sum | cut -d" " -f1',
          'sh',
          path.join(dir, 'pki/ca.crt'),
        ])
        const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as {caCertHash: string}
        assert.equal(state.caCertHash, `sha256:${pipe.stdout.trim()}`)
      })
    })
  }
})
