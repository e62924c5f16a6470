/** The built CLI on a real state dir: idempotence, refusals, redaction, exit codes. */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {builtCli, nodegen} from '../../support/cli.js'
import {fixtureProfilePath} from '../../support/pki-fixture.js'
import {REPO_ROOT} from '../../support/profiles.js'

const QUICKSTART = path.join(REPO_ROOT, 'profiles', 'quickstart.yaml')

/** path → sha256 and mtime of every entry under dir. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (rel: string) => {
    const p = path.join(dir, rel)
    const st = statSync(p)
    if (st.isDirectory()) {
      out.set(`${rel}/`, `${st.mode.toString(8)} ${st.mtimeMs}`)
      for (const e of readdirSync(p).sort()) walk(rel ? `${rel}/${e}` : e)
    } else {
      out.set(rel, `${st.mode.toString(8)} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`)
    }
  }
  walk('')
  return out
}

/** stderr as one line: oclif wraps error messages at the terminal width behind ' ›   '. */
function err(r: {stderr: string}): string {
  return r.stderr.replace(/\n\s*›\s*/g, ' ').replace(/\s+/g, ' ')
}

function tokensOf(dir: string): Array<{tokenId: string; tokenSecret: string; token: string}> {
  return JSON.parse(readFileSync(path.join(dir, 'tokens.json'), 'utf8')).tokens
}

