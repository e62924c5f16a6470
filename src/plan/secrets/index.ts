/**
 * Secret bundles: on AWS and Google Cloud, user-data is readable through the metadata service for
 * the instance's whole life, so a node's secret files (CA keys, the service-account key, the token
 * calendar, the kubeadm configuration with its token) leave the NodePlan and go into a bundle that
 * `launch` stores in the cloud's secret service. The plan keeps only what the node needs to fetch
 * it: the bundle's names, its sha256 and the endpoints, in a data file the bootstrap program reads
 * verbatim (never sourced), and the list of files to install.
 *
 * Pure: the bundle is a deterministic ustar archive (mtime 0, root-owned, mode 0600), gzipped by
 * zlib (no timestamp in the header), base64-encoded and cut into chunks the service accepts.
 */
import {createHash} from 'node:crypto'
import {gunzipSync, gzipSync} from 'node:zlib'
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {compactShell, file, header} from '../files.js'
import {encodeParams} from '../params.js'
import {libDir, type NodePlan, type PlanFile} from '../types.js'
import {type SecretBackend, secretBackendOf} from './backend.js'

export {type SecretBackend, secretBackendOf} from './backend.js'

/**
 * The largest value one secret holds, in bytes of the (ASCII) chunk text: Secrets Manager's
 * SecretString is at most 65,536 bytes, an SSM advanced-tier parameter 8 KB, a Secret Manager
 * payload 64 KiB.
 */
export const CHUNK_LIMIT: Readonly<Record<SecretBackend, number>> = Object.freeze({
  'aws-secrets-manager': 65536,
  'ssm-parameter-store': 8192,
  'gcp-secret-manager': 65536,
})

/** Where the node's data file and file list go. */
export const SECRETS_PARAMS_FILE = '/etc/nodegen/secrets.env'
export const SECRETS_LIST_FILE = '/etc/nodegen/secrets.tsv'

/** The cloud endpoints a node talks to; tests point them at local servers. */
export interface SecretEndpoints {
  /** `https://secretsmanager.<region>.amazonaws.com`, `https://ssm.<region>.amazonaws.com`, `https://secretmanager.googleapis.com` */
  serviceUrl?: string
  /** `http://169.254.169.254` (EC2), `http://metadata.google.internal` (GCE) */
  metadataUrl?: string
}

export interface SecretChunk {
  /** The secret's name (Secrets Manager), parameter name (SSM) or secret id (Secret Manager). */
  name: string
  /** Base64 text: the chunks concatenated in order are the base64 of the archive. */
  value: string
}

/** One node's secret files, packed for its cloud's secret service. Never print it: use {@link bundleSummary}. */
export interface SecretBundle {
  cluster: string
  node: string
  role: ClusterNode['role']
  backend: SecretBackend
  /** Lowercase hex sha256 of the gzipped archive (what the node verifies). */
  sha256: string
  /** The gzipped tar archive. */
  archive: Uint8Array
  chunks: SecretChunk[]
  /** What is inside (no contents). */
  files: Array<{path: string; mode: number; bytes: number}>
  /** Tags (AWS) / labels (GCP) to put on every chunk; keys and values are GCP-label safe. */
  labels: Record<string, string>
}

/** Nodes holding private keys (control planes, external etcd members) fetch them; workers hold none. */
export function needsBundle(node: ClusterNode): boolean {
  return node.role !== 'worker'
}

/**
 * What goes into the bundle: every secret file, and the rest of the PKI files the node receives
 * (the certificates beside the keys), so `/etc/kubernetes/pki` arrives whole and EC2's 16 KB of
 * user-data is left to the plan. The programs marked `bundled` go too (the certificate renewal and
 * token calendar): they run only once the bundle is installed, and a control plane's user-data has no
 * room for them.
 */
function moves(f: PlanFile): boolean {
  return f.secret || f.origin === 'pki' || f.bundled === true
}

