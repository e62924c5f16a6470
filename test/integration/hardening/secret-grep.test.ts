/**
 * No command prints a secret: every output (stdout and stderr, human and --json) of every command
 * is searched for every secret in the state — each private key's base64 body lines, each token
 * secret, the token-calendar secret and the passphrase.
 */
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {isSealed, openStateKey} from '../../../src/pki/encryption.js'
import {nodegen} from '../../support/cli.js'
import {PROFILES_DIR} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-secrets-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e)
    return statSync(p).isDirectory() ? files(p) : [p]
  })
}

/** Every secret string in a state dir: key bodies (line by line), token secrets, the calendar secret. */
function secretsOf(state: string, passphrase?: string): string[] {
  const out = new Set<string>()
  // An encrypted state's sealed files are opened with its state key.
  const infoFile = path.join(state, 'state.json')
  const info = existsSync(infoFile) ? JSON.parse(readFileSync(infoFile, 'utf8')) : {}
  const key = passphrase && info.kdf ? openStateKey(passphrase, info.kdf) : undefined
  const open = (name: string, text: string) => (isSealed(text) && key ? (key.open(name, text) ?? text) : text)
  for (const f of files(state)) {
    let text = readFileSync(f, 'utf8')
    if (f.endsWith('tokens.json') && JSON.parse(text).sealed)
      text = JSON.stringify({tokens: JSON.parse(key?.open('tokens.json', JSON.parse(text).sealed) ?? '[]')})
    text = open(path.basename(f), text)
    for (const m of text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----\n([\s\S]*?)-----END/g))
      for (const line of (m[1] ?? '').split('\n')) if (line.length >= 32) out.add(line)
    if (f.endsWith('tokens.json')) for (const t of JSON.parse(text).tokens) out.add(t.tokenSecret)
    if (f.endsWith('calendar.json')) out.add(JSON.parse(text).secret)
    for (const m of text.matchAll(/client-key-data: (\S+)/g)) out.add((m[1] ?? '').slice(0, 64))
  }
  return [...out]
}

describe('secret hygiene', () => {
  it('no command output contains a secret of the state', () => {
    const profile = path.join(PROFILES_DIR, 'quickstart.yaml')
    const state = path.join(tmp, 'state')
    const env = {NODEGEN_PKI_PASSPHRASE: 'correct horse battery staple'}
    const runs = [
      ['pki', 'init', profile, '--state', state],
      ['pki', 'init', profile, '--state', state, '--json'],
      ['pki', 'show', profile, '--state', state],
      ['pki', 'show', profile, '--state', state, '--json'],
      ['pki', 'check-expiration', profile, '--state', state, '--json'],
      ['token', 'create', profile, '--state', state, '--json'],
      ['token', 'create', profile, '--state', state],
      ['validate', profile, '--json'],
      ['plan', profile, '--state', state],
      ['plan', profile, '--state', state, '--json'],
      ['render', profile, '-o', path.join(tmp, 'out'), '--state', state, '--media', 'none'],
      ['render', profile, '-o', path.join(tmp, 'out'), '--state', state, '--media', 'none', '--json'],
      ['token', 'rotate-calendar', profile, '--state', state, '--json'],
      ['render', profile, '-o', path.join(tmp, 'out'), '--state', path.join(tmp, 'nope', 'x')],
      ['pki', 'show', profile, '--state', state],
    ]
    const outputs: string[] = []
    for (const args of runs) {
      const r = nodegen(args, env)
      outputs.push(`$ nodegen ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
    }
    // a wrong passphrase: the error must not echo it
    const wrong = nodegen(['render', profile, '-o', path.join(tmp, 'out2'), '--state', state], {
      NODEGEN_PKI_PASSPHRASE: 'wrong passphrase 123',
    })
    assert.equal(wrong.status, 1)
    outputs.push(wrong.stdout + wrong.stderr)
    // the rendered seeds hold the decrypted keys: their bodies count as secrets too
    const secrets = [
      ...secretsOf(state, env.NODEGEN_PKI_PASSPHRASE),
      ...secretsOf(path.join(tmp, 'out')),
      env.NODEGEN_PKI_PASSPHRASE,
      'wrong passphrase 123',
    ]
    assert.ok(secrets.length > 10, `too few secrets found: ${secrets.length}`)
    const all = outputs.join('\n')
    for (const s of secrets) assert.ok(!all.includes(s), `a secret appears in command output: ${s.slice(0, 8)}…`)
    assert.doesNotMatch(all, /PRIVATE KEY-----\n/)
  })

  it('render, plan and launch dry runs of the cloud profiles print no secret of their states', () => {
    const outputs: string[] = []
    const secrets: string[] = []
    for (const [cloud, file] of [
      ['aws', 'aws.yaml'],
      ['gcp', 'gcp.yaml'],
    ] as const) {
      const profile = path.join(PROFILES_DIR, file)
      const state = path.join(tmp, `${cloud}-state`)
      const out = path.join(tmp, `${cloud}-out`)
      for (const args of [
        ['render', profile, '-o', out, '--state', state, '--media', 'none'],
        ['render', profile, '-o', out, '--state', state, '--media', 'none', '--json'],
        ['plan', profile, '--state', state, '--json'],
        ['launch', cloud, profile, '--state', state, '--dry-run'],
        ['launch', cloud, profile, '--state', state, '--dry-run', '--json'],
      ]) {
        const r = nodegen(args)
        outputs.push(`$ nodegen ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
      }
      secrets.push(...secretsOf(state))
    }
    assert.ok(secrets.length > 10, `too few secrets found: ${secrets.length}`)
    const all = outputs.join('\n')
    for (const s of secrets) assert.ok(!all.includes(s), `a secret appears in command output: ${s.slice(0, 8)}…`)
    assert.doesNotMatch(all, /PRIVATE KEY/)
  })
})
