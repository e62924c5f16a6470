/** `nodegen render` as users run it: the built CLI in a temporary directory. */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {builtCli, nodegen} from '../../support/cli.js'
import {PROFILES_DIR} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-cli-render-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(path.relative(dir, p), readFileSync(p).toString('base64'))
    }
  }
  walk(dir)
  return out
}

describe('nodegen render (built CLI)', () => {
  const state = path.join(tmp, 'state')
  const out = path.join(tmp, 'out')

  it('renders the bundled quickstart with no profile argument', () => {
    const r = nodegen(['render', '-o', out, '--state', state, '--media', 'none'])
    assert.equal(r.status, 0, r.stderr)
    for (const n of ['kube-alma-m-01', 'kube-alma-m-02', 'kube-alma-m-03', 'kube-alma-n-01', 'kube-alma-n-02']) {
      for (const f of ['user-data', 'meta-data', 'network-config']) assert.ok(existsSync(path.join(out, n, f)), `${n}/${f}`)
    }
    assert.equal(statSync(path.join(out, 'admin.conf')).mode & 0o777, 0o600)
    assert.equal(statSync(path.join(out, 'kube-alma-m-01', 'user-data')).mode & 0o777, 0o600)
    const cluster = JSON.parse(readFileSync(path.join(out, 'cluster.json'), 'utf8'))
    assert.equal(cluster.nodes.length, 5)
    assert.match(r.stdout + r.stderr, /created the cluster's PKI/)
  })

  it('a second render with the same state is byte-identical, and reuses the state', () => {
    const before = tree(out)
    const stateBefore = tree(state)
    const r = nodegen(['render', '-o', out, '--state', state, '--media', 'none'])
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(tree(out), before)
    assert.deepEqual(tree(state), stateBefore)
    assert.doesNotMatch(r.stdout + r.stderr, /created the cluster's PKI/)
  })

  it('--node renders one node; --json is a summary without secrets', () => {
    const one = path.join(tmp, 'one')
    const r = nodegen([
      'render',
      path.join(PROFILES_DIR, 'quickstart.yaml'),
      '-o',
      one,
      '--state',
      state,
      '--node',
      'kube-alma-n-01',
      '--json',
      '--media',
      'none',
    ])
    assert.equal(r.status, 0, r.stderr)
    const j = JSON.parse(r.stdout)
    assert.deepEqual(
      j.nodes.map((n: {name: string}) => n.name),
      ['kube-alma-n-01'],
    )
    assert.doesNotMatch(r.stdout, /PRIVATE KEY|BEGIN CERTIFICATE/)
    const tokens = JSON.parse(readFileSync(path.join(state, 'tokens.json'), 'utf8'))
    for (const t of tokens.tokens ?? tokens) assert.ok(!r.stdout.includes(t.tokenSecret ?? t.secret ?? '\0'), 'token secret in --json')
    assert.deepEqual(readdirSync(one).sort(), ['admin.conf', 'cluster.json', 'kube-alma-n-01'])
  })

  it('an unknown node and a broken profile are clear errors that change nothing', () => {
    const before = tree(out)
    const r = nodegen(['render', path.join(PROFILES_DIR, 'quickstart.yaml'), '-o', out, '--state', state, '--node', 'nope'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /no node named nope/)
    assert.deepEqual(tree(out), before)
    const bad = nodegen(['render', '/nonexistent.yaml', '-o', out])
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /NG0001/)
    assert.deepEqual(tree(out), before)
    assert.deepEqual(
      readdirSync(tmp).filter((e) => e.includes('.tmp-')),
      [],
    )
  })

  it('an output path that cannot be written is a clear error, not a stack trace', () => {
    const blocker = path.join(tmp, 'a-file')
    writeFileSync(blocker, 'x')
    const r = nodegen(['render', '-o', path.join(blocker, 'out'), '--state', state, '--media', 'none'])
    assert.equal(r.status, 1)
    const message = r.stderr.replace(/\s*\n\s*›\s*/g, ' ')
    assert.match(message, /cannot write the output to \S*a-file\/out: (EEXIST|ENOTDIR)/)
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/)
  })

  it('a render killed midway leaves the previous output whole', async () => {
    const before = tree(out)
    for (const delay of [150, 400, 700]) {
      const child = spawn(process.execPath, [builtCli(), 'render', '-o', out, '--state', state, '--media', 'none'], {stdio: 'ignore'})
      const closed = new Promise((r) => child.on('close', r))
      await new Promise((r) => setTimeout(r, delay))
      child.kill('SIGKILL')
      await closed
      assert.deepEqual(tree(out), before, `after a kill at ${delay} ms`)
    }
    // and the next render cleans up what the killed ones left
    assert.equal(nodegen(['render', '-o', out, '--state', state, '--media', 'none']).status, 0)
    assert.deepEqual(
      readdirSync(tmp).filter((e) => e.includes('.tmp-') || e.includes('.previous')),
      [],
    )
  })
})
