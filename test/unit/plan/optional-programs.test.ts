/**
 * Which nodes get the programs a node can do without: the certificate renewal (control planes and
 * external etcd members) and the recovery after a failed kubeadm init (control planes), in the
 * secret bundle on the clouds; none on EC2 with inline secrets, whose 16 KB of user-data has no room
 * for them beside the keys (validation warns, NG0438).
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import {describe, it} from 'node:test'
import {loadAssets} from '../../../src/app/assets.js'
import {buildBootstrapFiles} from '../../../src/plan/bootstrap/index.js'
import {bootstrapParams} from '../../../src/plan/params.js'
import {carriesRecovery, renewsCertificates} from '../../../src/plan/secrets/backend.js'
import type {Assets} from '../../../src/plan/types.js'
import {loadProfile} from '../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR, profileText} from '../../support/profiles.js'

const assets: Assets = loadAssets()
const hasRecovery = (c: Parameters<typeof buildBootstrapFiles>[0], n: Parameters<typeof buildBootstrapFiles>[1]) =>
  buildBootstrapFiles(c, n, assets, 'CA').some((f) => f.path.endsWith('/recovery.sh'))

describe('optional programs placement', () => {
  it('control planes and etcd members renew; workers do not', () => {
    for (const name of ['quickstart.yaml', 'ha-external-etcd.yaml', 'aws.yaml']) {
      const c = loadCluster(path.join(PROFILES_DIR, name))
      for (const n of c.nodes) assert.equal(renewsCertificates(c, n), n.role !== 'worker', `${name} ${n.name}`)
    }
  })

  it('control planes carry recovery.sh and its phase lists; workers and etcd members do not', () => {
    for (const name of ['quickstart.yaml', 'ha-external-etcd.yaml', 'aws.yaml', 'gcp.yaml']) {
      const c = loadCluster(path.join(PROFILES_DIR, name))
      for (const n of c.nodes) {
        const cp = n.role === 'control-plane'
        assert.equal(carriesRecovery(c, n), cp, `${name} ${n.name}`)
        assert.equal(hasRecovery(c, n), cp, `${name} ${n.name}`)
        assert.equal(bootstrapParams(c, n).INIT_RESUMABLE_PHASES !== undefined, cp, `${name} ${n.name}`)
      }
      const file = buildBootstrapFiles(c, c.nodes[0] as (typeof c.nodes)[number], assets, 'CA').find((f) => f.path.endsWith('/recovery.sh'))
      // In the secret bundle on the clouds, like the certificate renewal.
      if (c.nodes[0]?.role === 'control-plane') assert.equal(file?.bundled, true, name)
    }
  })

  it('EC2 with inline secrets: no node renews or carries recovery.sh, and validation says so (NG0438)', () => {
    const text = profileText('aws.yaml').replace('secretBackend: aws-secrets-manager', 'secretBackend: inline')
    assert.match(text, /secretBackend: inline/)
    const r = loadProfile(text, 'aws.yaml', {insecureInlineSecrets: true})
    assert.ok(r.cluster)
    for (const n of r.cluster.nodes) {
      assert.equal(renewsCertificates(r.cluster, n), false, n.name)
      assert.equal(hasRecovery(r.cluster, n), false, n.name)
      assert.equal(bootstrapParams(r.cluster, n).INIT_PHASES, undefined, n.name)
    }
    const warning = r.diagnostics.find((d) => d.code === 'NG0438')
    assert.ok(warning, r.diagnostics.map((d) => d.code).join(' '))
    assert.equal(warning.path.join('.'), 'spec.platform.aws.secretBackend')
  })
})