/**
 * The name of chunk `index` of a node's bundle. Cluster and node names are RFC 1123 labels, so "/"
 * and "_" (which they cannot contain) keep names of different clusters and nodes apart.
 */
export function chunkName(backend: SecretBackend, cluster: string, node: string, index: number): string {
  switch (backend) {
    case 'aws-secrets-manager':
      return `nodegen/${cluster}/${node}/${index}`
    case 'ssm-parameter-store':
      return `/nodegen/${cluster}/${node}/${index}`
    case 'gcp-secret-manager':
      return `nodegen_${cluster}_${node}_${index}`
  }
}

export function defaultEndpoints(cluster: Cluster, backend: SecretBackend): Required<SecretEndpoints> {
  const region = cluster.platform.aws?.region ?? ''
  switch (backend) {
    case 'aws-secrets-manager':
      return {serviceUrl: `https://secretsmanager.${region}.amazonaws.com`, metadataUrl: 'http://169.254.169.254'}
    case 'ssm-parameter-store':
      return {serviceUrl: `https://ssm.${region}.amazonaws.com`, metadataUrl: 'http://169.254.169.254'}
    case 'gcp-secret-manager':
      return {serviceUrl: 'https://secretmanager.googleapis.com', metadataUrl: 'http://metadata.google.internal'}
  }
}

/**
 * Splits a node's plan: its secret files leave it for a bundle, and two small data files tell the
 * bootstrap program what to fetch and which files to install. Nodes without a backend or without
 * secrets come back unchanged.
 */
export function separateSecrets(
  cluster: Cluster,
  node: ClusterNode,
  plan: NodePlan,
  /** assets/bootstrap/fetch-secrets.sh, passed in (plan/ reads no files). */
  fetchScript: string,
  endpoints: SecretEndpoints = {},
): {plan: NodePlan; bundle?: SecretBundle} {
  const backend = secretBackendOf(cluster)
  if (!backend || !needsBundle(node)) return {plan}
  // Every file the node installs from the bundle is 0600 root:root, whatever its mode in the plan.
  const moved = plan.files.filter(moves).map((f) => ({...f, mode: 0o600, owner: 'root:root'}))
  if (moved.length === 0) return {plan}
  const archive = gzipSync(ustar(moved), {level: 9})
  const sha256 = createHash('sha256').update(archive).digest('hex')
  const text = Buffer.from(archive).toString('base64')
  const limit = CHUNK_LIMIT[backend]
  const chunks: SecretChunk[] = []
  for (let i = 0, at = 0; at < text.length; i++, at += limit) {
    chunks.push({name: chunkName(backend, cluster.name, node.name, i), value: text.slice(at, at + limit)})
  }
  const ep = {...defaultEndpoints(cluster, backend), ...endpoints}
  const h = header(cluster, node)
  const params = encodeParams(
    {
      SECRET_BACKEND: backend,
      SECRET_NAMES: chunks.map((c) => c.name).join(' '),
      SECRET_BUNDLE_SHA256: sha256,
      SECRET_SERVICE_URL: ep.serviceUrl.replace(/\/+$/, ''),
      SECRET_METADATA_URL: ep.metadataUrl.replace(/\/+$/, ''),
      SECRET_REGION: backend === 'gcp-secret-manager' ? undefined : cluster.platform.aws?.region,
      SECRET_PROJECT: backend === 'gcp-secret-manager' ? cluster.platform.gcp?.project : undefined,
    },
    h,
  )
  const list = moved.map((f) => `${f.path}\t0${f.mode.toString(8)}\n`).join('')
  const kept: PlanFile[] = plan.files.filter((f) => !moves(f))
  kept.push(
    file(SECRETS_PARAMS_FILE, params, 'secrets:fetch-parameters', {mode: 0o600}),
    file(SECRETS_LIST_FILE, `${h}${list}`, 'secrets:file-list', {mode: 0o600}),
    file(`${libDir(node.family)}/fetch-secrets.sh`, compactShell(fetchScript), 'secrets:fetch-program', {mode: 0o644}),
  )
  kept.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return {
    plan: {...plan, files: kept},
    bundle: {
      cluster: cluster.name,
      node: node.name,
      role: node.role,
      backend,
      sha256,
      archive,
      chunks,
      files: moved.map((f) => ({path: f.path, mode: f.mode, bytes: Buffer.byteLength(f.content)})),
      labels: {'nodegen-cluster': cluster.name, 'nodegen-node': node.name},
    },
  }
}

