/**
 * Encryption at rest covers every secret file of the state, with a modern KDF, a minimum
 * passphrase length, and a command that encrypts (or re-keys) an existing state.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {
  encryptState,
  loadOrCreateCalendar,
  loadOrCreateServeKey,
  loadOrCreateState,
  loadState,
  MIN_PASSPHRASE_LENGTH,
  type PkiError,
  readStateInfo,
} from '../../../src/pki/index.js'
import {nodegen} from '../../support/cli.js'
import {fixtureCluster, fixturePkiContext} from '../../support/pki-fixture.js'
import {REPO_ROOT} from '../../support/profiles.js'

const PASS = 'correct horse battery'
const NEW = 'another long passphrase'

/** Every file of a state as text, for grepping secrets. */
function allText(dir: string): string {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(readFileSync(p, 'utf8'))
    }
  }
  walk(dir)
  return out.join('\n')
}

describe('state encryption', () => {
  const cluster = fixtureCluster('quickstart')

  it('encrypts every secret file: keys, tokens.json, calendar.json and serve-key, with scrypt N=2^17', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'ng-enc-')), 'state')
    try {
      const ctx = fixturePkiContext({passphrase: PASS})
      const {secrets} = await loadOrCreateState(dir, cluster, ctx)
      const cal = await loadOrCreateCalendar(dir, ctx)
      const sk = await loadOrCreateServeKey(dir, ctx)
      const text = allText(dir)
      assert.ok(!text.includes(secrets.bootstrapToken.tokenSecret), 'a token secret is in the clear')
      assert.ok(!text.includes(cal.secret), 'the calendar secret is in the clear')
      assert.ok(!text.includes(sk), 'the serve key is in the clear')
      assert.doesNotMatch(text, /BEGIN (RSA |EC )?PRIVATE KEY/)
      const info = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8'))
      assert.equal(info.kdf.name, 'scrypt')
      assert.equal(info.kdf.N, 2 ** 17)
      assert.equal(info.kdf.r, 8)
      assert.equal(info.kdf.p, 1)
      for (const f of ['calendar.json', 'serve-key', 'tokens.json']) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600)
      // and it all reads back
      const again = await loadState(dir, cluster, {passphrase: PASS})
      assert.equal(again.bootstrapToken.token, secrets.bootstrapToken.token)
      assert.equal((await loadOrCreateCalendar(dir, ctx)).secret, cal.secret)
      assert.equal(await loadOrCreateServeKey(dir, ctx), sk)
      await assert.rejects(loadState(dir, cluster, {passphrase: 'wrong passphrase!'}), (e: PkiError) => e.code === 'NG0906')
      await assert.rejects(loadOrCreateCalendar(dir, {...ctx, passphrase: undefined} as never), (e: PkiError) => e.code === 'NG0905')
    } finally {
      rmSync(path.dirname(dir), {recursive: true, force: true})
    }
  })

  it(`refuses a passphrase shorter than ${MIN_PASSPHRASE_LENGTH} characters for a new state`, async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'ng-enc-')), 'state')
    try {
      await assert.rejects(loadOrCreateState(dir, cluster, fixturePkiContext({passphrase: 'x'})), (e: PkiError) => e.code === 'NG0913')
    } finally {
      rmSync(path.dirname(dir), {recursive: true, force: true})
    }
  })

  it('encrypts an existing plaintext state, then re-keys it; a passphrase on a plaintext state is not silently ignored', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'ng-enc-')), 'state')
    try {
      const plain = fixturePkiContext()
      const {secrets} = await loadOrCreateState(dir, cluster, plain)
      const cal = await loadOrCreateCalendar(dir, plain)
      const sk = await loadOrCreateServeKey(dir, plain)
      const r = await loadOrCreateState(dir, cluster, fixturePkiContext({passphrase: PASS}))
      assert.ok(
        r.warnings.some((w) => /pki encrypt/.test(w)),
        r.warnings.join('\n'),
      )
      await assert.rejects(encryptState(dir, cluster, {newPassphrase: 'short'}), (e: PkiError) => e.code === 'NG0913')
      await encryptState(dir, cluster, {newPassphrase: PASS})
      assert.equal((await readStateInfo(dir, cluster)).encrypted, true)
      let text = allText(dir)
      assert.ok(!text.includes(cal.secret) && !text.includes(sk) && !text.includes(secrets.bootstrapToken.tokenSecret))
      assert.doesNotMatch(text, /BEGIN (RSA |EC )?PRIVATE KEY/)
      await assert.rejects(loadState(dir, cluster, {}), (e: PkiError) => e.code === 'NG0905')
      assert.equal((await loadState(dir, cluster, {passphrase: PASS})).cas.ca.key, secrets.cas.ca.key)
      // re-key
      await assert.rejects(
        encryptState(dir, cluster, {passphrase: 'not the passphrase', newPassphrase: NEW}),
        (e: PkiError) => e.code === 'NG0906',
      )
      await encryptState(dir, cluster, {passphrase: PASS, newPassphrase: NEW})
      await assert.rejects(loadState(dir, cluster, {passphrase: PASS}), (e: PkiError) => e.code === 'NG0906')
      const s = await loadState(dir, cluster, {passphrase: NEW})
      assert.equal(s.cas.ca.key, secrets.cas.ca.key)
      assert.equal((await loadOrCreateCalendar(dir, {...plain, passphrase: NEW})).secret, cal.secret)
      assert.equal(await loadOrCreateServeKey(dir, {...plain, passphrase: NEW}), sk)
      text = allText(dir)
      assert.ok(!text.includes(cal.secret))
    } finally {
      rmSync(path.dirname(dir), {recursive: true, force: true})
    }
  })

  it('nodegen pki encrypt takes the passphrases from the environment, never from arguments', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-enc-cli-'))
    try {
      const profile = path.join(REPO_ROOT, 'profiles/quickstart.yaml')
      const st = path.join(tmp, 'state')
      assert.equal(nodegen(['pki', 'init', profile, '--state', st], {NODEGEN_PKI_PASSPHRASE: ''}).status, 0)
      const short = nodegen(['pki', 'encrypt', profile, '--state', st], {NODEGEN_PKI_NEW_PASSPHRASE: 'short'})
      assert.notEqual(short.status, 0)
      assert.match(short.stderr, /NG0913/)
      const ok = nodegen(['pki', 'encrypt', profile, '--state', st], {NODEGEN_PKI_PASSPHRASE: '', NODEGEN_PKI_NEW_PASSPHRASE: PASS})
      assert.equal(ok.status, 0, ok.stderr)
      assert.ok(!(ok.stdout + ok.stderr).includes(PASS))
      const rekey = nodegen(['pki', 'encrypt', profile, '--state', st, '--rekey'], {
        NODEGEN_PKI_PASSPHRASE: PASS,
        NODEGEN_PKI_NEW_PASSPHRASE: NEW,
      })
      assert.equal(rekey.status, 0, rekey.stderr)
      const show = nodegen(['pki', 'init', profile, '--state', st], {NODEGEN_PKI_PASSPHRASE: NEW})
      assert.equal(show.status, 0, show.stderr)
    } finally {
      rmSync(tmp, {recursive: true, force: true})
    }
  })
})
