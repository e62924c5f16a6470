/**
 * The YAML writer for the Kubernetes documents and manifests plan/ produces: keys sorted (with
 * `apiVersion` and `kind` first, as people expect to read them), sequences in the order given, and
 * YAML 1.1 quoting — kubeadm and the kubelet decode with a YAML 1.1 parser, where an unquoted `yes`,
 * `on` or `0755` would not be the string it was meant to be.
 */
import {Document, isNode} from 'yaml'
import {blockYaml, yamlComment} from '../yaml-text.js'

const FIRST = ['apiVersion', 'kind']

/** A copy of `value` with every mapping's keys in canonical order; `undefined` members dropped. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
  entries.sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
  return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]))
}

function rank(key: string): number {
  const i = FIRST.indexOf(key)
  return i < 0 ? FIRST.length : i
}

export interface YamlDoc {
  value: object
  /** Comment lines written above the document (without `#`). */
  comment?: string
}

/** One YAML stream: `header` (already `#`-commented) then the documents separated by `---`. */
export function yamlStream(header: string, docs: YamlDoc[]): string {
  const parts = docs.map((d) => {
    const value = canonical(d.value)
    const direct = blockYaml(value)
    if (direct !== undefined) return d.comment !== undefined ? `${yamlComment(d.comment)}\n${direct}` : direct
    const doc = new Document(value, {version: '1.1'})
    // On the top node rather than the document, so no blank line separates it from what it explains.
    if (d.comment !== undefined && isNode(doc.contents)) doc.contents.commentBefore = d.comment
    return doc.toString({lineWidth: 0, minContentWidth: 0})
  })
  return `${header.trimEnd()}\n${parts.join('---\n')}`
}
