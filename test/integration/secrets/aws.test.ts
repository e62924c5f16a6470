/**
 * AWS secret backends over the wire: `prepareAwsSecrets` / `destroyAwsSecrets` through the real SDK
 * clients against local Secrets Manager, SSM and IAM endpoints (JSON 1.1 and Query/XML, every
 * request's SigV4 signature verified twice), and the node's fetch step (bootstrap.sh: IMDSv2,
 * SigV4 in shell, digest, delete) against the same endpoints, including the ways it must fail
 * closed.
 */
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {IAMClient} from '@aws-sdk/client-iam'
import {SecretsManagerClient} from '@aws-sdk/client-secrets-manager'
import {SSMClient} from '@aws-sdk/client-ssm'
import {
  type AwsSecretClients,
  awsIdentityName,
  destroyAwsSecrets,
  destroyCloudSecrets,
  prepareAwsSecrets,
  prepareCloudSecrets,
} from '../../../src/cloud/secrets/index.js'
import {CHUNK_LIMIT} from '../../../src/plan/secrets/index.js'
import {makeTestCa, type TestCa} from '../../support/bootstrap-harness.js'
import {ACCOUNT, FakeAws, FakeImds} from '../../support/cloud-fakes.js'
import {loadCluster, PROFILES_DIR, profileText} from '../../support/profiles.js'
import {findTool} from '../../support/tools.js'
import {type CloudRender, modeOf, renderCloud, runFetch, writeCa} from './helpers.js'

function clients(fake: FakeAws): AwsSecretClients {
  const credentials = fake.operator()
  const common = {endpoint: fake.httpUrl, credentials, maxAttempts: 1}
  return {
    secretsManager: new SecretsManagerClient({region: fake.region, ...common}),
    ssm: new SSMClient({region: fake.region, ...common}),
    iam: new IAMClient({region: 'us-east-1', ...common}),
  }
}

