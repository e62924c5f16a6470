/**
 * `nodegen launch` / `destroy` as users run them (the built CLI): the dry runs of the example
 * profiles, the refusals, and a real launch whose SDK finds its endpoint and credentials through
 * the AWS SDK's own environment variables, pointed at the local EC2/ELBv2 stand-in.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {builtCli, nodegen} from '../../support/cli.js'
import {FakeAws} from '../../support/fake-aws.js'
import {PROFILES_DIR, profileText} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-cli-launch-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

interface Call {
  service: string
  operation: string
  input: Record<string, unknown>
}

function runAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{status: number; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [builtCli(), ...args], {env: {...process.env, NODEGEN_PKI_PASSPHRASE: '', ...env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => {
      stdout += c
    })
    child.stderr.on('data', (c) => {
      stderr += c
    })
    child.on('close', (code) => resolve({status: code ?? -1, stdout, stderr}))
  })
}

describe('nodegen launch / destroy (built CLI)', () => {
  it('launch aws profiles/aws.yaml --dry-run --json lists one RunInstances per node, each IMDSv2-only', () => {
    const r = nodegen(['launch', 'aws', path.join(PROFILES_DIR, 'aws.yaml'), '--dry-run', '--json', '--state', path.join(tmp, 'aws-state')])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout) as {calls: Call[]; nodes: Array<{name: string; status: string}>; blockers: string[]}
    const runs = report.calls.filter((c) => c.operation === 'RunInstances')
    assert.deepEqual(
      runs.map((c) => c.input.PrivateIpAddress),
      ['10.0.1.10', '10.0.1.11', '10.0.1.12', '10.0.1.20', '10.0.1.21'],
    )
    for (const c of runs) {
      assert.equal((c.input.MetadataOptions as {HttpTokens: string}).HttpTokens, 'required')
      assert.equal((c.input.MetadataOptions as {HttpPutResponseHopLimit: number}).HttpPutResponseHopLimit, 1)
      assert.match(String(c.input.UserData), /^<redacted: \d+ bytes, (raw|gzip), sha256 [0-9a-f]{64}>$/)
      assert.match(String(c.input.ClientToken), /^nodegen-[0-9a-f]{48}$/)
    }
    assert.ok(report.calls.some((c) => c.operation === 'CreateLoadBalancer'))
    assert.ok(report.nodes.every((n) => n.status === 'planned'))
    // The example names no AMI: the dry run says why a launch would stop.
    assert.match(report.blockers.join('\n'), /set spec\.platform\.aws\.ami, or bake one/)
    // Its secret backend: each control plane's bundle stored and an instance profile of its own, before
    // any instance; the control planes launch with it, workers without.
    const first = report.calls.findIndex((c) => c.operation === 'RunInstances')
    const creates = report.calls.filter((c, i) => c.operation === 'CreateSecret' && i < first)
    assert.deepEqual(
      creates.map((c) => (c.input as {target: string}).target),
      ['nodegen/aws-demo/aws-cp-1/0', 'nodegen/aws-demo/aws-cp-2/0', 'nodegen/aws-demo/aws-cp-3/0'],
    )
    assert.ok(report.calls.slice(0, first).some((c) => c.operation === 'CreateInstanceProfile'))
    for (const c of runs) {
      const ip = String(c.input.PrivateIpAddress)
      const profile = (c.input.IamInstanceProfile as {Name?: string} | undefined)?.Name
      if (/\.1[012]$/.test(ip)) assert.ok(profile, `${ip}: no instance profile`)
      else assert.equal(profile, undefined, `${ip}: a worker needs no identity`)
    }
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY|BEGIN EC/)
  })

  it('launch gcp profiles/gcp.yaml --dry-run --json lists one instances.insert per node', () => {
    const r = nodegen(['launch', 'gcp', path.join(PROFILES_DIR, 'gcp.yaml'), '--dry-run', '--json', '--state', path.join(tmp, 'gcp-state')])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout) as {calls: Call[]}
    const inserts = report.calls.filter((c) => c.service === 'instances' && c.operation === 'insert')
    assert.equal(inserts.length, 5)
    for (const c of inserts) {
      const res = c.input.instanceResource as {
        metadata: {items: Array<{key: string; value: string}>}
        networkInterfaces: Array<{networkIP: string}>
      }
      assert.match(res.metadata.items[0]!.value, /^<redacted: /)
      assert.match(res.networkInterfaces[0]!.networkIP, /^10\.128\.0\.\d+$/)
    }
    assert.ok(report.calls.some((c) => c.service === 'forwardingRules' && c.operation === 'insert'))
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/)
  })

  it('refuses the wrong platform, and destroy without --yes', () => {
    const wrong = nodegen(['launch', 'gcp', path.join(PROFILES_DIR, 'aws.yaml'), '--dry-run', '--state', path.join(tmp, 'aws-state')])
    assert.equal(wrong.status, 1)
    assert.match(wrong.stderr, /spec\.platform\.type is aws: `launch gcp` needs a profile for gcp/)
    const d = nodegen(['destroy', 'aws', path.join(PROFILES_DIR, 'aws.yaml')])
    assert.equal(d.status, 2)
    assert.match(d.stderr, /pass --yes/)
  })

  it('a real launch and destroy through the SDK environment chain, against the local endpoint', async () => {
    const fake = new FakeAws()
    fake.pendingPolls = 0
    const endpoint = await fake.start()
    try {
      fake.subnets.set('subnet-0123456789abcdef0', {vpc: 'vpc-0123456789abcdef0', cidr: '10.0.1.0/24'})
      const profile = path.join(tmp, 'aws.yaml')
      writeFileSync(
        profile,
        profileText('aws.yaml')
          .replace('region: eu-west-1', 'region: eu-west-1\n      ami: ami-0123456789abcdef0')
          .replace('secretBackend: aws-secrets-manager', 'secretBackend: inline'),
      )
      const env = {
        AWS_ENDPOINT_URL: endpoint,
        AWS_ACCESS_KEY_ID: 'AKIDNODEGENTEST',
        AWS_SECRET_ACCESS_KEY: 'nodegen-test-secret',
        AWS_CONFIG_FILE: path.join(tmp, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(tmp, 'none'),
      }
      const state = path.join(tmp, 'real-state')
      const refused = await runAsync(['launch', 'aws', profile, '--state', state], env)
      assert.equal(refused.status, 1)
      assert.match(refused.stderr, /--insecure-inline-secrets/)
      assert.equal(fake.requests.length, 0)

      const r = await runAsync(['launch', 'aws', profile, '--state', state, '--insecure-inline-secrets'], env)
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr.replace(/\s*›\s*/g, ' '), /CA private keys of aws-cp-1, aws-cp-2, aws-cp-3 are in instance metadata/)
      assert.ok(r.stderr.indexOf('CA private keys') < r.stderr.indexOf('running on aws'), 'warned before launching')
      assert.match(r.stderr, /5\/5 node\(s\) of aws-demo running on aws/)
      assert.equal(fake.instances.length, 5)
      assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/)

      const again = await runAsync(['launch', 'aws', profile, '--state', state, '--insecure-inline-secrets', '--json'], env)
      assert.equal(again.status, 0, again.stderr)
      assert.ok((JSON.parse(again.stdout) as {nodes: Array<{status: string}>}).nodes.every((n) => n.status === 'existing'))
      assert.equal(fake.instances.length, 5)

      const d = await runAsync(['destroy', 'aws', profile, '--yes', '--json'], env)
      assert.equal(d.status, 0, d.stderr)
      assert.ok(fake.instances.every((i) => i.state === 'terminated'))
      assert.equal(fake.groups.size, 0)
    } finally {
      await fake.stop()
    }
  })
})
