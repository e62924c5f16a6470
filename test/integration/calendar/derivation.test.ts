/**
 * nodegen (TypeScript) and the control planes' timer (bash + openssl) must derive the same token
 * for every window, or a worker rendered for next month could never join.
 */
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {deriveWindowToken, TOKEN_PATTERN, windowOf} from '../../../src/pki/index.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

const SCRIPT = path.join(REPO_ROOT, 'assets/bootstrap/token-calendar.sh')

describe('token calendar derivation', () => {
  it('TypeScript and the shell timer agree for hundreds of windows and several secrets', (t) => {
    requireTool(t, 'openssl')
    const root = mkdtempSync(path.join(os.tmpdir(), 'ng-cal-'))
    try {
      mkdirSync(path.join(root, 'etc/nodegen'), {recursive: true})
      // One bash process derives many windows: source the script's derive() through a wrapper.
      for (const secret of [randomBytes(32).toString('hex'), '00'.repeat(32), 'ff'.repeat(32)]) {
        writeFileSync(path.join(root, 'etc/nodegen/calendar.env'), `CALENDAR_SECRET=${secret}\nWINDOW_SECONDS=86400\n`)
        const base = windowOf(Math.floor(Date.now() / 1000), 86400)
        const windows = [0, 1, 2, ...Array.from({length: 120}, (_, i) => base - 10 + i), 2 ** 31, 987654321]
        const script = windows.map((w) => `bash ${JSON.stringify(SCRIPT)} derive ${w}`).join('\n')
        const out = run('bash', ['-c', script], {env: {...process.env, NODEGEN_ROOT: root}})
          .stdout.trim()
          .split('\n')
        assert.equal(out.length, windows.length)
        windows.forEach((w, i) => {
          const ts = deriveWindowToken(secret, w, 86400)
          assert.match(ts.token, TOKEN_PATTERN)
          assert.equal(out[i], ts.token, `window ${w}`)
        })
      }
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })

  it('distinct windows and secrets give distinct tokens; a window maps to its start and end', () => {
    const a = deriveWindowToken('11'.repeat(32), 100, 3600)
    const b = deriveWindowToken('11'.repeat(32), 101, 3600)
    const c = deriveWindowToken('12'.repeat(32), 100, 3600)
    assert.notEqual(a.token, b.token)
    assert.notEqual(a.token, c.token)
    assert.equal(a.start, 360000)
    assert.equal(a.end, 363600)
    assert.equal(windowOf(363599, 3600), 100)
    assert.equal(windowOf(363600, 3600), 101)
  })
})
