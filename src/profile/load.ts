/**
 * Loading a profile: bytes → YAML tree with source ranges → schema → semantic checks → Cluster.
 * Pure (the command reads the file); never throws for any input: every problem is a diagnostic
 * positioned at the offending node.
 */
import {type Document, isMap, isNode, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments} from 'yaml'
import type {z} from 'zod'
import {type Diagnostic, type FieldPath, formatMessage, Report, type SourcePosition} from './diagnostics.js'
import type {Cluster} from './model.js'
import {profileSchema} from './schema.js'
import {type BuildOptions, buildCluster} from './validate.js'

/** Limits that keep a hostile profile from exhausting the machine. */
export const LIMITS = Object.freeze({
  /** A profile of 5000 nodes is about 1 MiB. */
  maxBytes: 8 * 1024 * 1024,
  maxAliases: 100,
  maxDepth: 64,
  /** Values after alias expansion. */
  maxValues: 2_000_000,
})

export interface LoadResult {
  cluster?: Cluster
  diagnostics: Diagnostic[]
}

/** Loads a profile from its bytes; `file` is the name used in diagnostics. */
export function loadProfile(input: string | Uint8Array, file: string, opts: BuildOptions = {}): LoadResult {
  const report = new Report()
  const done = (): LoadResult => ({diagnostics: report.items.map((d) => ({...d, position: d.position ?? {file, line: 1, col: 1}}))})
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength
  if (size > LIMITS.maxBytes) {
    report.error([], 'NG0002', {limit: LIMITS.maxBytes, size})
    return done()
  }
  let text: string
  if (typeof input === 'string') text = input
  else {
    const nul = input.indexOf(0)
    if (nul >= 0) {
      report.error([], 'NG0003', {offset: nul})
      return done()
    }
    text = new TextDecoder('utf-8', {fatal: false}).decode(input)
  }
  const nul = text.indexOf('\u0000')
  if (nul >= 0) {
    report.error([], 'NG0003', {offset: nul})
    return done()
  }

  const lines = new LineCounter()
  let docs: Document.Parsed[]
  try {
    docs = parseAllDocuments(text, {lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true}) as Document.Parsed[]
    if (!Array.isArray(docs)) docs = [docs as unknown as Document.Parsed]
  } catch (e) {
    // The parser recurses on nested flow collections: a stack overflow is a nesting problem.
    if (e instanceof RangeError) report.error([], 'NG0006', {limit: LIMITS.maxDepth})
    else report.error([], 'NG0004', {reason: (e as Error).message})
    return positioned(report, file, text, lines, undefined)
  }
  const real = docs.filter((d) => d.contents !== null || d.errors.length > 0)
  if (real.length === 0) {
    report.error([], 'NG0008')
    return done()
  }
  if (real.length > 1) {
    report.error([], 'NG0007', {count: real.length})
    return positioned(report, file, text, lines, undefined)
  }
  const doc = real[0] as Document.Parsed
  const offsets = new Map<Diagnostic, number>()
  for (const e of doc.errors) {
    report.error([], 'NG0004', {reason: firstLine(e.message)})
    offsets.set(report.items[report.items.length - 1] as Diagnostic, e.pos[0])
  }
  for (const w of doc.warnings) {
    report.warn([], 'NG0009', {reason: firstLine(w.message)})
    offsets.set(report.items[report.items.length - 1] as Diagnostic, w.pos[0])
  }
  if (!report.ok) return positioned(report, file, text, lines, doc, offsets)

  const depth = maxDepth(doc.contents)
  if (depth > LIMITS.maxDepth) {
    report.error([], 'NG0006', {limit: LIMITS.maxDepth})
    return positioned(report, file, text, lines, doc, offsets)
  }
  let data: unknown
  try {
    data = doc.toJS({maxAliasCount: LIMITS.maxAliases})
  } catch (e) {
    if (e instanceof RangeError) report.error([], 'NG0006', {limit: LIMITS.maxDepth})
    else if (/alias/i.test((e as Error).message)) report.error([], 'NG0005', {limit: LIMITS.maxAliases})
    else report.error([], 'NG0004', {reason: (e as Error).message})
    return positioned(report, file, text, lines, doc, offsets)
  }
  if (countValues(data, LIMITS.maxValues) > LIMITS.maxValues) {
    report.error([], 'NG0010', {limit: LIMITS.maxValues})
    return positioned(report, file, text, lines, doc, offsets)
  }

  // jitless: zod would otherwise compile a parser per object schema (new Function) on first use,
  // which costs more than it saves for the one parse a process makes (the quickstart: 20 -> 8 ms).
  const parsed = profileSchema.safeParse(data, {reportInput: true, jitless: true})
  if (!parsed.success) {
    for (const issue of parsed.error.issues) addZodIssue(report, issue)
    return positioned(report, file, text, lines, doc, offsets)
  }
  const cluster = buildCluster(parsed.data, file, report, opts)
  const result = positioned(report, file, text, lines, doc, offsets)
  return cluster ? {...result, cluster} : result
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s
}