describe('AWS secret backends', () => {
  let ca: TestCa
  let caFile: string
  let tmp: string
  let sm: CloudRender
  let ssm: CloudRender
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-aws-secrets-'))
    sm = await renderCloud(loadCluster(path.join(PROFILES_DIR, 'aws.yaml')), tmp)
    const ssmText = profileText('aws.yaml').replace('secretBackend: aws-secrets-manager', 'secretBackend: ssm-parameter-store')
    ssm = await renderCloud(loadCluster(path.join(PROFILES_DIR, 'aws-ssm.yaml'), ssmText), path.join(tmp, 'ssm'))
  })
  after(() => {
    rmSync(tmp, {recursive: true, force: true})
    if (ca) rmSync(ca.dir, {recursive: true, force: true})
  })

  it('launch stores one secret per control plane with tags, and a role + instance profile allowed only that secret', async () => {
    const fake = await new FakeAws().start()
    try {
      const bundles = sm.cluster.nodes.map((n) => sm.node(n.name).bundle).filter((b) => b !== undefined)
      assert.equal(bundles.length, 3, 'the three control planes have bundles, the workers none')
      const c = clients(fake)
      const first = await prepareAwsSecrets(c, sm.cluster.name, bundles, {tags: {team: 'platform'}})
      assert.deepEqual(Object.keys(first.perNode).sort(), ['aws-cp-1', 'aws-cp-2', 'aws-cp-3'])
      assert.equal(first.perNode['aws-cp-1']?.instanceProfileName, 'nodegen-aws-demo-aws-cp-1')
      assert.deepEqual([...fake.secrets.keys()].sort(), [
        'nodegen/aws-demo/aws-cp-1/0',
        'nodegen/aws-demo/aws-cp-2/0',
        'nodegen/aws-demo/aws-cp-3/0',
      ])
      for (const b of bundles) {
        const s = fake.secrets.get(`nodegen/aws-demo/${b.node}/0`)
        assert.ok(s)
        assert.equal(s.value, b.chunks[0]?.value)
        assert.deepEqual(s.tags, {'nodegen-cluster': 'aws-demo', 'nodegen-node': b.node, team: 'platform'})
        const role = fake.roles.get(awsIdentityName('aws-demo', b.node))
        assert.ok(role, `role of ${b.node}`)
        assert.match(role.trust, /ec2\.amazonaws\.com/)
        const policy = JSON.parse(role.policies.get('nodegen-secret-bundle') ?? '{}')
        assert.deepEqual(policy.Statement, [
          {
            Sid: 'OwnSecretBundleOnly',
            Effect: 'Allow',
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DeleteSecret'],
            Resource: [s.arn],
          },
        ])
        assert.deepEqual(fake.instanceProfiles.get(awsIdentityName('aws-demo', b.node))?.roles, [awsIdentityName('aws-demo', b.node)])
      }
      // Idempotent: a second run reuses everything and leaves one secret, role and profile per node.
      const second = await prepareAwsSecrets(c, sm.cluster.name, bundles)
      assert.deepEqual(second.perNode, first.perNode)
      assert.equal(fake.secrets.size, 3)
      assert.equal(fake.roles.size, 3)
      assert.equal(fake.instanceProfiles.size, 3)
      assert.ok(second.calls.some((x) => x.action === 'PutSecretValue'))
      assert.ok(fake.signatures.length > 20)
      for (const s of fake.signatures) assert.deepEqual(s, {ok: true, smithyAgrees: true})

      // Dry runs list the calls and carry no secret material.
      const dry = await prepareAwsSecrets(c, sm.cluster.name, bundles, {dryRun: true})
      const text = JSON.stringify(dry)
      assert.doesNotMatch(text, /PRIVATE KEY/)
      for (const b of bundles) assert.ok(!text.includes(b.chunks[0]?.value.slice(0, 40) ?? '-'))
      assert.deepEqual(
        dry.calls.filter((x) => x.target.includes('aws-cp-1')).map((x) => `${x.service}:${x.action}`),
        ['secretsmanager:CreateSecret', 'iam:CreateRole', 'iam:PutRolePolicy', 'iam:CreateInstanceProfile', 'iam:AddRoleToInstanceProfile'],
      )
      const dryDestroy = await destroyAwsSecrets(c, sm.cluster.name, ['aws-cp-1'], {dryRun: true})
      assert.ok(dryDestroy.calls.some((x) => x.action === 'DeleteRole'))
      assert.equal(fake.roles.size, 3, 'a dry run changes nothing')

      const gone = await destroyAwsSecrets(
        c,
        sm.cluster.name,
        sm.cluster.nodes.map((n) => n.name),
      )
      assert.equal(fake.secrets.size, 0)
      assert.equal(fake.roles.size, 0)
      assert.equal(fake.instanceProfiles.size, 0)
      assert.ok(gone.calls.filter((x) => x.action === 'DeleteSecret').length === 3)
      // Destroy is idempotent too.
      await destroyAwsSecrets(c, sm.cluster.name, ['aws-cp-1'])
    } finally {
      await fake.close()
    }
  })

  it('the launch hook: prepareCloudSecrets gives each control plane its instance profile, destroyCloudSecrets removes everything', async () => {
    const fake = await new FakeAws().start()
    try {
      const bundles = sm.cluster.nodes.map((n) => sm.node(n.name).bundle).filter((b) => b !== undefined)
      const c = {aws: clients(fake)}
      const r = await prepareCloudSecrets(sm.cluster, bundles, c)
      assert.deepEqual(r.perNode, {
        'aws-cp-1': {instanceProfileName: 'nodegen-aws-demo-aws-cp-1'},
        'aws-cp-2': {instanceProfileName: 'nodegen-aws-demo-aws-cp-2'},
        'aws-cp-3': {instanceProfileName: 'nodegen-aws-demo-aws-cp-3'},
      })
      assert.equal(fake.secrets.size, 3)
      await destroyCloudSecrets(sm.cluster, c)
      assert.equal(fake.secrets.size + fake.roles.size + fake.instanceProfiles.size, 0)
    } finally {
      await fake.close()
    }
  })

  it('user-data of every node carries no private key; control planes carry the bundle digest and names', () => {
    for (const n of sm.cluster.nodes) {
      const r = sm.node(n.name)
      assert.doesNotMatch(r.userData, /PRIVATE KEY/, n.name)
      assert.ok(!r.userData.includes(sm.material.calendar?.secret ?? '-'), `${n.name} carries no calendar secret`)
      if (n.role === 'control-plane') {
        assert.ok(r.bundle)
        assert.match(r.userData, new RegExp(`SECRET_BUNDLE_SHA256=${r.bundle.sha256}`))
        assert.match(r.userData, /SECRET_NAMES=nodegen\/aws-demo\/aws-cp-\d\/0/)
        assert.ok(!r.userData.includes(sm.material.token), 'the control plane token is in the bundle')
      }
    }
  })

  const missing = ['curl', 'openssl', 'sha256sum', 'tar'].filter((t) => !findTool(t))
  describe('the node fetch step', {skip: missing.length > 0 && !process.env.CI ? `${missing.join(', ')} missing` : false}, () => {
    let fake: FakeAws
    let imds: FakeImds
    before(async () => {
      if (missing.length > 0) throw new Error(`${missing.join(', ')} required under CI=true`)
      ca = makeTestCa(['127.0.0.1'])
      caFile = writeCa(ca.dir, ca.caCert)
      fake = await new FakeAws({cert: ca.serverCert, key: ca.serverKey}).start()
      imds = await new FakeImds().start()
    })
    after(async () => {
      await fake?.close()
      await imds?.close()
    })

    async function launch(r: CloudRender, node: string, extra: Parameters<CloudRender['node']>[2] = []) {
      const x = r.node(node, {serviceUrl: fake.httpsUrl, metadataUrl: imds.url}, extra)
      assert.ok(x.bundle)
      const prepared = await prepareAwsSecrets(clients(fake), r.cluster.name, [x.bundle])
      const role = prepared.perNode[node]?.roleName as string
      return {...x, role}
    }

    it('reads its bundle with a SigV4-signed request from the role credentials, checks it, deletes it, installs the files 0600', async () => {
      const x = await launch(sm, 'aws-cp-1')
      const creds = fake.roleCredentials(x.role)
      imds.role = {name: x.role, credentials: creds}
      fake.signatures.length = 0
      fake.calls.length = 0
      const r = await runFetch(x.plan, path.join(tmp, 'ok'), caFile)
      assert.equal(r.code, 0, r.output)
      for (const f of x.full.files.filter((f) => f.secret)) {
        const p = path.join(r.root, f.path)
        assert.equal(readFileSync(p, 'utf8'), f.content, f.path)
        assert.equal(modeOf(p), 0o600, f.path)
      }
      assert.ok(readFileSync(path.join(r.root, 'etc/kubernetes/pki/ca.key'), 'utf8').includes('PRIVATE KEY'))
      assert.equal(fake.secrets.size, 0, 'the secret is deleted')
      const node = fake.calls.filter((c) => c.principal === `role:${x.role}`).map((c) => `${c.action} ${c.target}`)
      assert.deepEqual(node, ['GetSecretValue nodegen/aws-demo/aws-cp-1/0', 'DeleteSecret nodegen/aws-demo/aws-cp-1/0'])
      assert.equal(fake.signatures.length, 2)
      for (const s of fake.signatures)
        assert.deepEqual(s, {ok: true, smithyAgrees: true}, 'independent verifier and the SDK signer accept the shell signature')
      assert.ok(imds.requests.includes('PUT /latest/api/token'), 'IMDSv2 token first')
      assert.ok(!existsSync(path.join(r.root, 'var/lib/nodegen/secrets-stage')), 'no staging copy left')
      assert.doesNotMatch(r.output, /PRIVATE KEY/)
      assert.ok(!r.output.includes(creds.secretAccessKey) && !r.output.includes(creds.sessionToken as string), 'credentials are not logged')
    })

    it('fails closed when the bundle does not match the digest in user-data: nothing installed, nothing deleted', async () => {
      const x = await launch(sm, 'aws-cp-2')
      imds.role = {name: x.role, credentials: fake.roleCredentials(x.role)}
      fake.corruptValue = Buffer.from('not the bundle').toString('base64')
      try {
        const r = await runFetch(x.plan, path.join(tmp, 'digest'), caFile)
        assert.notEqual(r.code, 0)
        assert.match(r.output, /failed at secrets: the secret bundle's sha256 is [0-9a-f]{64}, user-data expects/)
        assert.ok(!existsSync(path.join(r.root, 'etc/kubernetes/pki/ca.key')))
        assert.ok(!existsSync(path.join(r.root, 'var/lib/nodegen/secrets-stage')))
        assert.ok(fake.secrets.has('nodegen/aws-demo/aws-cp-2/0'), 'not deleted')
        const status = JSON.parse(readFileSync(path.join(r.root, 'var/lib/nodegen/status.json'), 'utf8'))
        assert.equal(status.state, 'failed')
        assert.equal(status.phase, 'secrets')
      } finally {
        fake.corruptValue = undefined
      }
    })

    it('fails closed when the secret cannot be deleted: nothing installed, no staging copy', async () => {
      const x = await launch(sm, 'aws-cp-2')
      imds.role = {name: x.role, credentials: fake.roleCredentials(x.role)}
      fake.refuseDelete = true
      try {
        const r = await runFetch(x.plan, path.join(tmp, 'nodelete'), caFile)
        assert.notEqual(r.code, 0)
        assert.match(r.output, /cannot delete secret nodegen\/aws-demo\/aws-cp-2\/0/)
        assert.ok(!existsSync(path.join(r.root, 'etc/kubernetes/pki/ca.key')))
        assert.ok(!existsSync(path.join(r.root, 'etc/nodegen/calendar.env')))
        assert.ok(!existsSync(path.join(r.root, 'var/lib/nodegen/secrets-stage')))
        assert.ok(fake.calls.filter((c) => c.action === 'DeleteSecret' && c.principal.startsWith('role:')).length >= 3, 'retried')
      } finally {
        fake.refuseDelete = false
      }
    })

    it('a run that stopped after deleting the secret finishes from its verified staging copy', async () => {
      const x = await launch(sm, 'aws-cp-1')
      imds.role = {name: x.role, credentials: fake.roleCredentials(x.role)}
      fake.secrets.clear()
      const r = await runFetch(x.plan, path.join(tmp, 'rerun'), caFile, {}, (root) => {
        const stage = path.join(root, 'var/lib/nodegen/secrets-stage')
        mkdirSync(stage, {recursive: true, mode: 0o700})
        writeFileSync(path.join(stage, 'bundle.tgz'), x.bundle?.archive ?? '')
      })
      assert.equal(r.code, 0, r.output)
      assert.equal(
        readFileSync(path.join(r.root, 'etc/kubernetes/pki/ca.key'), 'utf8'),
        x.full.files.find((f) => f.path === '/etc/kubernetes/pki/ca.key')?.content,
      )
      assert.ok(!existsSync(path.join(r.root, 'var/lib/nodegen/secrets-stage')))
    })

    it("cannot read another control plane's secret with its own role", async () => {
      const x = await launch(sm, 'aws-cp-3')
      const other = awsIdentityName('aws-demo', 'aws-cp-2')
      imds.role = {name: other, credentials: fake.roleCredentials(other)}
      const r = await runFetch(x.plan, path.join(tmp, 'other'), caFile)
      assert.notEqual(r.code, 0)
      assert.match(r.output, /GetSecretValue nodegen\/aws-demo\/aws-cp-3\/0: HTTP 400 AccessDeniedException/)
      assert.ok(fake.secrets.has('nodegen/aws-demo/aws-cp-3/0'))
    })

    it('fails closed when the metadata service is unreachable', async () => {
      const x = await launch(sm, 'aws-cp-3')
      const dead = await new FakeImds().start()
      const url = dead.url
      await dead.close()
      const plan = {
        ...x.plan,
        files: x.plan.files.map((f) => (f.path === '/etc/nodegen/secrets.env' ? {...f, content: f.content.replace(imds.url, url)} : f)),
      }
      const r = await runFetch(plan, path.join(tmp, 'nometa'), caFile)
      assert.notEqual(r.code, 0)
      assert.match(r.output, /cannot get an IMDSv2 token/)
      assert.ok(!existsSync(path.join(r.root, 'etc/kubernetes/pki/ca.key')))
    })

    it('SSM Parameter Store: a bundle over 8 KB is split into parameters, fetched in order, and every one deleted', async () => {
      const big = {
        path: '/etc/nodegen/extra.key',
        content: randomBytes(15000).toString('base64'),
        mode: 0o600,
        owner: 'root:root',
        secret: true,
        origin: 'test',
      }
      const x = await launch(ssm, 'aws-cp-1', [big])
      assert.ok(x.bundle && x.bundle.chunks.length >= 2, 'several chunks')
      for (const c of x.bundle.chunks) assert.ok(c.value.length <= CHUNK_LIMIT['ssm-parameter-store'])
      const role = fake.roles.get(x.role)
      const policy = JSON.parse(role?.policies.get('nodegen-secret-bundle') ?? '{}')
      assert.deepEqual(
        policy.Statement[0].Resource,
        x.bundle.chunks.map((c) => `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter${c.name}`),
      )
      imds.role = {name: x.role, credentials: fake.roleCredentials(x.role)}
      fake.signatures.length = 0
      const r = await runFetch(x.plan, path.join(tmp, 'ssm'), caFile)
      assert.equal(r.code, 0, r.output)
      assert.equal(readFileSync(path.join(r.root, 'etc/nodegen/extra.key'), 'utf8'), big.content)
      assert.equal(
        readFileSync(path.join(r.root, 'etc/kubernetes/pki/sa.key'), 'utf8'),
        x.full.files.find((f) => f.path === '/etc/kubernetes/pki/sa.key')?.content,
      )
      assert.equal(fake.parameters.size, 0)
      for (const s of fake.signatures) assert.deepEqual(s, {ok: true, smithyAgrees: true})
      await destroyAwsSecrets(clients(fake), ssm.cluster.name, ['aws-cp-1'], {backend: 'ssm-parameter-store'})
      assert.equal(fake.roles.has(x.role), false)
    })
  })
})
