/**
 * NodePlan → cloud-init: `#cloud-config` user-data, meta-data and network-config (version 2).
 * Translation only. Strings are written for PyYAML, which reads YAML 1.1: the document is
 * stringified in 1.1 mode so `yes`, `on`, `0600`, `1e3` and friends are quoted, and file modes are
 * always quoted octal strings (an unquoted 600 would be read as decimal and become mode 1130).
 */
import {createHash} from 'node:crypto'
import {Document} from 'yaml'
import type {NodePlan, PlanFile, PlanUnit} from '../../plan/types.js'
import {blockYaml, yamlComment} from '../../plan/yaml-text.js'

export interface CloudInitOutput {
  userData: Buffer
  metaData: string
  networkConfig?: string
  /** A stable id that changes when the node's content changes, so cloud-init re-runs on a new seed. */
  instanceId: string
}

const SYSTEMD_DIR = '/etc/systemd/system'

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}

function unitFiles(units: PlanUnit[]): PlanFile[] {
  const out: PlanFile[] = []
  for (const u of units) {
    if (u.content !== undefined)
      out.push({
        path: `${SYSTEMD_DIR}/${u.name}`,
        content: u.content,
        mode: 0o644,
        owner: 'root:root',
        secret: false,
        origin: `unit:${u.name}`,
      })
    for (const d of u.dropIns)
      out.push({
        path: `${SYSTEMD_DIR}/${u.name}.d/${d.name}`,
        content: d.content,
        mode: 0o644,
        owner: 'root:root',
        secret: false,
        origin: `unit:${u.name}`,
      })
  }
  return out
}

function stringify(value: unknown, headerComment?: string): string {
  // Most of what a node's seed holds is written directly (plan/yaml-text.ts); the rest by yaml.
  const direct = blockYaml(value)
  if (direct !== undefined) return headerComment ? `${yamlComment(headerComment)}\n\n${direct}` : direct
  const doc = new Document(value, {version: '1.1'})
  if (headerComment) doc.commentBefore = headerComment
  return doc.toString({lineWidth: 0, minContentWidth: 0, blockQuote: 'literal'})
}

