/** The state dir adapter on a real file system: creation, reuse, refusals, damage, encryption, tokens. */
import assert from 'node:assert/strict'
import {createPrivateKey, X509Certificate} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {type KdfParams, openStateKey} from '../../../src/pki/encryption.js'
import {
  createToken,
  inventoryState,
  listStateFiles,
  loadOrCreateState,
  loadState,
  PkiError,
  readStateInfo,
  secretFilesForNode,
  TOKEN_PATTERN,
} from '../../../src/pki/index.js'
import {parseKubeconfigCredentials} from '../../../src/pki/kubeconfig.js'
import {copyFixtureState, FIXTURE_NOW, fixtureCluster, fixturePkiContext, fixtureStateDir} from '../../support/pki-fixture.js'
import {requireTool, run} from '../../support/tools.js'

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PkiError, `expected a PkiError, got ${(e as Error)?.stack}`)
    assert.equal(e.code, code)
    if (message) assert.match(e.message, message)
    return true
  })
}

describe('the state dir', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-state-'))
  after(() => rmSync(tmp, {recursive: true, force: true}))
  const quickstart = fixtureCluster('quickstart')
  const external = fixtureCluster('ha-external-etcd')

  it('is created once and then reused, with the same secrets', async () => {
    const dir = path.join(tmp, 'once', '.nodegen', 'quickstart')
    const first = await loadOrCreateState(dir, quickstart, fixturePkiContext())
    assert.equal(first.created, true)
    assert.equal(statSync(path.dirname(dir)).mode & 0o777, 0o700, 'the .nodegen parent it created is private too')
    const second = await loadOrCreateState(dir, quickstart, fixturePkiContext({seed: 'another'}))
    assert.equal(second.created, false)
    assert.deepEqual(second.secrets, first.secrets)
    assert.deepEqual(await loadState(dir, quickstart, {}), first.secrets)
    assert.equal(first.secrets.created, FIXTURE_NOW.toISOString())
    assert.match(first.secrets.bootstrapToken.token, TOKEN_PATTERN)
  })

  it('is created by exactly one of two concurrent callers', async () => {
    const dir = path.join(tmp, 'race')
    const [a, b] = await Promise.all([
      loadOrCreateState(dir, quickstart, fixturePkiContext({seed: 'a'})),
      loadOrCreateState(dir, quickstart, fixturePkiContext({seed: 'b'})),
    ])
    assert.equal(Number(a.created) + Number(b.created), 1)
    assert.deepEqual(a.secrets, b.secrets)
  })

  it('may be created in an empty directory but never in one holding anything else', async () => {
    const empty = path.join(tmp, 'empty')
    mkdirSync(empty)
    assert.equal((await loadOrCreateState(empty, quickstart, fixturePkiContext())).created, true)
    assert.equal(statSync(empty).mode & 0o777, 0o700)
    const foreign = path.join(tmp, 'foreign')
    mkdirSync(foreign)
    writeFileSync(path.join(foreign, 'notes.txt'), 'mine')
    await rejectsWith(loadOrCreateState(foreign, quickstart, fixturePkiContext()), 'NG0903')
    assert.deepEqual(await listStateFiles(foreign), ['notes.txt'])
  })

  it('refuses another cluster name and another topology', async () => {
    const dir = copyFixtureState('quickstart', path.join(tmp, 'refuse'))
    const other = {...quickstart, name: 'other'}
    await rejectsWith(loadOrCreateState(dir, other, fixturePkiContext()), 'NG0902', /belongs to cluster "quickstart", not "other"/)
    await rejectsWith(loadState(dir, other, {}), 'NG0902')
    await rejectsWith(inventoryState(dir, other), 'NG0902')
    await rejectsWith(createToken(dir, other, fixturePkiContext(), {ttlSeconds: 60}), 'NG0902')
    await rejectsWith(loadOrCreateState(dir, {...quickstart, topology: 'external'}, fixturePkiContext()), 'NG0908')
  })

  it('says what is damaged rather than using a broken state', async () => {
    const missing = copyFixtureState('ha-external-etcd', path.join(tmp, 'damaged-missing'))
    unlinkSync(path.join(missing, 'pki', 'etcd', 'etcd-02', 'peer.key'))
    await rejectsWith(loadState(missing, external, {}), 'NG0904', /pki\/etcd\/etcd-02\/peer\.key is missing/)

    const swapped = copyFixtureState('ha-external-etcd', path.join(tmp, 'damaged-swapped'))
    writeFileSync(path.join(swapped, 'pki', 'front-proxy-ca.key'), readFileSync(path.join(swapped, 'pki', 'ca.key')))
    await rejectsWith(loadState(swapped, external, {}), 'NG0904', /front-proxy-ca\.key does not belong/)

    const foreignLeaf = copyFixtureState('ha-external-etcd', path.join(tmp, 'damaged-leaf'))
    const qs = fixtureStateDir('quickstart')
    for (const ext of ['crt', 'key'])
      writeFileSync(path.join(foreignLeaf, 'pki', `apiserver-etcd-client.${ext}`), readFileSync(path.join(qs, 'pki', 'etcd', `ca.${ext}`)))
    await rejectsWith(loadState(foreignLeaf, external, {}), 'NG0904', /apiserver-etcd-client\.crt is not signed by its CA/)

    const badJson = copyFixtureState('quickstart', path.join(tmp, 'damaged-json'))
    writeFileSync(path.join(badJson, 'state.json'), '{')
    await rejectsWith(loadState(badJson, quickstart, {}), 'NG0904', /state\.json is not JSON/)

    const future = copyFixtureState('quickstart', path.join(tmp, 'future'))
    const info = JSON.parse(readFileSync(path.join(future, 'state.json'), 'utf8'))
    writeFileSync(path.join(future, 'state.json'), JSON.stringify({...info, schemaVersion: 2}))
    await rejectsWith(loadState(future, quickstart, {}), 'NG0907')
  })

  it('loadState wants every etcd member of the profile; loadOrCreateState adds the missing ones', async () => {
    const dir = copyFixtureState('ha-external-etcd', path.join(tmp, 'grow'))
    const template = external.nodes.find((n) => n.role === 'etcd')!
    const grown = {...external, nodes: [...external.nodes, {...template, name: 'etcd-04', ip: '10.0.1.24'}]}
    await rejectsWith(
      loadState(dir, grown, {}, 'grown.yaml'),
      'NG0911',
      /no certificates for etcd member etcd-04: run `nodegen pki init grown\.yaml`/,
    )
    const r = await loadOrCreateState(dir, grown, fixturePkiContext())
    assert.deepEqual(r.added, [
      'pki/etcd/etcd-04/peer.crt',
      'pki/etcd/etcd-04/peer.key',
      'pki/etcd/etcd-04/server.crt',
      'pki/etcd/etcd-04/server.key',
    ])
    const cert = new X509Certificate(r.secrets.etcdMembers['etcd-04']!.server.cert)
    assert.ok(cert.checkIP('10.0.1.24') && cert.checkHost('etcd-04'))
    assert.ok(cert.verify(new X509Certificate(r.secrets.cas['etcd-ca'].cert).publicKey))
    const node = grown.nodes.find((n) => n.name === 'etcd-04')!
    assert.equal(secretFilesForNode(grown, node, r.secrets).length, 7)
  })

  it('warns when the profile moved an etcd member to another address (certificates are never replaced)', async () => {
    const dir = copyFixtureState('ha-external-etcd', path.join(tmp, 'moved'))
    const moved = {...external, nodes: external.nodes.map((n) => (n.name === 'etcd-01' ? {...n, ip: '10.0.1.99'} : n))}
    const r = await loadOrCreateState(dir, moved, fixturePkiContext())
    assert.deepEqual(r.added, [])
    assert.match(
      r.warnings.join('\n'),
      /etcd member etcd-01: pki\/etcd\/etcd-01\/server\.crt was issued without its current IP 10\.0\.1\.99/,
    )
    const ecdsa = await loadOrCreateState(dir, {...external, pki: {...external.pki, keyAlgorithm: 'ECDSA-P256'}}, fixturePkiContext())
    assert.match(ecdsa.warnings.join('\n'), /the profile asks for ECDSA-P256 keys; this state's are RSA-2048/)
  })

  it('encrypts private keys at rest and decrypts them in memory', async (t) => {
    const dir = path.join(tmp, 'encrypted')
    const made = await loadOrCreateState(dir, external, fixturePkiContext({passphrase: 'pass phrase long'}))
    assert.equal(made.secrets.encrypted, true)
    const keys = (await listStateFiles(dir)).filter((f) => f.endsWith('.key'))
    assert.equal(keys.length, 12)
    for (const f of keys) assert.match(readFileSync(path.join(dir, f), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/)
    const adminOnDisk = parseKubeconfigCredentials(readFileSync(path.join(dir, 'admin.conf'), 'utf8'))
    assert.match(adminOnDisk.clientKey ?? '', /ENCRYPTED PRIVATE KEY/)

    // In memory: kubeadm's clear formats, matching the certificates.
    const s = await loadState(dir, external, {passphrase: 'pass phrase long'})
    assert.match(s.cas.ca.key, /^-----BEGIN RSA PRIVATE KEY-----/)
    assert.ok(new X509Certificate(s.cas.ca.cert).checkPrivateKey(createPrivateKey(s.cas.ca.key)))
    const admin = parseKubeconfigCredentials(s.adminConf)
    assert.match(admin.clientKey ?? '', /^-----BEGIN RSA PRIVATE KEY-----/)
    assert.doesNotMatch(s.adminConf, /^#/m)
    assert.deepEqual(s, made.secrets)

    await rejectsWith(loadState(dir, external, {}), 'NG0905')
    await rejectsWith(loadState(dir, external, {passphrase: 'wrong'}), 'NG0906', /\(state\.json\)/)
    // Reading public material needs no passphrase.
    assert.equal((await inventoryState(dir, external)).info.encrypted, true)

    const openssl = requireTool(t, 'openssl')
    // OpenSSL reads the keys with the state key (scrypt of the passphrase) as the PKCS#8 passphrase.
    const info = await readStateInfo(dir, external)
    const stateKey = openStateKey('pass phrase long', info.kdf as KdfParams)?.pemPassphrase as string
    assert.equal(
      run(openssl, ['pkey', '-in', path.join(dir, 'pki/etcd/ca.key'), '-passin', 'stdin', '-noout'], {input: stateKey}).status,
      0,
    )
    assert.notEqual(
      run(openssl, ['pkey', '-in', path.join(dir, 'pki/etcd/ca.key'), '-passin', 'pass:wrong', '-noout'], {allowFail: true}).status,
      0,
    )
  })

  it('appends tokens atomically, keeping fields it does not know (the token calendar will add some)', async () => {
    const dir = copyFixtureState('quickstart', path.join(tmp, 'tokens'))
    const file = path.join(dir, 'tokens.json')
    const original = JSON.parse(readFileSync(file, 'utf8'))
    writeFileSync(file, JSON.stringify({...original, calendar: {windowSeconds: 86400}}))
    const ctx = {now: new Date('2026-02-01T00:00:00Z'), randomBytes: fixturePkiContext({seed: 'tok'}).randomBytes}
    const tokens = await Promise.all([1, 2, 3].map((i) => createToken(dir, quickstart, ctx, {ttlSeconds: 3600 * i})))
    const after = JSON.parse(readFileSync(file, 'utf8'))
    assert.deepEqual(after.calendar, {windowSeconds: 86400})
    assert.equal(after.tokens.length, 4)
    assert.deepEqual(after.tokens[0], original.tokens[0])
    assert.equal(new Set(after.tokens.map((t: {tokenId: string}) => t.tokenId)).size, 4)
    assert.deepEqual(
      after.tokens
        .slice(1)
        .map((t: {tokenId: string}) => t.tokenId)
        .sort(),
      tokens.map((t) => t.tokenId).sort(),
    )
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const s = await loadState(dir, quickstart, {})
    assert.equal(s.bootstrapToken.tokenId, after.tokens[3].tokenId, 'the newest token is the current one')
    assert.equal(s.tokens[0]?.description, 'init token (kubeadm init)')
    const inv = await inventoryState(dir, quickstart)
    assert.ok(!JSON.stringify(inv).includes(after.tokens[1].tokenSecret))
  })
})
