/**
 * Google Cloud secret backend over the wire: `prepareGcpSecrets` / `destroyGcpSecrets` through the
 * real Secret Manager client (its `fallback` REST transport, pointed at a local endpoint with
 * `apiEndpoint`/`port`/`protocol`) and the IAM REST API, and the node's fetch step (metadata
 * server token, `versions/latest:access`, digest, `:destroy`) against the same endpoints.
 */
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {SecretManagerServiceClient} from '@google-cloud/secret-manager'
import {OAuth2Client} from 'google-auth-library'
import {
  ACCESSOR_ROLE,
  destroyCloudSecrets,
  destroyGcpSecrets,
  type GcpSecretClients,
  gcpServiceAccountEmail,
  prepareCloudSecrets,
  prepareGcpSecrets,
  VERSION_MANAGER_ROLE,
} from '../../../src/cloud/secrets/index.js'
import {makeTestCa, type TestCa} from '../../support/bootstrap-harness.js'
import {FakeGcp} from '../../support/cloud-fakes.js'
import {loadCluster, PROFILES_DIR} from '../../support/profiles.js'
import {findTool} from '../../support/tools.js'
import {type CloudRender, modeOf, renderCloud, runFetch, writeCa} from './helpers.js'

const PROJECT = 'my-project'

function clients(fake: FakeGcp): GcpSecretClients {
  // A real google-auth-library client holding the operator's access token (no token refresh here).
  const auth = new OAuth2Client()
  auth.setCredentials({access_token: 'operator-token', expiry_date: Date.now() + 3_600_000})
  const url = new URL(fake.httpUrl)
  return {
    secretManager: new SecretManagerServiceClient({
      fallback: true,
      apiEndpoint: url.hostname,
      port: Number(url.port),
      protocol: 'http',
      authClient: auth,
    } as ConstructorParameters<typeof SecretManagerServiceClient>[0]),
    http: auth,
    iamEndpoint: fake.httpUrl,
  }
}

