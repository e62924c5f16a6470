import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {Ajv2020} from 'ajv/dist/2020.js'
import {parse} from 'yaml'
import {loadProfile} from '../../../src/profile/index.js'
import {profileJsonSchema} from '../../../src/profile/json-schema.js'
import {exampleProfiles, REPO_ROOT} from '../../support/profiles.js'

describe('example profiles', () => {
  const ajv = new Ajv2020({allErrors: true, strict: false})
  const validateSchema = ajv.compile(JSON.parse(readFileSync(path.join(REPO_ROOT, 'schema', 'profile.schema.json'), 'utf8')))
  for (const file of exampleProfiles()) {
    it(`${path.basename(file)} validates with no errors, and against the exported JSON schema`, () => {
      const r = loadProfile(readFileSync(file), file)
      assert.deepEqual(
        r.diagnostics.filter((d) => d.severity === 'error'),
        [],
      )
      assert.ok(r.cluster)
      const ok = validateSchema(parse(readFileSync(file, 'utf8')))
      assert.ok(ok, JSON.stringify(validateSchema.errors))
    })
  }

  it('the quickstart is the documented cluster', () => {
    const c = loadProfile(readFileSync(path.join(REPO_ROOT, 'profiles/quickstart.yaml')), 'quickstart.yaml').cluster
    assert.ok(c)
    assert.equal(c.name, 'quickstart')
    assert.equal(c.topology, 'stacked')
    assert.deepEqual(c.endpoint, {host: '10.0.0.100', port: 6443, kind: 'vip'})
    assert.equal(c.loadBalancer.type, 'keepalived-haproxy')
    assert.deepEqual(
      c.nodes.map((n) => [n.name, n.role, n.ordinal, n.ip, n.os]),
      [
        ['kube-alma-m-01', 'control-plane', 0, '10.0.0.110', 'almalinux-9'],
        ['kube-alma-m-02', 'control-plane', 1, '10.0.0.111', 'almalinux-9'],
        ['kube-alma-m-03', 'control-plane', 2, '10.0.0.112', 'almalinux-9'],
        ['kube-alma-n-01', 'worker', 0, '10.0.0.120', 'almalinux-9'],
        ['kube-alma-n-02', 'worker', 1, '10.0.0.121', 'almalinux-9'],
      ],
    )
    assert.equal(c.networking.podSubnet, '10.244.0.0/16')
    assert.equal(c.networking.serviceSubnet, '10.96.0.0/12')
    assert.equal(c.networking.clusterDns, '10.96.0.10')
    assert.equal(c.runtime.type, 'containerd')
  })

  it('the exported JSON schema is up to date (run `npm run schema`)', () => {
    assert.equal(readFileSync(path.join(REPO_ROOT, 'schema', 'profile.schema.json'), 'utf8'), profileJsonSchema())
  })
})
