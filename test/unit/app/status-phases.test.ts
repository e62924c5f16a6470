/**
 * `nodegen serve` refuses a status report whose phase it does not know (400), so every phase the
 * bootstrap program reports must be in STATUS_PHASES: a phase missing there means a node's reports
 * stop reaching the fleet table from that phase on.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {STATUS_PHASES} from '../../../src/app/serve.js'
import {REPO_ROOT} from '../../support/profiles.js'

describe('status phases', () => {
  it('serve knows every phase bootstrap.sh reports', () => {
    const script = readFileSync(path.join(REPO_ROOT, 'assets/bootstrap/bootstrap.sh'), 'utf8')
    const phases = [...script.matchAll(/^\s*run_phase ([a-z-]+) /gm)].map((m) => m[1] ?? '')
    const current = [...script.matchAll(/CURRENT_PHASE=([a-z-]+)/g)].map((m) => m[1] ?? '')
    assert.ok(phases.length >= 6, `run_phase calls found: ${phases.join(' ')}`)
    for (const phase of [...phases, ...current])
      assert.ok((STATUS_PHASES as readonly string[]).includes(phase), `serve refuses the phase ${phase}`)
  })
})
