import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {REPO_ROOT} from '../../support/profiles.js'

/** README.md and every page under docs/. */
function pages(): string[] {
  const docs = path.join(REPO_ROOT, 'docs')
  return [
    path.join(REPO_ROOT, 'README.md'),
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => path.join(docs, f)),
  ]
}

/** The Markdown without fenced code blocks and inline code, where brackets are not links. */
function prose(md: string): string {
  return md.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
}

/** Inline link and image targets, `[text](target)`. */
function links(md: string): string[] {
  return [...prose(md).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!)
}

/** GitHub's anchors for a page's headings: lowercased, punctuation dropped, spaces to "-". */
function anchors(md: string): Set<string> {
  const out = new Set<string>()
  const seen = new Map<string, number>()
  for (const m of md.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

describe('documentation links', () => {
  for (const page of pages()) {
    const rel = path.relative(REPO_ROOT, page)
    it(`${rel}: every relative link points at a file of the repository (and an existing heading)`, () => {
      const md = readFileSync(page, 'utf8')
      const broken: string[] = []
      for (const target of links(md)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:
        const [file = '', fragment] = target.split('#', 2)
        const resolved = file === '' ? page : path.resolve(path.dirname(page), decodeURIComponent(file))
        if (path.relative(REPO_ROOT, resolved).startsWith('..')) {
          broken.push(`${target}: outside the repository`)
          continue
        }
        if (!existsSync(resolved)) {
          broken.push(`${target}: no such file`)
          continue
        }
        if (fragment && resolved.endsWith('.md') && statSync(resolved).isFile()) {
          if (!anchors(readFileSync(resolved, 'utf8')).has(fragment)) broken.push(`${target}: no heading #${fragment}`)
        }
      }
      assert.deepEqual(broken, [])
    })
  }

  it('no page refers to ../shared, which users and CI clones do not have', () => {
    const offenders = pages().filter((p) => readFileSync(p, 'utf8').includes('../shared'))
    assert.deepEqual(
      offenders.map((p) => path.relative(REPO_ROOT, p)),
      [],
    )
  })

  it('finds links, skips code, and computes GitHub anchors', () => {
    assert.deepEqual(links('see [a](docs/a.md) and `[b](no.md)`, ![i](x.svg "t")\n```\n[c](no.md)\n```\n'), ['docs/a.md', 'x.svg'])
    assert.deepEqual(
      [...anchors('# Two commands\n## `failed at role`: kubeadm\n## Two commands\n')],
      ['two-commands', 'failed-at-role-kubeadm', 'two-commands-1'],
    )
  })
})
