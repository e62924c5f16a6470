/**
 * YAML text for plain data (mappings, lists, strings, numbers, booleans, null) exactly as the yaml
 * library writes it with nodegen's options (YAML 1.1, `lineWidth: 0`, two-space indentation), built
 * directly where the result is certain. A render writes several such documents per node (the
 * kubeadm configuration, cloud-init's head, runcmd, network-config and meta-data), and building a
 * yaml Document for each was a large part of a node's time. Anything this writer is not sure of (a
 * string that needs quotes or spans lines, a key that is not plain, a value that is not plain data)
 * makes it return undefined, and the caller uses the yaml library as before.
 * test/unit/plan/yaml-text.test.ts checks the two agree.
 */
import {Document} from 'yaml'

/**
 * The YAML 1.1 types a plain scalar could be read as (booleans, null, numbers, timestamps, …): the
 * yaml library quotes a string any of them would match, so this writer leaves those to it. Taken
 * from the library's own schema so the two cannot disagree.
 */
const NON_STRING_TESTS: RegExp[] = (() => {
  const schema = new Document(null, {version: '1.1'}).schema as unknown as {
    tags: Array<{default?: boolean; tag: string; test?: RegExp}>
    compat?: Array<{default?: boolean; tag: string; test?: RegExp}> | null
  }
  return [...schema.tags, ...(schema.compat ?? [])]
    .filter((t) => t.default && t.tag !== 'tag:yaml.org,2002:str' && t.test)
    .map((t) => t.test as RegExp)
})()

/**
 * Strings written plain without a second thought: no blank, no indicator character first (a dash
 * only before more), none of `#`, quotes, brackets or commas anywhere, no colon last, no document
 * marker first. Whether such a string could read as another type is NON_STRING_TESTS' question.
 */
const PLAIN_CHARS = /^[A-Za-z0-9_./-][A-Za-z0-9_./+=@:-]*$/

/** A string as a plain scalar, or undefined when the yaml library might write it otherwise. */
function plain(s: string): string | undefined {
  if (s.length > 1024 || !PLAIN_CHARS.test(s) || s === '-' || s.endsWith(':') || s.startsWith('---') || s.startsWith('...'))
    return undefined
  for (const t of NON_STRING_TESTS) if (t.test(s)) return undefined
  return s
}

function scalar(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return plain(v)
    case 'boolean':
      return v ? 'true' : 'false'
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0) ? JSON.stringify(v) : undefined
    case 'object':
      return v === null ? 'null' : undefined
    default:
      return undefined
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Pushes the lines of a non-empty mapping or list at `indent`; false when something is uncertain. */
function collection(v: unknown, indent: string, out: string[]): boolean {
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = inline(item)
      if (s !== undefined) {
        out.push(`${indent}- ${s}`)
        continue
      }
      // A nested collection starts on the dash's line: its first line's indentation becomes "- ".
      const at = out.length
      if (!isCollection(item) || !collection(item, `${indent}  `, out)) return false
      out[at] = `${indent}- ${(out[at] as string).slice(indent.length + 2)}`
    }
    return true
  }
  if (!isPlainObject(v)) return false
  for (const [k, value] of Object.entries(v)) {
    const key = plain(k)
    if (key === undefined || value === undefined) return false
    const s = inline(value)
    if (s !== undefined) {
      out.push(`${indent}${key}: ${s}`)
      continue
    }
    if (!isCollection(value)) return false
    out.push(`${indent}${key}:`)
    // Lists under a key are indented too (the library's indentSeq).
    if (!collection(value, `${indent}  `, out)) return false
  }
  return true
}

function isCollection(v: unknown): boolean {
  return Array.isArray(v) ? v.length > 0 : isPlainObject(v) && Object.keys(v).length > 0
}

/** A value written on its key's or dash's line: a scalar, or an empty collection in flow style. */
function inline(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length === 0 ? '[]' : undefined
  if (isPlainObject(v)) return Object.keys(v).length === 0 ? '{}' : undefined
  return scalar(v)
}

/**
 * The document body for a non-empty mapping or list (ending in a newline), or undefined when the
 * yaml library must write it.
 */
export function blockYaml(value: unknown): string | undefined {
  if (!isCollection(value)) return undefined
  const lines: string[] = []
  return collection(value, '', lines) ? `${lines.join('\n')}\n` : undefined
}

/** A comment as the yaml library writes it before a document or its top node: `#` before each line. */
export function yamlComment(comment: string): string {
  return comment.replace(/^(?!$)(?: $)?/gm, '#')
}
