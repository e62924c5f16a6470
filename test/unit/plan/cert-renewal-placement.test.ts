/**
 * Which nodes get the certificate renewal program: control planes and external etcd members, with
 * the program in the secret bundle on the clouds; none on EC2 with inline secrets, whose 16 KB of
 * user-data has no room for it beside the keys (validation warns, NG0438).
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import {describe, it} from 'node:test'
import {renewsCertificates} from '../../../src/plan/bootstrap/index.js'
import {loadProfile} from '../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR, profileText} from '../../support/profiles.js'

describe('certificate renewal placement', () => {
  it('control planes and etcd members renew; workers do not', () => {
    for (const name of ['quickstart.yaml', 'ha-external-etcd.yaml', 'aws.yaml']) {
      const c = loadCluster(path.join(PROFILES_DIR, name))
      for (const n of c.nodes) assert.equal(renewsCertificates(c, n), n.role !== 'worker', `${name} ${n.name}`)
    }
  })

  it('EC2 with inline secrets: no node renews, and validation says so (NG0438)', () => {
    const text = profileText('aws.yaml').replace('secretBackend: aws-secrets-manager', 'secretBackend: inline')
    assert.match(text, /secretBackend: inline/)
    const r = loadProfile(text, 'aws.yaml', {insecureInlineSecrets: true})
    assert.ok(r.cluster)
    for (const n of r.cluster.nodes) assert.equal(renewsCertificates(r.cluster, n), false, n.name)
    const warning = r.diagnostics.find((d) => d.code === 'NG0438')
    assert.ok(warning, r.diagnostics.map((d) => d.code).join(' '))
    assert.equal(warning.path.join('.'), 'spec.platform.aws.secretBackend')
  })
})