function addZodIssue(report: Report, issue: z.core.$ZodIssue): void {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) report.error([...path, key], 'NG0101', {key})
      return
    case 'invalid_type': {
      const received = describeReceived(issue.input)
      if (received === 'nothing') report.error(path, 'NG0102')
      else report.error(path, 'NG0103', {expected: issue.expected, received})
      return
    }
    case 'invalid_value':
      if (issue.input === undefined) report.error(path, 'NG0102')
      else
        report.error(path, 'NG0104', {
          options: issue.values.map((v) => JSON.stringify(v)).join(', '),
          received: JSON.stringify(issue.input),
        })
      return
    case 'invalid_union':
      report.error(path, 'NG0100', {message: 'does not match any allowed form'})
      return
    default:
      report.error(path, 'NG0100', {message: issue.message})
  }
}

function describeReceived(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  return `${typeof v} ${String(v)}`
}

/** Depth of the YAML tree without recursion (a deeply nested document must not overflow the stack). */
function maxDepth(root: unknown): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[root, 1]]
  while (stack.length > 0) {
    const [node, d] = stack.pop() as [unknown, number]
    if (d > max) max = d
    if (d > LIMITS.maxDepth) return d
    if (isMap(node) || isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) stack.push([item.value, d + 1])
        else stack.push([item, d + 1])
      }
    }
  }
  return max
}

function countValues(root: unknown, limit: number): number {
  let n = 0
  const stack: unknown[] = [root]
  while (stack.length > 0 && n <= limit) {
    const v = stack.pop()
    n++
    if (Array.isArray(v)) for (const x of v) stack.push(x)
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stack.push(x)
  }
  return n
}

/** Attaches a source position to every diagnostic: the node at its path, or the nearest parent. */
function positioned(
  report: Report,
  file: string,
  text: string,
  lines: LineCounter,
  doc: Document.Parsed | undefined,
  offsets = new Map<Diagnostic, number>(),
): LoadResult {
  const srcLines = text.split(/\r?\n/)
  const at = (offset: number): SourcePosition => {
    const {line, col} = lines.linePos(offset)
    const excerpt = srcLines[line - 1]
    return {file, line, col, ...(excerpt !== undefined ? {excerpt: excerpt.length > 200 ? `${excerpt.slice(0, 200)}…` : excerpt} : {})}
  }
  for (const d of report.items) {
    const off = offsets.get(d) ?? (doc ? offsetOf(doc, d.path, d.code === 'NG0101') : undefined)
    d.position = off !== undefined ? at(off) : {file, line: 1, col: 1}
  }
  return {diagnostics: report.items}
}

/** The source offset for a field path: the value node, or the key for unknown keys, or the closest ancestor. */
export function offsetOf(doc: Document.Parsed, path: FieldPath, preferKey = false): number | undefined {
  let node: unknown = doc.contents
  let best: number | undefined = rangeStart(node)
  for (let i = 0; i < path.length; i++) {
    const part = path[i] as string | number
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(part))
      if (!pair) return best
      const last = i === path.length - 1
      if (last && (preferKey || pair.value === null)) return rangeStart(pair.key) ?? best
      node = pair.value
      best = rangeStart(node) ?? rangeStart(pair.key) ?? best
    } else if (isSeq(node) && typeof part === 'number') {
      node = node.items[part]
      if (node === undefined) return best
      best = rangeStart(node) ?? best
    } else {
      return best
    }
  }
  return best
}

function rangeStart(node: unknown): number | undefined {
  if (isNode(node) && (node as Node).range) return (node as Node).range?.[0]
  return undefined
}

/** Convenience for callers that want a message with no position (tests). */
export {formatMessage}
