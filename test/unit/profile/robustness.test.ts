import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {stringify} from 'yaml'
import {loadProfile} from '../../../src/profile/index.js'
import {profileText} from '../../support/profiles.js'

const SEED = Number(process.env.NODEGEN_FUZZ_SEED ?? 20261122)

function mustReport(input: string | Uint8Array): void {
  let r: ReturnType<typeof loadProfile>
  try {
    r = loadProfile(input, 'fuzz.yaml')
  } catch (e) {
    assert.fail(`loadProfile threw ${(e as Error).stack}`)
  }
  if (!r.cluster) {
    assert.ok(
      r.diagnostics.some((d) => d.severity === 'error'),
      'an invalid profile must carry at least one error',
    )
    for (const d of r.diagnostics) {
      assert.match(d.code, /^NG\d{4}$/)
      assert.ok(d.position && d.position.line >= 1 && d.position.col >= 1)
    }
  }
}

describe('the loader never throws, whatever it is fed', () => {
  it('random text and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({unit: 'binary'}), fc.uint8Array({maxLength: 2000})), (x) => mustReport(x)),
      {seed: SEED, numRuns: 400},
    )
  })

  it('random JSON-like documents', () => {
    fc.assert(
      fc.property(fc.jsonValue({maxDepth: 6}), (v) => mustReport(stringify(v))),
      {seed: SEED, numRuns: 300},
    )
  })

  it('the quickstart with random values spliced into random fields', () => {
    const base = profileText('quickstart.yaml')
    const lines = base.split('\n')
    fc.assert(
      fc.property(
        fc.nat(lines.length - 1),
        fc.oneof(
          fc.string(),
          fc.integer().map(String),
          fc.constantFrom('[]', '{}', 'null', '~', '&a x', '*a', '!!binary AAA', '"\\u0000"'),
        ),
        (i, v) => {
          const copy = [...lines]
          const line = copy[i] ?? ''
          const colon = line.indexOf(': ')
          copy[i] = colon > 0 ? `${line.slice(0, colon + 2)}${v}` : `${line}${v}`
          mustReport(copy.join('\n'))
        },
      ),
      {seed: SEED, numRuns: 400},
    )
  })

  it('the quickstart with keys deleted', () => {
    const base = profileText('quickstart.yaml').split('\n')
    fc.assert(
      fc.property(fc.nat(base.length - 1), (i) => mustReport(base.filter((_, j) => j !== i).join('\n'))),
      {seed: SEED, numRuns: 100},
    )
  })

  it('refuses a billion-laughs alias bomb quickly', () => {
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
    const r = loadProfile(bomb, 'bomb.yaml')
    assert.ok(
      r.diagnostics.some((d) => d.code === 'NG0005' || d.code === 'NG0010'),
      JSON.stringify(r.diagnostics),
    )
  })

  it('refuses deep nesting without overflowing the stack', () => {
    mustReport(`${'['.repeat(50000)}${']'.repeat(50000)}`)
    mustReport(`${'a:\n'.split('').join('')}${Array.from({length: 5000}, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')}`)
    const r = loadProfile(`${'['.repeat(200)}${']'.repeat(200)}`, 'deep.yaml')
    assert.ok(r.diagnostics.some((d) => d.code === 'NG0006'))
  })

  it('refuses huge files and binary', () => {
    const huge = Buffer.alloc(9 * 1024 * 1024, 0x61)
    assert.equal(loadProfile(huge, 'huge.yaml').diagnostics[0]?.code, 'NG0002')
    assert.equal(loadProfile(Buffer.from([0x61, 0x3a, 0x00, 0x01]), 'bin.yaml').diagnostics[0]?.code, 'NG0003')
  })

  it('refuses several documents and an empty file', () => {
    assert.equal(loadProfile('a: 1\n---\nb: 2\n', 'two.yaml').diagnostics[0]?.code, 'NG0007')
    assert.equal(loadProfile('', 'empty.yaml').diagnostics[0]?.code, 'NG0008')
    assert.equal(loadProfile('# only a comment\n', 'empty.yaml').diagnostics[0]?.code, 'NG0008')
  })

  it('reports duplicate keys as a YAML error at their position', () => {
    const r = loadProfile('apiVersion: x\napiVersion: y\n', 'dup.yaml')
    const d = r.diagnostics.find((x) => x.code === 'NG0004')
    assert.ok(d)
    assert.equal(d.position?.line, 2)
  })
})