describe('nodegen pki / token commands', {timeout: 120_000}, () => {
  let tmp: string
  let state: string
  before(() => {
    builtCli()
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-pki-cli-'))
    state = path.join(tmp, 'state')
  })
  after(() => rmSync(tmp, {recursive: true, force: true}))

  it('pki init creates the state, and a second run changes nothing and says so', () => {
    const first = nodegen(['pki', 'init', QUICKSTART, '--state', state])
    assert.equal(first.status, 0, first.stderr)
    assert.match(first.stdout, /^Created the PKI of cluster quickstart in .*: 11 files, RSA-2048 keys, unencrypted\.$/m)
    const before = snapshot(state)
    const second = nodegen(['pki', 'init', QUICKSTART, '--state', state, '--json'])
    assert.equal(second.status, 0, second.stderr)
    const r = JSON.parse(second.stdout)
    assert.equal(r.created, false)
    assert.deepEqual(r.added, [])
    assert.equal(r.files.length, 11)
    assert.deepEqual(snapshot(state), before, 'every file and directory byte-identical, same mtimes and modes')
    const human = nodegen(['pki', 'init', QUICKSTART, '--state', state])
    assert.match(human.stdout, /already exists in .*: nothing changed\./)
    assert.deepEqual(snapshot(state), before)
  })

  it('gives every directory 0700 and every file 0600', () => {
    for (const [rel, v] of snapshot(state)) {
      const mode = Number.parseInt(v.split(' ')[0] as string, 8) & 0o777
      assert.equal(mode, rel.endsWith('/') ? 0o700 : 0o600, rel)
    }
  })

  it('refuses a state that belongs to another cluster, and changes nothing', () => {
    const other = path.join(tmp, 'other.yaml')
    writeFileSync(other, readFileSync(QUICKSTART, 'utf8').replace('name: quickstart', 'name: other'))
    const before = snapshot(state)
    for (const cmd of [
      ['pki', 'init'],
      ['pki', 'show'],
      ['token', 'create'],
    ]) {
      const r = nodegen([...cmd, other, '--state', state])
      assert.equal(r.status, 1, cmd.join(' '))
      assert.match(err(r), /Error: NG0902: the state in .* belongs to cluster "quickstart", not "other": refusing to use or change it/)
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    }
    assert.deepEqual(snapshot(state), before)
  })

  it('pki show lists the certificates and --json carries caCertHash but no private key or token secret', () => {
    const human = nodegen(['pki', 'show', QUICKSTART, '--state', state])
    assert.equal(human.status, 0, human.stderr)
    assert.match(human.stdout, /^FILE\s+SUBJECT\s+ISSUER\s+NOT AFTER\s+KEY\s+SANS$/m)
    assert.match(human.stdout, /^pki\/ca\.crt\s+CN=kubernetes\s+CN=kubernetes\s+\S+\s+RSA-2048\s+DNS:kubernetes$/m)
    assert.match(human.stdout, /^admin\.conf\s+O=kubeadm:cluster-admins, CN=kubernetes-admin\s+CN=kubernetes\s/m)
    const json = nodegen(['pki', 'show', QUICKSTART, '--state', state, '--json'])
    assert.equal(json.status, 0, json.stderr)
    const r = JSON.parse(json.stdout)
    const stateInfo = JSON.parse(readFileSync(path.join(state, 'state.json'), 'utf8'))
    assert.equal(r.caCertHash, stateInfo.caCertHash)
    assert.deepEqual(
      r.certificates.map((c: {file: string}) => c.file),
      ['pki/ca.crt', 'pki/front-proxy-ca.crt', 'pki/etcd/ca.crt', 'admin.conf'],
    )
    for (const out of [human.stdout, json.stdout]) {
      assert.doesNotMatch(out, /PRIVATE KEY/)
      for (const t of tokensOf(state)) assert.ok(!out.includes(t.tokenSecret), 'token secret printed')
    }
  })

  it('token create records a token, prints only its id, and the secret only with --print-secret', () => {
    const plain = nodegen(['token', 'create', QUICKSTART, '--state', state])
    assert.equal(plain.status, 0, plain.stderr)
    let tokens = tokensOf(state)
    assert.equal(tokens.length, 2)
    const t1 = tokens[1]!
    assert.equal(plain.stdout.trim(), t1.tokenId)
    assert.ok(!(plain.stdout + plain.stderr).includes(t1.tokenSecret))

    const json = nodegen(['token', 'create', QUICKSTART, '--state', state, '--ttl', '2h', '--json'])
    assert.equal(json.status, 0, json.stderr)
    tokens = tokensOf(state)
    const t2 = tokens[2]!
    const r = JSON.parse(json.stdout)
    assert.equal(r.tokenId, t2.tokenId)
    assert.equal(r.ttlSeconds, 7200)
    assert.equal(r.token, undefined)
    assert.ok(!json.stdout.includes(t2.tokenSecret))

    const secret = nodegen(['token', 'create', QUICKSTART, '--state', state, '--print-secret', '--json'])
    const t3 = tokensOf(state)[3]!
    assert.equal(JSON.parse(secret.stdout).token, t3.token)
    assert.equal(nodegen(['token', 'create', QUICKSTART, '--state', state, '--print-secret']).stdout.trim(), tokensOf(state)[4]!.token)

    const bad = nodegen(['token', 'create', QUICKSTART, '--state', state, '--ttl', 'soon'])
    assert.equal(bad.status, 2)
    assert.match(err(bad), /NG0910/)
  })

  it('pki check-expiration exits 0 outside the window and 1 inside it', () => {
    const ok = nodegen(['pki', 'check-expiration', QUICKSTART, '--state', state])
    assert.equal(ok.status, 0, ok.stderr)
    assert.match(ok.stdout, /^admin\.conf\s+admin\s+\S+\s+36[45]d\s+ok$/m)
    const hours = nodegen(['pki', 'check-expiration', QUICKSTART, '--state', state, '--within', '720h', '--json'])
    assert.equal(hours.status, 0)
    assert.equal(JSON.parse(hours.stdout).expiring, 0)
    const inside = nodegen(['pki', 'check-expiration', QUICKSTART, '--state', state, '--within', '400d'])
    assert.equal(inside.status, 1)
    assert.match(inside.stdout, /^admin\.conf\s+admin\s+\S+\s+36[45]d\s+expires within 400d$/m)
    const insideJson = nodegen(['pki', 'check-expiration', QUICKSTART, '--state', state, '--within', '3651d', '--json'])
    assert.equal(insideJson.status, 1)
    assert.equal(JSON.parse(insideJson.stdout).expiring, 4)
    const bad = nodegen(['pki', 'check-expiration', QUICKSTART, '--state', state, '--within', '30x'])
    assert.equal(bad.status, 2)
    assert.match(err(bad), /NG0910: 30x is not a duration/)
  })

  it('commands on a missing state say to run pki init', () => {
    const r = nodegen(['pki', 'show', QUICKSTART, '--state', path.join(tmp, 'nothing')])
    assert.equal(r.status, 1)
    assert.match(err(r), /Error: NG0901: no PKI state in .*: run `nodegen pki init .*quickstart.yaml` first/)
  })

  it('encrypts keys at rest with NODEGEN_PKI_PASSPHRASE, and a missing or wrong one is a clear error', () => {
    const enc = path.join(tmp, 'encrypted')
    const env = {NODEGEN_PKI_PASSPHRASE: 'correct horse'}
    const made = nodegen(['pki', 'init', QUICKSTART, '--state', enc], env)
    assert.equal(made.status, 0, made.stderr)
    assert.match(made.stdout, /RSA-2048 keys, encrypted\./)
    for (const f of ['pki/ca.key', 'pki/front-proxy-ca.key', 'pki/etcd/ca.key', 'pki/sa.key']) {
      assert.match(readFileSync(path.join(enc, f), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/)
    }
    const before = snapshot(enc)
    assert.equal(nodegen(['pki', 'init', QUICKSTART, '--state', enc], env).status, 0)
    const missing = nodegen(['pki', 'init', QUICKSTART, '--state', enc])
    assert.equal(missing.status, 1)
    assert.match(err(missing), /Error: NG0905: the private keys in .* are encrypted: set NODEGEN_PKI_PASSPHRASE/)
    const wrong = nodegen(['pki', 'init', QUICKSTART, '--state', enc], {NODEGEN_PKI_PASSPHRASE: 'wrong'})
    assert.equal(wrong.status, 1)
    assert.match(err(wrong), /Error: NG0906: NODEGEN_PKI_PASSPHRASE does not decrypt the private keys in .* \(state\.json\)/)
    for (const r of [missing, wrong]) assert.doesNotMatch(r.stderr, /\n\s+at |Error: error:/)
    // Reading only public material needs no passphrase.
    assert.equal(nodegen(['pki', 'show', QUICKSTART, '--state', enc]).status, 0)
    assert.deepEqual(snapshot(enc), before)
  })

  it('adds the certificates of an etcd member added to the profile, touching no existing file', () => {
    const ext = path.join(tmp, 'external')
    const profile = fixtureProfilePath('ha-external-etcd')
    assert.equal(nodegen(['pki', 'init', profile, '--state', ext]).status, 0)
    const before = snapshot(ext)
    const grown = path.join(tmp, 'grown.yaml')
    writeFileSync(
      grown,
      readFileSync(profile, 'utf8').replace(
        '    - {name: etcd-03, role: etcd, ip: 10.0.1.23/24}\n',
        '    - {name: etcd-03, role: etcd, ip: 10.0.1.23/24}\n    - {name: etcd-04, role: etcd, ip: 10.0.1.24/24}\n    - {name: etcd-05, role: etcd, ip: 10.0.1.25/24}\n',
      ),
    )
    const r = nodegen(['pki', 'init', grown, '--state', ext, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.created, false)
    assert.deepEqual(out.added, [
      'pki/etcd/etcd-04/peer.crt',
      'pki/etcd/etcd-04/peer.key',
      'pki/etcd/etcd-04/server.crt',
      'pki/etcd/etcd-04/server.key',
      'pki/etcd/etcd-05/peer.crt',
      'pki/etcd/etcd-05/peer.key',
      'pki/etcd/etcd-05/server.crt',
      'pki/etcd/etcd-05/server.key',
    ])
    const after = snapshot(ext)
    for (const [rel, v] of before) {
      if (rel === 'pki/etcd/' || rel === 'pki/' || rel === '/') continue // the parent directory of the new member dirs
      assert.equal(after.get(rel), v, rel)
    }
    // Back to the original profile: the extra members' certificates stay, with a warning.
    const back = nodegen(['pki', 'init', profile, '--state', ext, '--json'])
    assert.equal(back.status, 0)
    assert.match(JSON.parse(back.stdout).warnings.join('\n'), /etcd member etcd-04, which the profile no longer lists/)
  })
})
