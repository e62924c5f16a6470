import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, it} from 'node:test'
import {profileReference, REFERENCE_FILE, referenceRows, SCHEMA_FILE, type SchemaNode} from '../../../scripts/gen-profile-reference.js'

const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as SchemaNode

describe('docs/profile-reference.md', () => {
  it('is what the generator writes from schema/profile.schema.json (run `npm run docs`)', () => {
    assert.equal(readFileSync(REFERENCE_FILE, 'utf8'), profileReference(schema))
  })

  it('documents every field: each has a description in src/profile/schema.ts', () => {
    const undocumented = referenceRows(schema)
      .filter((r) => !r.description)
      .map((r) => r.path)
    assert.deepEqual(undocumented, [])
  })

  it('lists fields with their path, type, allowed values and default', () => {
    const rows = new Map(referenceRows(schema).map((r) => [r.path, r]))
    assert.deepEqual(rows.get('spec.networking.serviceSubnet'), {
      path: 'spec.networking.serviceSubnet',
      type: 'string',
      allowed: '',
      default: '`10.96.0.0/12`',
      description: rows.get('spec.networking.serviceSubnet')?.description,
    })
    assert.equal(rows.get('spec.controlPlaneEndpoint.port')?.allowed, '1 to 65535')
    assert.equal(rows.get('spec.controlPlaneEndpoint.port')?.default, '`6443`')
    assert.equal(rows.get('spec.nodes')?.default, 'required')
    assert.equal(rows.get('spec.nodes[].role')?.allowed, '`control-plane`, `worker`, `etcd`')
    assert.equal(rows.get('spec.kubelet.taints[].effect')?.default, 'required')
    assert.equal(rows.get('spec.platform.pxe.kernel.<key>.kernel')?.type, 'string')
    assert.equal(rows.get('spec.kubernetes.featureGates')?.type, 'map of string to boolean')
    assert.equal(rows.get('apiVersion')?.allowed, 'exactly `nodegen.dev/v1alpha1`')
  })

  it('escapes table separators in cells', () => {
    const page = profileReference({
      type: 'object',
      properties: {spec: {type: 'object', properties: {a: {type: 'string', description: 'x|y', default: 'p|q'}}}},
    })
    assert.match(page, /\| `spec\.a` \| string \| {2}\| `p\\\|q` \| x\\\|y \|/)
  })
})
