/**
 * Nodes run the bootstrap scripts as compactShell leaves them (no comments, no indentation), while
 * most tests run the commented originals under assets/. bash's own parse of each script
 * (`bash --pretty-print`, which drops comments and re-indents code) must be the same before and
 * after, so that what the tests prove holds for what the nodes run. Here-document bodies must be
 * identical to the byte; elsewhere only leading blanks inside multi-line strings may differ (the awk
 * programs).
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {compactShell} from '../../../src/plan/files.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-compact-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const HEREDOC = /(?<!<)<<(-?)[ \t]*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/g

/** bash's parse of a script, as lines: here-document bodies verbatim, other lines without leading blanks, blank lines dropped. */
function parsed(bash: string, name: string, text: string): string[] {
  const file = path.join(tmp, name)
  writeFileSync(file, text)
  const r = run(bash, ['--pretty-print', file])
  assert.equal(r.status ?? 0, 0, `${name}: ${r.stderr}`)
  const out: string[] = []
  const pending: string[] = []
  for (const line of r.stdout.split('\n')) {
    if (pending.length > 0) {
      out.push(line)
      if (line.replace(/^\t+/, '') === pending[0]) pending.shift()
      continue
    }
    if (line.trim() !== '') out.push(line.replace(/^[ \t]+/, ''))
    for (const m of line.matchAll(HEREDOC)) pending.push(m[3] ?? '')
  }
  return out
}

const SCRIPTS = ['assets/bootstrap', 'assets/image'].flatMap((dir) =>
  readdirSync(path.join(REPO_ROOT, dir), {recursive: true, encoding: 'utf8'})
    .filter((f) => f.endsWith('.sh'))
    .map((f) => `${dir}/${f}`),
)

describe('compactShell keeps what bash parses', () => {
  it('finds the scripts', () => assert.ok(SCRIPTS.length >= 10, SCRIPTS.join(' ')))

  for (const script of SCRIPTS)
    it(`${script}: the same parse before and after`, (t) => {
      const bash = requireTool(t, 'bash')
      const text = readFileSync(path.join(REPO_ROOT, script), 'utf8')
      const name = script.replaceAll('/', '_')
      assert.deepEqual(parsed(bash, `compact-${name}`, compactShell(text)), parsed(bash, `orig-${name}`, text))
    })

  it('keeps a here-document line for line, indentation and #-lines included', () => {
    const script = [
      'f() {',
      '  # a comment',
      '  cat <<EOF',
      'metadata:',
      '  name: x',
      '  # not a comment',
      'EOF',
      '  cat <<-"END"',
      '\t  kept',
      '\tEND',
      '  echo done',
      '}',
      '',
    ].join('\n')
    assert.equal(
      compactShell(script),
      [
        'f() {',
        'cat <<EOF',
        'metadata:',
        '  name: x',
        '  # not a comment',
        'EOF',
        'cat <<-"END"',
        '\t  kept',
        '\tEND',
        'echo done',
        '}',
        '',
      ].join('\n'),
    )
  })
})
