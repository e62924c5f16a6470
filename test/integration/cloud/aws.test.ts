/**
 * `launch aws` / `destroy aws` through the real @aws-sdk clients against a local endpoint that speaks
 * EC2's query protocol and ELBv2's: every request as the SDK sent it is checked (IPs, decoded
 * user-data equal to what render writes, IMDS options, tags, idempotency token, NLB wiring), then
 * throttling, a partial failure and its resumption, and destroy.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {gunzipSync} from 'node:zlib'
import {destroy, launch, launchNodes} from '../../../src/app/launch.js'
import {readCniManifest, renderNode} from '../../../src/app/render.js'
import {clientToken} from '../../../src/cloud/common.js'
import {LaunchError} from '../../../src/cloud/types.js'
import {loadProfile} from '../../../src/profile/index.js'
import {FakeAws} from '../../support/fake-aws.js'
import {profileText} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-aws-'))
after(() => rmSync(tmp, {recursive: true, force: true}))
const pace = {pollMs: 5, timeoutMs: 5000, retryMs: 5, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms))}

// The example profile with an AMI, and its endpoint as an IP so the NLB takes a fixed address.
const profilePath = path.join(tmp, 'aws.yaml')
const withAmi = profileText('aws.yaml').replace('region: eu-west-1', 'region: eu-west-1\n      ami: ami-0123456789abcdef0')
writeFileSync(profilePath, withAmi.replace('secretBackend: aws-secrets-manager', 'secretBackend: inline'))
// The example as it is (Secrets Manager): render keeps the keys out of user-data for the backend's hook.
const backendPath = path.join(tmp, 'aws-backend.yaml')
writeFileSync(backendPath, withAmi)

describe('launch aws against a local EC2 + ELBv2 endpoint', () => {
  const fake = new FakeAws()
  let endpoint: string
  let rendered: Awaited<ReturnType<typeof renderProfile>>
  const cluster = loadProfile(readFileSync(profilePath), profilePath, {insecureInlineSecrets: true}).cluster!

  before(async () => {
    endpoint = await fake.start()
    fake.subnets.set('subnet-0123456789abcdef0', {vpc: 'vpc-0123456789abcdef0', cidr: '10.0.1.0/24'})
    rendered = await renderProfile(backendPath)
  })
  after(() => fake.stop())

  const run = (extra: Partial<Parameters<typeof launch>[0]> = {}) =>
    launch({
      platform: 'aws',
      cluster,
      profilePath,
      stateDir: tmp,
      material: rendered.material,
      dryRun: false,
      insecureInlineSecrets: true,
      clients: fake.clients(endpoint),
      pace,
      ...extra,
    })

  it('refuses CA keys in user-data unless --insecure-inline-secrets, and sends nothing', async () => {
    await assert.rejects(run({insecureInlineSecrets: false}), (e: unknown) => {
      assert.ok(e instanceof LaunchError)
      assert.match(e.message, /secretBackend is inline: the CA private keys of aws-cp-1, aws-cp-2, aws-cp-3 would be in instance metadata/)
      assert.match(e.message, /--insecure-inline-secrets/)
      return true
    })
    assert.equal(fake.requests.length, 0)
  })

  it('launches every node with one RunInstances each, retrying throttling with the same token', async () => {
    fake.throttle.set('RunInstances', 2)
    fake.throttle.set('CreateLoadBalancer', 1)
    fake.failIp.set('10.0.1.21', 'InsufficientInstanceCapacity')
    const report = await run()
    assert.match(report.warnings.join('\n'), /CA private keys of aws-cp-1, aws-cp-2, aws-cp-3 are in instance metadata/)
    for (const r of fake.requests) assert.match(r.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDNODEGENTEST\//)

    // Partial failure: worker-2 hit a capacity error, everything else runs.
    const byName = new Map(report.nodes.map((n) => [n.name, n]))
    assert.equal(byName.get('aws-worker-2')!.status, 'failed')
    assert.match(byName.get('aws-worker-2')!.error!, /InsufficientInstanceCapacity/)
    for (const n of ['aws-cp-1', 'aws-cp-2', 'aws-cp-3', 'aws-worker-1']) {
      assert.equal(byName.get(n)!.status, 'created', n)
      assert.equal(byName.get(n)!.state, 'running', n)
    }

    // Each accepted RunInstances, as the SDK serialised it.
    const expected = launchNodes(cluster, profilePath, rendered.material)
    const runs = fake.calls('RunInstances')
    assert.equal(runs.length, 5 + 2, 'five nodes plus two throttled retries')
    const first = new Map<string, (typeof runs)[number]>()
    for (const r of runs) first.set(String(r.params.PrivateIpAddress), r)
    for (const n of expected) {
      const r = first.get(n.node.ip)!
      const p = r.params as Record<string, unknown> & {MetadataOptions: Record<string, string>; TagSpecification: unknown[]}
      assert.equal(p.ClientToken, clientToken('aws-demo', n.node.name))
      assert.equal(p.ImageId, 'ami-0123456789abcdef0')
      assert.equal(p.InstanceType, n.node.role === 'control-plane' ? 't3.large' : 't3.medium')
      assert.equal(p.KeyName, 'ops')
      assert.equal(p.SubnetId, 'subnet-0123456789abcdef0')
      assert.equal(p.MinCount, '1')
      assert.equal(p.MaxCount, '1')
      assert.deepEqual(p.MetadataOptions, {
        HttpEndpoint: 'enabled',
        HttpTokens: 'required',
        HttpPutResponseHopLimit: '1',
        InstanceMetadataTags: 'disabled',
      })
      // user-data: base64 of exactly the bytes render writes; gzip here because EC2's 16 KB is tight.
      const data = Buffer.from(String(p.UserData), 'base64')
      assert.deepEqual(data, n.userData)
      const fitted = renderNode(cluster, n.node, rendered.material, readCniManifest(cluster, profilePath)).fitted as {data: Buffer}
      assert.deepEqual(data, fitted.data, 'launch sends what render writes')
      const text = n.encoding === 'gzip' ? gunzipSync(data).toString() : data.toString()
      assert.match(text, /^#cloud-config\n/)
      assert.ok(text.includes(`hostname: ${n.node.name}`))
      assert.ok(data.length <= 16384)
      const tags = (p.TagSpecification as Array<{ResourceType: string; Tag: Array<{Key: string; Value: string}>}>).map((s) => [
        s.ResourceType,
        Object.fromEntries(s.Tag.map((t) => [t.Key, t.Value])),
      ])
      const want = {Name: n.node.name, 'nodegen.dev/cluster': 'aws-demo', 'nodegen.dev/node': n.node.name, 'nodegen.dev/role': n.node.role}
      assert.deepEqual(tags, [
        ['instance', want],
        ['volume', want],
      ])
      const group = [...fake.groups.values()].find((g) => g.name === `nodegen-aws-demo-${n.node.role}`)!
      assert.deepEqual(p.SecurityGroupId, [group.id])
    }
    // The throttled retries reused the token: no second instance for any node.
    const tokens = runs.map((r) => r.params.ClientToken)
    assert.equal(new Set(tokens).size, 5)
    assert.equal(fake.instances.length, 4)

    // Security groups: the role port table from the node subnet.
    const cp = [...fake.groups.values()].find((g) => g.name === 'nodegen-aws-demo-control-plane')!
    assert.equal(cp.vpc, 'vpc-0123456789abcdef0')
    for (const k of [
      'tcp/6443-6443/10.0.1.0/24',
      'tcp/2379-2380/10.0.1.0/24',
      'tcp/10250-10250/10.0.1.0/24',
      'tcp/179-179/10.0.1.0/24',
      'udp/4789-4789/10.0.1.0/24',
    ])
      assert.ok(cp.perms.has(k), k)
    const worker = [...fake.groups.values()].find((g) => g.name === 'nodegen-aws-demo-worker')!
    assert.ok(worker.perms.has('tcp/30000-32767/10.0.1.0/24'))
    assert.ok(!worker.perms.has('tcp/6443-6443/10.0.1.0/24'))

    // The NLB: internal, in the subnet, TCP listener on 6443 forwarding to the control planes.
    assert.equal(fake.calls('CreateLoadBalancer').length, 2, 'one throttled, one accepted')
    const [lb] = [...fake.lbs.values()]
    assert.equal(lb!.scheme, 'internal')
    assert.deepEqual(lb!.mappings, [{SubnetId: 'subnet-0123456789abcdef0'}])
    const [tg] = [...fake.tgs.values()]
    assert.equal(tg!.port, 6443)
    assert.equal(tg!.health, 'HTTPS /readyz')
    assert.equal(tg!.attrs['preserve_client_ip.enabled'], 'false')
    assert.deepEqual(fake.listeners, [{lb: lb!.arn, port: 6443, tg: tg!.arn}])
    const cpIds = fake.instances.filter((i) => i.tags['nodegen.dev/role'] === 'control-plane').map((i) => `${i.id}:6443`)
    assert.deepEqual([...tg!.targets].sort(), cpIds.sort())
    assert.equal(report.endpoint.dnsName, lb!.dns)
    assert.match(report.endpoint.notes.join('\n'), /point aws-demo-api\.internal\.example\.com at the NLB: a CNAME/)
  })

  it('a re-run launches only the node that failed and creates nothing twice', async () => {
    const before = fake.requests.length
    const groupsBefore = fake.groups.size
    const report = await run()
    const mine = fake.requests.slice(before)
    const runs = mine.filter((r) => r.action === 'RunInstances')
    assert.equal(runs.length, 1)
    assert.equal(runs[0]!.params.PrivateIpAddress, '10.0.1.21')
    assert.equal(
      mine.filter(
        (r) =>
          r.action === 'CreateSecurityGroup' ||
          r.action === 'CreateLoadBalancer' ||
          r.action === 'CreateTargetGroup' ||
          r.action === 'CreateListener',
      ).length,
      0,
    )
    assert.equal(mine.filter((r) => r.action === 'AuthorizeSecurityGroupIngress').length, 0, 'every rule already there')
    assert.equal(fake.groups.size, groupsBefore)
    assert.deepEqual(
      report.nodes.map((n) => [n.name, n.status]),
      [
        ['aws-cp-1', 'existing'],
        ['aws-cp-2', 'existing'],
        ['aws-cp-3', 'existing'],
        ['aws-worker-1', 'existing'],
        ['aws-worker-2', 'created'],
      ],
    )
    assert.equal(fake.instances.filter((i) => i.state === 'running').length, 5)
    assert.equal(new Set(fake.instances.map((i) => i.ip)).size, 5)
  })

  it('plugs a per-node instance profile in and runs the secrets hook before any instance', async () => {
    const other = new FakeAws()
    const ep = await other.start()
    other.subnets.set('subnet-0123456789abcdef0', {vpc: 'vpc-0123456789abcdef0', cidr: '10.0.1.0/24'})
    try {
      let sawInstances = -1
      const backend = await renderProfile(backendPath)
      const report = await launch({
        platform: 'aws',
        cluster: backend.cluster,
        profilePath: backendPath,
        stateDir: tmp,
        material: backend.material,
        dryRun: false,
        insecureInlineSecrets: false,
        clients: other.clients(ep),
        pace,
        prepareSecrets: async ({nodes}) => {
          sawInstances = other.calls('RunInstances').length
          return new Map(
            nodes
              .filter((n) => n.node.role === 'control-plane')
              .map((n) => [n.node.name, {identity: {aws: {iamInstanceProfile: {Name: `nodegen-aws-demo-${n.node.name}`}}}}]),
          )
        },
      })
      assert.equal(sawInstances, 0)
      assert.equal(report.blockers.length, 0)
      for (const r of other.calls('RunInstances')) {
        const name = (r.params.TagSpecification as Array<{Tag: Array<{Key: string; Value: string}>}>)[0]!.Tag.find(
          (t) => t.Key === 'Name',
        )!.Value
        const profile = (r.params.IamInstanceProfile as {Name?: string} | undefined)?.Name
        assert.equal(profile, name.startsWith('aws-cp') ? `nodegen-aws-demo-${name}` : undefined, name)
      }
    } finally {
      await other.stop()
    }
  })

  it('destroy terminates the instances, deletes the NLB, target group and security groups', async () => {
    const dry = await destroy({platform: 'aws', cluster, dryRun: true, clients: fake.clients(endpoint), pace})
    assert.ok(dry.calls.some((c) => c.operation === 'TerminateInstances'))
    assert.equal(fake.calls('TerminateInstances').length, 0, 'a dry run deletes nothing')
    assert.equal(fake.lbs.size, 1)

    const report = await destroy({platform: 'aws', cluster, dryRun: false, clients: fake.clients(endpoint), pace})
    assert.deepEqual(report.failed, [])
    assert.equal(fake.calls('TerminateInstances').length, 1)
    assert.ok(fake.instances.every((i) => i.state === 'terminated'))
    assert.equal(fake.lbs.size, 0)
    assert.equal(fake.tgs.size, 0)
    assert.equal(fake.groups.size, 0)
    assert.deepEqual(report.deleted.map((d) => d.kind).sort(), [
      'instances',
      'load-balancer',
      'security-group',
      'security-group',
      'target-group',
    ])
  })

  it('after destroy, a launch starts new instances (the old tokens belong to terminated ones)', async () => {
    const report = await run()
    assert.ok(
      report.nodes.every((n) => n.status === 'created'),
      JSON.stringify(report.nodes),
    )
    assert.equal(fake.instances.filter((i) => i.state === 'running').length, 5)
    // EC2 answers a reused token with the terminated instance: launch moved on to the next token.
    const live = fake.instances.filter((i) => i.state === 'running')
    for (const i of live) assert.equal(i.token, clientToken('aws-demo', i.tags.Name!, 1))
  })
})
