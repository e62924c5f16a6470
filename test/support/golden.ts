/**
 * Golden files: one comparison for every golden test, and the programs every node shares kept once.
 *
 * A rendered node carries nodegen's shell programs (bootstrap.sh and its phases) in full. Kept in
 * every node's golden file, one edit to a script would change every node's golden; instead each
 * program identical on every node that has it is written once, to `_programs/<name>`, and the
 * nodes' goldens name it and its SHA-256 in place of the content. The node goldens still show
 * everything that differs between nodes, and the program's golden shows the script a node runs.
 * Regenerate with UPDATE_GOLDEN=1.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1'

/**
 * Compares each file with its golden under `dir` (or writes it with UPDATE_GOLDEN=1). `equal`
 * replaces byte equality for formats a formatter owns (JSON compared as data).
 */
export function matchGolden(
  dir: string,
  files: Iterable<readonly [string, string | Buffer]>,
  equal?: (actual: string, golden: string, rel: string) => void,
): void {
  for (const [rel, content] of files) {
    const p = path.join(dir, rel)
    const actual = Buffer.from(content).toString()
    if (UPDATE_GOLDEN) {
      mkdirSync(path.dirname(p), {recursive: true})
      writeFileSync(p, actual)
      continue
    }
    assert.ok(existsSync(p), `${rel} has no golden file (run with UPDATE_GOLDEN=1)`)
    const golden = readFileSync(p, 'utf8')
    if (equal) equal(actual, golden, rel)
    else assert.equal(actual, golden, `${rel} differs from its golden file (UPDATE_GOLDEN=1 to accept; review the diff)`)
  }
}

export const PROGRAMS_DIR = '_programs'

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

/** How a node's golden names a shared program in place of its content. */
export function programReference(file: string, content: string | Buffer): string {
  return `(${PROGRAMS_DIR}/${path.posix.basename(file)}, sha256 ${sha256(content)})`
}

/**
 * The programs to keep once: files under `programDir` whose content is the same on every node that
 * has it (a program that differs between nodes stays in each node's golden). Path → content.
 */
export function sharedPrograms(nodes: ReadonlyArray<ReadonlyMap<string, string>>, programDir: string): Map<string, string> {
  const seen = new Map<string, string | null>()
  for (const files of nodes)
    for (const [file, content] of files) {
      if (!file.startsWith(programDir)) continue
      const before = seen.get(file)
      seen.set(file, before === undefined || before === content ? content : null)
    }
  const out = new Map<string, string>()
  for (const [file, content] of [...seen].sort(([a], [b]) => (a < b ? -1 : 1))) if (content !== null) out.set(file, content)
  const names = [...out.keys()].map((f) => path.posix.basename(f))
  assert.equal(new Set(names).size, names.length, `two shared programs share a name: ${names.join(', ')}`)
  return out
}

/** The `_programs/<name>` golden files of the shared programs. */
export function programGoldens(programs: ReadonlyMap<string, string>): Array<[string, string]> {
  return [...programs].map(([file, content]) => [`${PROGRAMS_DIR}/${path.posix.basename(file)}`, content])
}

/**
 * cloud-init user-data with each shared program's `content: |` block replaced by its reference.
 * The block ends at the first line indented less than its content (the next key or list item);
 * the replacement is checked: the file must have held exactly that content there.
 */
export function referencePrograms(userData: string, files: ReadonlyMap<string, string>, programs: ReadonlyMap<string, string>): string {
  const lines = userData.split('\n')
  const out: string[] = []
  let current: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const item = /^- path: (.+)$/.exec(line)
    if (item) current = item[1]
    const shared = current !== undefined ? programs.get(current) : undefined
    if (shared !== undefined && current !== undefined && /^ {2}content: \|-?$/.test(line)) {
      assert.equal(files.get(current), shared, `${current}: not the shared program`)
      let j = i + 1
      while (j < lines.length && (lines[j] === '' || (lines[j] as string).startsWith('    '))) j++
      // Trailing blank lines before the next key belong to the next entry's separation, not the block.
      while (j > i + 1 && lines[j - 1] === '') j--
      out.push(`  content: ${programReference(current, shared)}`)
      i = j - 1
      continue
    }
    out.push(line)
  }
  return out.join('\n')
}
