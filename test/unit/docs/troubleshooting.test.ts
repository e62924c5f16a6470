/**
 * docs/troubleshooting.md explains every reason the bootstrap program can put after
 * `failed at <phase>:`. Each `die "…"` in assets/bootstrap/ (phases/ included) is reduced to its longest literal
 * part (the words between variable expansions), which the page must contain; a new failure reason
 * fails here until it is documented.
 */
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {REPO_ROOT} from '../../support/profiles.js'

const BOOTSTRAP_DIR = path.join(REPO_ROOT, 'assets', 'bootstrap')

/** The message of every `die "…"` call, as written in the script (expansions included). */
function dieMessages(script: string): string[] {
  const out: string[] = []
  for (const line of script.split('\n')) {
    if (/^\s*#/.test(line)) continue
    // Greedy to the line's last quote: messages hold quoted expansions like "$(json_field x "$out")".
    const m = /\bdie "(.*)"/.exec(line)
    if (m) out.push(m[1]!)
  }
  return out
}

/** The longest run of literal text between expansions ($VAR, ${…}, $(…)). */
function literalKey(message: string): string {
  const parts = message
    .split(/\$\([^()]*\)|\$\{[^}]*\}|\$[A-Za-z_0-9]+/)
    .map((p) => p.replace(/\\(.)/g, '$1').trim())
    .filter((p) => p.length > 0)
  return parts.reduce((a, b) => (b.length > a.length ? b : a), '')
}

describe('docs/troubleshooting.md', () => {
  const page = readFileSync(path.join(REPO_ROOT, 'docs', 'troubleshooting.md'), 'utf8')

  it('explains every failure reason of the bootstrap program', () => {
    // The programs and the phase files bootstrap.sh is made of (phases/, inlined at render).
    const scripts = readdirSync(BOOTSTRAP_DIR, {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.sh'))
    const missing: string[] = []
    let count = 0
    for (const f of scripts.sort()) {
      for (const msg of dieMessages(readFileSync(path.join(BOOTSTRAP_DIR, f), 'utf8'))) {
        count++
        const key = literalKey(msg)
        if (!page.includes(key)) missing.push(`${f}: ${msg} (looked for: ${key})`)
      }
    }
    assert.ok(count > 30, `found only ${count} die calls: the extraction is broken`)
    assert.deepEqual(missing, [])
  })

  it('has a section for every phase the program runs', () => {
    const script = readFileSync(path.join(BOOTSTRAP_DIR, 'bootstrap.sh'), 'utf8')
    const phases = [...script.matchAll(/^\s*run_phase (\w+) /gm)].map((m) => m[1]!)
    assert.deepEqual(phases, ['prepare', 'secrets', 'packages', 'firewall', 'images', 'role', 'cleanup'])
    for (const p of phases) assert.match(page, new RegExp(`^### \`failed at ${p}\`$`, 'm'))
  })

  it('reduces messages to their literal words', () => {
    assert.deepEqual(dieMessages('  [ -r "$f" ] || die "cannot read $f: $(tail -n 1 "$log")"\n# die "comment"\n'), [
      'cannot read $f: $(tail -n 1 "$log")',
    ])
    assert.equal(literalKey('the VIP interface $iface (spec.x) does not exist on $' + '{NODE}'), '(spec.x) does not exist on')
  })
})