describe('Google Cloud secret backend', () => {
  let tmp: string
  let r: CloudRender
  let ca: TestCa | undefined
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-gcp-secrets-'))
    r = await renderCloud(loadCluster(path.join(PROFILES_DIR, 'gcp.yaml')), tmp)
  })
  after(() => {
    rmSync(tmp, {recursive: true, force: true})
    if (ca) rmSync(ca.dir, {recursive: true, force: true})
  })

  it('launch stores each control plane bundle as a labelled secret readable and destroyable only by its own service account', async () => {
    const fake = await new FakeGcp(PROJECT).start()
    try {
      const bundles = r.cluster.nodes.map((n) => r.node(n.name).bundle).filter((b) => b !== undefined)
      assert.equal(bundles.length, 3)
      const c = clients(fake)
      const first = await prepareGcpSecrets(c, PROJECT, r.cluster.name, bundles, {labels: {team: 'platform'}})
      assert.deepEqual(Object.keys(first.perNode).sort(), ['gcp-cp-1', 'gcp-cp-2', 'gcp-cp-3'])
      assert.equal(fake.serviceAccounts.size, 3)
      for (const b of bundles) {
        const email = gcpServiceAccountEmail(PROJECT, 'gcp-demo', b.node)
        assert.equal(first.perNode[b.node]?.serviceAccountEmail, email)
        assert.ok(fake.serviceAccounts.has(email))
        const s = fake.secrets.get(`nodegen_gcp-demo_${b.node}_0`)
        assert.ok(s, `secret of ${b.node}`)
        assert.deepEqual(s.labels, {'nodegen-cluster': 'gcp-demo', 'nodegen-node': b.node, team: 'platform'})
        assert.equal(s.versions.length, 1)
        assert.equal(Buffer.from(s.versions[0]?.data ?? '', 'base64').toString('ascii'), b.chunks[0]?.value)
        assert.deepEqual(s.bindings, [
          {role: ACCESSOR_ROLE, members: [`serviceAccount:${email}`]},
          {role: VERSION_MANAGER_ROLE, members: [`serviceAccount:${email}`]},
        ])
      }
      // Idempotent: service accounts reused, each secret replaced so it holds exactly one version.
      const second = await prepareGcpSecrets(c, PROJECT, r.cluster.name, bundles)
      assert.deepEqual(second.perNode, first.perNode)
      assert.equal(fake.serviceAccounts.size, 3)
      assert.equal(fake.secrets.size, 3)
      for (const s of fake.secrets.values()) assert.equal(s.versions.length, 1)
      assert.ok(second.calls.some((x) => x.action === 'serviceAccounts.get'))

      const dry = await prepareGcpSecrets(c, PROJECT, r.cluster.name, bundles, {dryRun: true})
      assert.doesNotMatch(JSON.stringify(dry), /PRIVATE KEY/)
      for (const b of bundles) assert.ok(!JSON.stringify(dry).includes(b.chunks[0]?.value.slice(0, 40) ?? '-'))
      const dryDestroy = await destroyGcpSecrets(c, PROJECT, r.cluster.name, ['gcp-cp-1'], {dryRun: true})
      assert.ok(dryDestroy.calls.some((x) => x.action === 'serviceAccounts.delete'))
      assert.equal(fake.secrets.size, 3, 'a dry run changes nothing')

      await destroyGcpSecrets(
        c,
        PROJECT,
        r.cluster.name,
        r.cluster.nodes.map((n) => n.name),
      )
      assert.equal(fake.secrets.size, 0)
      assert.equal(fake.serviceAccounts.size, 0)
      await destroyGcpSecrets(c, PROJECT, r.cluster.name, ['gcp-cp-1'])
    } finally {
      await fake.close()
    }
  })

  it('the launch hook: prepareCloudSecrets gives each control plane its service account, destroyCloudSecrets removes everything', async () => {
    const fake = await new FakeGcp(PROJECT).start()
    try {
      const bundles = r.cluster.nodes.map((n) => r.node(n.name).bundle).filter((b) => b !== undefined)
      const c = {gcp: clients(fake)}
      const p = await prepareCloudSecrets(r.cluster, bundles, c)
      assert.deepEqual(Object.keys(p.perNode).sort(), ['gcp-cp-1', 'gcp-cp-2', 'gcp-cp-3'])
      assert.equal(p.perNode['gcp-cp-1']?.serviceAccountEmail, gcpServiceAccountEmail(PROJECT, 'gcp-demo', 'gcp-cp-1'))
      await destroyCloudSecrets(r.cluster, c)
      assert.equal(fake.secrets.size + fake.serviceAccounts.size, 0)
    } finally {
      await fake.close()
    }
  })

  it('user-data of every node carries no private key', () => {
    for (const n of r.cluster.nodes) {
      const x = r.node(n.name)
      assert.doesNotMatch(x.userData, /PRIVATE KEY/, n.name)
      if (n.role === 'control-plane') assert.match(x.userData, /SECRET_BACKEND=gcp-secret-manager/)
    }
  })

  const missing = ['curl', 'openssl', 'sha256sum', 'tar', 'base64'].filter((t) => !findTool(t))
  describe('the node fetch step', {skip: missing.length > 0 && !process.env.CI ? `${missing.join(', ')} missing` : false}, () => {
    let fake: FakeGcp
    let caFile: string
    before(async () => {
      if (missing.length > 0) throw new Error(`${missing.join(', ')} required under CI=true`)
      ca = makeTestCa(['127.0.0.1'])
      caFile = writeCa(ca.dir, ca.caCert)
      fake = await new FakeGcp(PROJECT, {cert: ca.serverCert, key: ca.serverKey}).start()
    })
    after(async () => {
      await fake?.close()
    })

    async function launch(node: string) {
      const x = r.node(node, {serviceUrl: fake.httpsUrl, metadataUrl: fake.metadataUrl})
      assert.ok(x.bundle)
      const p = await prepareGcpSecrets(clients(fake), PROJECT, r.cluster.name, [x.bundle])
      return {...x, email: p.perNode[node]?.serviceAccountEmail as string}
    }

    it('reads its bundle with the instance service account, checks it, destroys the version, installs the files 0600', async () => {
      const x = await launch('gcp-cp-1')
      fake.instanceAccount = x.email
      fake.calls.length = 0
      const res = await runFetch(x.plan, path.join(tmp, 'ok'), caFile)
      assert.equal(res.code, 0, res.output)
      for (const f of x.full.files.filter((f) => f.secret)) {
        const p = path.join(res.root, f.path)
        assert.equal(readFileSync(p, 'utf8'), f.content, f.path)
        assert.equal(modeOf(p), 0o600, f.path)
      }
      const s = fake.secrets.get('nodegen_gcp-demo_gcp-cp-1_0')
      assert.equal(s?.versions[0]?.state, 'DESTROYED')
      assert.deepEqual(
        fake.calls.filter((c) => c.principal === x.email).map((c) => `${c.action} ${c.target}`),
        ['access nodegen_gcp-demo_gcp-cp-1_0/versions/latest', 'destroy nodegen_gcp-demo_gcp-cp-1_0/versions/1'],
      )
      assert.ok(!existsSync(path.join(res.root, 'var/lib/nodegen/secrets-stage')))
      assert.doesNotMatch(res.output, /PRIVATE KEY|ya29\./)
    })

    it('fails closed on a bundle that does not match the digest', async () => {
      const x = await launch('gcp-cp-2')
      fake.instanceAccount = x.email
      fake.corruptValue = Buffer.from('something else').toString('base64')
      try {
        const res = await runFetch(x.plan, path.join(tmp, 'digest'), caFile)
        assert.notEqual(res.code, 0)
        assert.match(res.output, /failed at secrets: the secret bundle's sha256/)
        assert.ok(!existsSync(path.join(res.root, 'etc/kubernetes/pki/ca.key')))
        assert.equal(fake.secrets.get('nodegen_gcp-demo_gcp-cp-2_0')?.versions[0]?.state, 'ENABLED', 'not destroyed')
      } finally {
        fake.corruptValue = undefined
      }
    })

    it('fails closed when the version cannot be destroyed', async () => {
      const x = await launch('gcp-cp-2')
      fake.instanceAccount = x.email
      fake.refuseDestroy = true
      try {
        const res = await runFetch(x.plan, path.join(tmp, 'nodestroy'), caFile)
        assert.notEqual(res.code, 0)
        assert.match(res.output, /cannot delete secret projects\/my-project\/secrets\/nodegen_gcp-demo_gcp-cp-2_0\/versions\/1/)
        assert.ok(!existsSync(path.join(res.root, 'etc/kubernetes/pki/ca.key')))
        assert.ok(!existsSync(path.join(res.root, 'var/lib/nodegen/secrets-stage')))
      } finally {
        fake.refuseDestroy = false
      }
    })

    it("cannot read another control plane's secret with its own service account", async () => {
      const x = await launch('gcp-cp-3')
      fake.instanceAccount = gcpServiceAccountEmail(PROJECT, 'gcp-demo', 'gcp-cp-2')
      const res = await runFetch(x.plan, path.join(tmp, 'other'), caFile)
      assert.notEqual(res.code, 0)
      assert.match(res.output, /accessing secret nodegen_gcp-demo_gcp-cp-3_0: HTTP 403/)
    })

    it('fails closed when the metadata server is unreachable or gives no token', async () => {
      const x = await launch('gcp-cp-3')
      fake.instanceAccount = undefined
      const res = await runFetch(x.plan, path.join(tmp, 'nometa'), caFile)
      assert.notEqual(res.code, 0)
      assert.match(res.output, /cannot get an access token from the metadata server/)
      assert.ok(!existsSync(path.join(res.root, 'etc/kubernetes/pki/ca.key')))
    })
  })
})