export function buildCloudConfig(plan: NodePlan): Record<string, unknown> {
  const files = [...plan.files, ...unitFiles(plan.units)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const config: Record<string, unknown> = {
    hostname: plan.hostname,
    preserve_hostname: false,
    // The bootstrap program manages a block in /etc/hosts; cloud-init must not rewrite the file.
    manage_etc_hosts: false,
  }
  if (plan.users.length > 0) {
    config.users = plan.users.map((u) => ({
      name: u.name,
      shell: u.shell,
      lock_passwd: true,
      ...(u.sudo ? {sudo: 'ALL=(ALL) NOPASSWD:ALL'} : {}),
      ...(u.groups.length > 0 ? {groups: u.groups.join(', ')} : {}),
      ...(u.sshAuthorizedKeys.length > 0 ? {ssh_authorized_keys: u.sshAuthorizedKeys} : {}),
    }))
    config.ssh_pwauth = false
  }
  config.write_files = files.map((f) => ({
    path: f.path,
    owner: f.owner,
    permissions: octal(f.mode),
    // Files owned by users cloud-init creates must wait for them (write_files runs before users-groups).
    ...(f.owner.split(':').every((p) => p === 'root') ? {} : {defer: true}),
    content: f.content,
  }))
  const enable = plan.units.filter((u) => u.enabled && u.name !== plan.bootstrapUnit && !u.mask).map((u) => u.name)
  const mask = plan.units.filter((u) => u.mask).map((u) => u.name)
  // One reload for every unit write_files wrote; enable and mask would each do another by default,
  // which on a busy machine costs seconds.
  config.runcmd = [
    ['systemctl', 'daemon-reload'],
    ...(mask.length ? [['systemctl', 'mask', '--no-reload', ...mask]] : []),
    ['systemctl', 'enable', '--no-reload', ...enable, plan.bootstrapUnit],
    // --no-block: the unit is ordered after cloud-final.service, which is running this command.
    ['systemctl', 'start', '--no-block', plan.bootstrapUnit],
  ]
  return config
}

/**
 * The shipped scripts every node carries (about 40 KB) are written once per render: keyed by the
 * content string itself, then the entry's metadata. Only contents of ENTRY_CACHE_MIN characters or
 * more, which are the scripts: a node's own files (its kubeadm configuration, its parameters) are
 * smaller, pass through once, and kept here would only become garbage for the old generation;
 * at most ENTRY_CACHE_BYTES in all.
 */
const entryCache = new Map<string, Map<string, string>>()
const ENTRY_CACHE_MIN = 4096
const ENTRY_CACHE_BYTES = 1024 * 1024
let entryCacheBytes = 0

/**
 * An entry's lines before its content (`- path: …`, owner, permissions, defer), by the metadata's
 * JSON: the same few dozen paths, owners and modes recur on every node.
 */
const metaCache = new Map<string, string>()
const META_CACHE_LIMIT = 4096

/** What the yaml library double-quotes instead of writing a block scalar: control characters, lone surrogates. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]/u

/**
 * A content as the yaml library writes it under `  content: ` in a write_files entry (a literal
 * block scalar, lines indented four spaces), computed directly where the result is certain, which
 * is every file nodegen writes: more than one line, printable, not starting with whitespace (that
 * would need an indentation indicator), and ending in exactly one newline (`|`) or in a
 * non-blank character (`|-`). Anything else is undefined, and the entry goes through yaml. Most
 * files carry a header naming their node, so nearly every entry is unique: building a yaml
 * Document for each was most of a node's emitting time. test/unit/emit/cloud-init.test.ts checks
 * the two writers agree.
 */
export function literalContent(content: string): string | undefined {
  if (!content.includes('\n') || CONTROL.test(content)) return undefined
  const first = content[0]
  if (first === ' ' || first === '\t' || first === '\n') return undefined
  let body: string
  let chomp: string
  const last = content[content.length - 1]
  if (last === '\n') {
    const before = content[content.length - 2]
    if (before === '\n' || before === ' ' || before === '\t') return undefined
    body = content.slice(0, -1)
    chomp = ''
  } else {
    if (last === ' ' || last === '\t') return undefined
    body = content
    chomp = '-'
  }
  return `|${chomp}\n    ${body.replace(/\n+/g, '$&    ')}`
}

function writeFilesEntry(entry: Record<string, unknown> & {content: string}): string {
  const {content, ...metaFields} = entry
  const meta = JSON.stringify(metaFields)
  let byMeta = entryCache.get(content)
  const hit = byMeta?.get(meta)
  if (hit !== undefined) return hit
  const literal = literalContent(content)
  // Otherwise a one-item sequence at column 0 ("- path: ..."): YAML allows a mapping's sequence
  // value at the key's own indentation, so entries concatenate under "write_files:" unchanged.
  const text = literal !== undefined ? `${metaLines(meta, metaFields)}  content: ${literal}\n` : stringify([entry])
  if (content.length >= ENTRY_CACHE_MIN) {
    if (entryCacheBytes + content.length + text.length > ENTRY_CACHE_BYTES) {
      entryCache.clear()
      entryCacheBytes = 0
    }
    if (!byMeta) {
      byMeta = new Map()
      entryCache.set(content, byMeta)
      entryCacheBytes += content.length
    }
    byMeta.set(meta, text)
    entryCacheBytes += text.length
  }
  return text
}

/** The metadata alone as a one-item sequence: content is an entry's last key, its line follows these. */
function metaLines(meta: string, fields: Record<string, unknown>): string {
  let lines = metaCache.get(meta)
  if (lines === undefined) {
    lines = stringify([fields])
    if (metaCache.size >= META_CACHE_LIMIT) metaCache.clear()
    metaCache.set(meta, lines)
  }
  return lines
}

export function emitUserData(plan: NodePlan): Buffer {
  const {
    write_files: files,
    runcmd,
    ...head
  } = buildCloudConfig(plan) as {write_files: Array<Record<string, unknown> & {content: string}>; runcmd: unknown}
  const parts = [
    '#cloud-config\n',
    stringify(
      head,
      ` Generated by nodegen from ${plan.source.profile.split(/[\\/]/).pop()} for ${plan.node} (${plan.role} ${plan.ordinal}); do not edit`,
    ),
    'write_files:\n',
    ...files.map(writeFilesEntry),
    stringify({runcmd}),
  ]
  return Buffer.from(parts.join(''))
}

export function emitNetworkConfig(plan: NodePlan): string | undefined {
  const n = plan.network
  if (!n) return undefined
  const eth: Record<string, unknown> = {}
  if (n.mac) {
    eth.match = {macaddress: n.mac}
    eth['set-name'] = n.interface
  }
  eth.addresses = [`${n.address}/${n.prefix}`]
  // gateway4, not a route to 0.0.0.0/0: cloud-init's ifupdown renderer (Debian) writes such a route as
  // `post-up route add default gw … || true`, which fails silently without net-tools and leaves the
  // node with no default route (kubeadm and flannel then find no interface to use); every renderer
  // writes gateway4 natively (ifupdown's `gateway`, sysconfig's GATEWAY, networkd's Gateway=).
  if (n.gateway) eth.gateway4 = n.gateway
  if (n.dns.length > 0 || n.search.length > 0)
    eth.nameservers = {...(n.dns.length ? {addresses: n.dns} : {}), ...(n.search.length ? {search: n.search} : {})}
  return stringify({version: 2, ethernets: {[n.interface]: eth}}, ` Generated by nodegen for ${plan.node}; do not edit`)
}

export function emitCloudInit(plan: NodePlan): CloudInitOutput {
  const userData = emitUserData(plan)
  const networkConfig = emitNetworkConfig(plan)
  const digest = createHash('sha256')
    .update(userData)
    .update('\0')
    .update(networkConfig ?? '')
    .digest('hex')
  const instanceId = `${plan.cluster}-${plan.node}-${digest.slice(0, 12)}`
  const metaData = stringify({'instance-id': instanceId, 'local-hostname': plan.hostname})
  return {userData, metaData, ...(networkConfig !== undefined ? {networkConfig} : {}), instanceId}
}
