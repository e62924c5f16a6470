/**
 * Validation of generated kubeadm, kubelet and kube-proxy documents against the strict JSON Schemas
 * in test/fixtures/kube-schemas/ (their sources and how to refresh them: PROVENANCE.md there): a
 * misspelled or misplaced field fails here, where kubeadm would only log a warning. Documents are parsed as YAML 1.1, the way kubeadm's decoder reads them,
 * so an unquoted `yes` or `0644` is caught as the wrong type.
 */
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {Ajv2020, type ValidateFunction} from 'ajv/dist/2020.js'
import {parseAllDocuments} from 'yaml'
import {REPO_ROOT} from './profiles.js'

export const SCHEMAS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'kube-schemas')

export interface DocumentResult {
  /** `kind` of the document (or `(none)`). */
  kind: string
  apiVersion: string
  /** Empty when the document is valid; `<instancePath> <message>` otherwise. */
  errors: string[]
}

let validators: Map<string, ValidateFunction> | undefined

function load(): Map<string, ValidateFunction> {
  if (validators) return validators
  const ajv = new Ajv2020({allErrors: true, strict: false, validateFormats: false})
  const map = new Map<string, ValidateFunction>()
  for (const f of readdirSync(SCHEMAS_DIR)
    .filter((n) => n.endsWith('.schema.json'))
    .sort()) {
    const schema = JSON.parse(readFileSync(path.join(SCHEMAS_DIR, f), 'utf8')) as {properties?: {apiVersion?: {const?: string}}}
    const apiVersion = schema.properties?.apiVersion?.const
    if (!apiVersion) throw new Error(`${f} does not pin properties.apiVersion.const`)
    map.set(apiVersion, ajv.compile(schema))
  }
  validators = map
  return map
}

/** The apiVersions there is a schema for. */
export function schemaApiVersions(): string[] {
  return [...load().keys()].sort()
}

/**
 * Validates every document of a YAML stream. A document whose apiVersion has no schema is an error
 * (nodegen writes no other kind into these files), as is a YAML syntax error.
 */
export function validateKubeDocuments(yamlText: string): DocumentResult[] {
  const map = load()
  return parseAllDocuments(yamlText, {version: '1.1'}).flatMap((doc) => {
    if (doc.contents === null) return []
    const value = doc.toJS() as Record<string, unknown> | null
    const kind = typeof value?.kind === 'string' ? value.kind : '(none)'
    const apiVersion = typeof value?.apiVersion === 'string' ? value.apiVersion : '(none)'
    if (doc.errors.length > 0) return [{kind, apiVersion, errors: doc.errors.map((e) => `YAML: ${e.message}`)}]
    const validate = map.get(apiVersion)
    if (!validate) return [{kind, apiVersion, errors: [`no schema for apiVersion ${apiVersion}`]}]
    const ok = validate(value)
    return [{kind, apiVersion, errors: ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim())}]
  })
}
