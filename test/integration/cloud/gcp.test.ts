/**
 * `launch gcp` / `destroy gcp` through the real @google-cloud/compute clients (REST transport)
 * against a local endpoint speaking Compute Engine's v1 JSON: every request checked (networkIP,
 * user-data equal to render's, labels, tags, requestId, the internal load balancer's wiring),
 * throttling, a failed operation and its resumption, control planes joining the backend when
 * ready, and destroy.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {destroy, launch, launchNodes} from '../../../src/app/launch.js'
import {readCniManifest, renderNode} from '../../../src/app/render.js'
import {requestId} from '../../../src/cloud/common.js'
import {userDataItems} from '../../../src/cloud/gcp/metadata.js'
import type {LaunchNode} from '../../../src/cloud/types.js'
import {loadProfile} from '../../../src/profile/index.js'
import {FakeGcp} from '../../support/fake-gcp.js'
import {profileText} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-gcp-'))
after(() => rmSync(tmp, {recursive: true, force: true}))
const pace = {pollMs: 5, timeoutMs: 5000, retryMs: 5, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms))}
const profilePath = path.join(tmp, 'gcp.yaml')
writeFileSync(profilePath, profileText('gcp.yaml').replace('secretBackend: gcp-secret-manager', 'secretBackend: inline'))
const backendPath = path.join(tmp, 'gcp-backend.yaml')
writeFileSync(backendPath, profileText('gcp.yaml'))
const P = '/compute/v1/projects/my-project'
let runs = 0

describe('launch gcp against a local Compute Engine endpoint', () => {
  const fake = new FakeGcp()
  const cluster = loadProfile(readFileSync(profilePath), profilePath, {insecureInlineSecrets: true}).cluster!
  let rendered: Awaited<ReturnType<typeof renderProfile>>
  let clients: ReturnType<FakeGcp['clients']>

  before(async () => {
    await fake.start()
    clients = fake.clients()
    rendered = await renderProfile(backendPath)
  })
  after(() => fake.stop())

  const run = () =>
    launch({
      platform: 'gcp',
      cluster,
      profilePath,
      stateDir: tmp,
      material: rendered.material,
      dryRun: false,
      insecureInlineSecrets: true,
      clients,
      pace,
      runId: `run-${++runs}`,
    })

  it('inserts every node, waits on the operations, retries throttling with the same requestId', async () => {
    fake.throttle.set('POST instances', 2)
    fake.throttle.set('POST firewalls', 1)
    fake.failInsert.set('gcp-worker-2', 'ZONE_RESOURCE_POOL_EXHAUSTED')
    const report = await run()
    assert.match(report.warnings.join('\n'), /169\.254\.169\.254/)
    for (const r of fake.requests) assert.equal(r.authorization, 'Bearer nodegen-test-token')

    const status = Object.fromEntries(report.nodes.map((n) => [n.name, n.status]))
    assert.deepEqual(status, {
      'gcp-cp-1': 'created',
      'gcp-cp-2': 'created',
      'gcp-cp-3': 'created',
      'gcp-worker-1': 'created',
      'gcp-worker-2': 'failed',
    })
    assert.match(report.nodes[4]!.error!, /ZONE_RESOURCE_POOL_EXHAUSTED/)
    for (const n of report.nodes.slice(0, 4)) assert.equal(n.state, 'RUNNING')

    const expected = launchNodes(cluster, profilePath, rendered.material)
    const inserts = fake.calls('POST', /\/zones\/europe-west1-b\/instances$/)
    assert.equal(inserts.length, 5 + 2, 'five nodes and two throttled retries')
    const seen = new Map<string, string[]>()
    for (const r of inserts) {
      const name = String(r.body?.name)
      seen.set(name, [...(seen.get(name) ?? []), String(r.query.get('requestId'))])
    }
    for (const n of expected) {
      const ids = seen.get(n.node.name)!
      assert.ok(
        ids.every((x) => x === requestId('gcp-demo', n.node.name, 'insert', 'run-1')),
        'retries carry the same requestId',
      )
      const body = inserts.find((r) => r.body?.name === n.node.name)!.body as {
        machineType: string
        networkInterfaces: Array<{networkIP: string; network: string; subnetwork: string}>
        metadata: {items: Array<{key: string; value: string}>}
        labels: Record<string, string>
        tags: {items: string[]}
        disks: Array<{initializeParams: {sourceImage: string}}>
      }
      assert.equal(
        body.machineType,
        `zones/europe-west1-b/machineTypes/${n.node.role === 'control-plane' ? 'e2-standard-4' : 'e2-standard-2'}`,
      )
      assert.deepEqual(body.networkInterfaces, [
        {
          network: 'projects/my-project/global/networks/default',
          subnetwork: 'projects/my-project/regions/europe-west1/subnetworks/default',
          networkIP: n.node.ip,
        },
      ])
      assert.equal(body.disks[0]!.initializeParams.sourceImage, 'projects/debian-cloud/global/images/family/debian-12')
      assert.deepEqual(body.labels, {'nodegen-cluster': 'gcp-demo', 'nodegen-node': n.node.name, 'nodegen-role': n.node.role})
      assert.deepEqual(body.tags.items, [`nodegen-gcp-demo-${n.node.role}`])
      const items = Object.fromEntries(body.metadata.items.map((i) => [i.key, i.value]))
      const fitted = renderNode(cluster, n.node, rendered.material, readCniManifest(cluster, profilePath)).fitted as {
        data: Buffer
        encoding: string
      }
      assert.equal(items['user-data'], fitted.data.toString('utf8'), 'the user-data render writes')
      assert.equal(fitted.encoding, 'raw', 'well inside 256 KB: no compression')
      assert.equal(items['user-data-encoding'], undefined)
      assert.match(items['user-data']!, /^#cloud-config\n/)
    }

    // Firewall rules: the role port table from the node subnet, by network tag; health checkers.
    const fw = (n: string) => fake.resources.get(`projects/my-project/global/firewalls/${n}`) as Record<string, unknown>
    const cp = fw('nodegen-gcp-demo-control-plane')
    assert.deepEqual(cp.sourceRanges, ['10.128.0.0/20'])
    assert.deepEqual(cp.targetTags, ['nodegen-gcp-demo-control-plane'])
    assert.deepEqual(cp.allowed, [
      {IPProtocol: 'tcp', ports: ['2379-2380', '6443', '10250', '10257', '10259']},
      {IPProtocol: 'udp', ports: ['8472']},
    ])
    assert.deepEqual((fw('nodegen-gcp-demo-worker').allowed as unknown[])[0], {IPProtocol: 'tcp', ports: ['10250', '10256', '30000-32767']})
    assert.deepEqual(fw('nodegen-gcp-demo-health-checks').sourceRanges, ['35.191.0.0/16', '130.211.0.0/22'])

    // The internal passthrough load balancer.
    const res = (p: string) => fake.resources.get(`projects/my-project/${p}`) as Record<string, unknown>
    assert.deepEqual(
      {
        addressType: res('regions/europe-west1/addresses/gcp-demo-api').addressType,
        address: res('regions/europe-west1/addresses/gcp-demo-api').address,
      },
      {addressType: 'INTERNAL', address: '10.128.0.100'},
    )
    const hc = res('regions/europe-west1/healthChecks/gcp-demo-api')
    assert.deepEqual(hc.httpsHealthCheck, {port: 6443, requestPath: '/readyz'})
    const bs = res('regions/europe-west1/backendServices/gcp-demo-api')
    assert.equal(bs.loadBalancingScheme, 'INTERNAL')
    assert.deepEqual(bs.healthChecks, ['projects/my-project/regions/europe-west1/healthChecks/gcp-demo-api'])
    assert.deepEqual(bs.backends, [
      {group: 'projects/my-project/zones/europe-west1-b/instanceGroups/gcp-demo-control-planes', balancingMode: 'CONNECTION'},
    ])
    const fr = res('regions/europe-west1/forwardingRules/gcp-demo-api')
    assert.equal(fr.IPAddress, '10.128.0.100')
    assert.deepEqual(fr.ports, ['6443'])
    assert.equal(fr.loadBalancingScheme, 'INTERNAL')
    assert.equal(fr.backendService, 'projects/my-project/regions/europe-west1/backendServices/gcp-demo-api')
    // Control plane 0 only: the others are not ready yet (a backend would answer itself).
    assert.deepEqual(
      [...fake.members.get('projects/my-project/zones/europe-west1-b/instanceGroups/gcp-demo-control-planes')!],
      ['gcp-cp-1'],
    )
    assert.match(report.endpoint.notes.join('\n'), /gcp-cp-2, gcp-cp-3 join the load balancer once they report ready/)
    // Every operation was waited on.
    assert.ok(fake.calls('POST', /\/operations\/operation-\d+\/wait$/).length >= 12)
  })

  it('a re-run creates only the failed node and adds control planes that report ready', async () => {
    fake.serial.set('gcp-cp-2', 'nodegen: gcp-cp-2 control-plane phase role\nnodegen: gcp-cp-2 control-plane ready\n')
    const before = fake.requests.length
    const report = await run()
    const mine = fake.requests.slice(before)
    const inserts = mine.filter(
      (r) =>
        r.method === 'POST' &&
        /\/(instances|firewalls|addresses|healthChecks|backendServices|forwardingRules|instanceGroups)$/.test(r.path),
    )
    assert.deepEqual(
      inserts.map((r) => r.body?.name),
      ['gcp-worker-2'],
    )
    assert.deepEqual(
      report.nodes.map((n) => n.status),
      ['existing', 'existing', 'existing', 'existing', 'created'],
    )
    assert.deepEqual([...fake.members.get(`projects/my-project/zones/europe-west1-b/instanceGroups/gcp-demo-control-planes`)!].sort(), [
      'gcp-cp-1',
      'gcp-cp-2',
    ])
    assert.match(report.endpoint.notes.join('\n'), /gcp-cp-3 join/)
    assert.ok(mine.some((r) => r.path === `${P}/zones/europe-west1-b/instances/gcp-cp-3/serialPort`))
  })

  it('gzip+base64 user-data carries user-data-encoding; Ignition never does', () => {
    const n = {userData: Buffer.from('H4sI'), encoding: 'gzip+base64'} as LaunchNode
    assert.deepEqual(userDataItems(n), [
      {key: 'user-data', value: 'H4sI'},
      {key: 'user-data-encoding', value: 'base64'},
    ])
    assert.deepEqual(userDataItems({...n, encoding: 'raw'}), [{key: 'user-data', value: 'H4sI'}])
  })

  it('destroy deletes the load balancer, instances and firewall rules, waiting on each', async () => {
    const dry = await destroy({platform: 'gcp', cluster, dryRun: true, clients, pace})
    assert.equal(fake.calls('DELETE', /./).length, 0, 'a dry run deletes nothing')
    assert.ok(dry.deleted.some((d) => d.kind === 'instances' && d.id === 'gcp-cp-1'))
    const report = await destroy({platform: 'gcp', cluster, dryRun: false, clients, pace})
    assert.deepEqual(report.failed, [])
    assert.equal(fake.resources.size, 0, [...fake.resources.keys()].join(', '))
    const deletes = fake.calls('DELETE', /./).map((r) => r.path.replace(`${P}/`, ''))
    // The forwarding rule goes before the backend service it points at, which goes before its health check.
    assert.ok(
      deletes.indexOf('regions/europe-west1/forwardingRules/gcp-demo-api') <
        deletes.indexOf('regions/europe-west1/backendServices/gcp-demo-api'),
    )
    assert.ok(
      deletes.indexOf('regions/europe-west1/backendServices/gcp-demo-api') <
        deletes.indexOf('regions/europe-west1/healthChecks/gcp-demo-api'),
    )
    assert.equal(deletes.filter((d) => d.includes('/instances/')).length, 5)
  })

  it('leaves alone an instance of the same name that is not the cluster’s', async () => {
    fake.resources.set('projects/my-project/zones/europe-west1-b/instances/gcp-worker-1', {
      name: 'gcp-worker-1',
      status: 'RUNNING',
      labels: {},
    })
    const report = await run()
    const w = report.nodes.find((n) => n.name === 'gcp-worker-1')!
    assert.equal(w.status, 'failed')
    assert.match(w.error!, /is not this cluster's/)
    const d = await destroy({platform: 'gcp', cluster, dryRun: false, clients, pace})
    assert.ok(!d.deleted.some((x) => x.id === 'gcp-worker-1'))
    assert.ok(fake.resources.has('projects/my-project/zones/europe-west1-b/instances/gcp-worker-1'))
  })
})
