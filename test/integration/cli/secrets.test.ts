/**
 * The shipped AWS and GCP profiles through the built CLI: no `PRIVATE KEY` in anything render
 * writes or prints (user-data decoded from gzip/base64 first), the bundles' names and digests in
 * --json, and the inline backend refused unless --insecure-inline-secrets.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {gunzipSync} from 'node:zlib'
import {nodegen} from '../../support/cli.js'
import {PROFILES_DIR, profileText} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-cli-secrets-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

/** Every file under dir as text, user-data decoded the way the cloud's agent decodes it. */
function decodedTree(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else {
        let b = readFileSync(p)
        if (e.name === 'user-data' && /^[A-Za-z0-9+/=]+$/.test(b.toString('latin1'))) b = Buffer.from(b.toString('latin1'), 'base64')
        if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b)
        out.set(path.relative(dir, p), b.toString('utf8'))
      }
    }
  }
  walk(dir)
  return out
}

describe('secret backends through the CLI', () => {
  for (const name of ['aws', 'gcp']) {
    it(`render ${name}.yaml: no PRIVATE KEY in the output or on the terminal; --json lists each control plane's bundle`, () => {
      const out = path.join(tmp, `${name}-out`)
      const r = nodegen([
        'render',
        path.join(PROFILES_DIR, `${name}.yaml`),
        '-o',
        out,
        '--state',
        path.join(tmp, `${name}-state`),
        '--json',
      ])
      assert.equal(r.status, 0, r.stderr)
      assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/)
      const files = decodedTree(out)
      assert.ok(files.size >= 10)
      for (const [f, text] of files) assert.doesNotMatch(text, /PRIVATE KEY/, f)
      // The render really did produce keys: they are in the state, not in the output.
      assert.match(readFileSync(path.join(tmp, `${name}-state`, 'pki', 'ca.key'), 'utf8'), /PRIVATE KEY/)
      const result = JSON.parse(r.stdout).result ?? JSON.parse(r.stdout)
      const cps = result.nodes.filter((n: {role: string}) => n.role === 'control-plane')
      assert.equal(cps.length, 3)
      for (const n of cps) {
        assert.match(n.secretBundle.sha256, /^[0-9a-f]{64}$/)
        assert.ok(n.secretBundle.files.includes('/etc/kubernetes/pki/ca.key'))
        const ud = files.get(`${n.name}/user-data`) ?? ''
        assert.ok(ud.includes(`SECRET_BUNDLE_SHA256=${n.secretBundle.sha256}`), `${n.name} user-data carries the digest`)
      }
      for (const n of result.nodes.filter((x: {role: string}) => x.role === 'worker')) assert.equal(n.secretBundle, undefined)
    })
  }

  it('refuses secretBackend inline on aws unless --insecure-inline-secrets, then warns', () => {
    const p = path.join(tmp, 'aws-inline.yaml')
    writeFileSync(p, profileText('aws.yaml').replace('secretBackend: aws-secrets-manager', 'secretBackend: inline'))
    const refused = nodegen(['render', p, '-o', path.join(tmp, 'inline-out'), '--state', path.join(tmp, 'inline-state')])
    assert.equal(refused.status, 1)
    assert.match(refused.stderr, /aws-inline\.yaml:\d+:\d+: error NG0427 spec\.platform\.aws\.secretBackend: .*--insecure-inline-secrets/)
    const v = nodegen(['validate', p])
    assert.equal(v.status, 1)
    const ok = nodegen([
      'render',
      p,
      '-o',
      path.join(tmp, 'inline-out'),
      '--state',
      path.join(tmp, 'inline-state'),
      '--insecure-inline-secrets',
    ])
    assert.equal(ok.status, 0, ok.stderr)
    assert.match(ok.stderr, /warning NG0428 spec\.platform\.aws\.secretBackend: .*IMDSv2 with hop limit 1/)
    assert.equal(nodegen(['validate', p, '--insecure-inline-secrets']).status, 0)
  })

  it('the human output names each bundle and its digest, never its contents', () => {
    const r = nodegen([
      'render',
      path.join(PROFILES_DIR, 'aws.yaml'),
      '-o',
      path.join(tmp, 'human'),
      '--state',
      path.join(tmp, 'aws-state'),
    ])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /secrets: \d+ files in aws-secrets-manager nodegen\/aws-demo\/aws-cp-1\/0 \(sha256 [0-9a-f]{12}…\)/)
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/)
  })
})