/** What can be shown of a bundle: names, sizes and the digest, never contents. */
export function bundleSummary(b: SecretBundle): {
  node: string
  backend: SecretBackend
  names: string[]
  sha256: string
  bytes: number
  files: string[]
} {
  return {
    node: b.node,
    backend: b.backend,
    names: b.chunks.map((c) => c.name),
    sha256: b.sha256,
    bytes: b.archive.byteLength,
    files: b.files.map((f) => f.path),
  }
}

/** A POSIX ustar archive of the files (paths relative to /), deterministic: mtime 0, uid/gid 0. */
export function ustar(files: readonly PlanFile[]): Buffer {
  const parts: Buffer[] = []
  for (const f of files) {
    const rel = f.path.replace(/^\/+/, '')
    const body = Buffer.from(f.content, 'utf8')
    const hdr = Buffer.alloc(512, 0)
    let name = rel
    let prefix = ''
    if (Buffer.byteLength(rel) > 100) {
      const cut = rel.lastIndexOf('/', 155)
      prefix = rel.slice(0, cut)
      name = rel.slice(cut + 1)
      if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155)
        throw new Error(`internal: path too long for ustar: ${rel}`)
    }
    hdr.write(name, 0, 100, 'utf8')
    hdr.write(octal(f.mode & 0o7777, 8), 100, 'ascii')
    hdr.write(octal(0, 8), 108, 'ascii')
    hdr.write(octal(0, 8), 116, 'ascii')
    hdr.write(octal(body.byteLength, 12), 124, 'ascii')
    hdr.write(octal(0, 12), 136, 'ascii')
    hdr.write('        ', 148, 'ascii')
    hdr.write('0', 156, 'ascii')
    hdr.write('ustar\u000000', 257, 'ascii')
    hdr.write('root', 265, 'ascii')
    hdr.write('root', 297, 'ascii')
    hdr.write(prefix, 345, 155, 'utf8')
    let sum = 0
    for (const b of hdr) sum += b
    hdr.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'ascii')
    parts.push(hdr, body, Buffer.alloc((512 - (body.byteLength % 512)) % 512, 0))
  }
  parts.push(Buffer.alloc(1024, 0))
  return Buffer.concat(parts)
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\u0000`
}

/** The files of a bundle's archive (what the node installs), for checks of their contents. */
export function readBundle(archive: Uint8Array): Array<{path: string; mode: number; content: string}> {
  const tar = gunzipSync(archive)
  const out: Array<{path: string; mode: number; content: string}> = []
  for (let at = 0; at + 512 <= tar.length; ) {
    const hdr = tar.subarray(at, at + 512)
    if (hdr.every((b) => b === 0)) break
    const field = (o: number, n: number) =>
      hdr
        .subarray(o, o + n)
        .toString('utf8')
        .replace(/\0.*$/s, '')
    const prefix = field(345, 155)
    const name = field(0, 100)
    const size = Number.parseInt(field(124, 12).trim(), 8)
    out.push({
      path: `/${prefix ? `${prefix}/` : ''}${name}`,
      mode: Number.parseInt(field(100, 8).trim(), 8),
      content: tar.subarray(at + 512, at + 512 + size).toString('utf8'),
    })
    at += 512 + Math.ceil(size / 512) * 512
  }
  return out
}
