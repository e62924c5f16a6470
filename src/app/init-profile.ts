/** Builds a new profile from a few answers (`nodegen init`). Pure: returns YAML text. */

import {existsSync, renameSync, writeFileSync} from 'node:fs'
import {Document} from 'yaml'
import {formatDiagnostic, intToIp, loadProfile, parseCidr} from '../profile/index.js'
import {API_VERSION} from '../profile/schema.js'

export interface InitOptions {
  name: string
  kubernetesVersion: string
  os: string
  controlPlanes: number
  workers: number
  /** Node network, e.g. 10.0.0.0/24. */
  subnet: string
  /** First node address offset inside the subnet. @default 10 */
  firstHost: number
  gateway?: string
  /** VIP or load balancer host; required with more than one control plane. */
  endpoint?: string
  loadBalancer: string
  cni: string
  platform: string
  topology: 'stacked' | 'external'
  etcdMembers: number
  sshKey?: string
}

export function buildInitProfile(o: InitOptions): string {
  const net = parseCidr(o.subnet)
  if (!net) throw new Error(`--subnet ${o.subnet} is not a CIDR like 10.0.0.0/24`)
  let next = net.network + o.firstHost
  const nodes: Array<Record<string, string>> = []
  const add = (name: string, role: string) => {
    nodes.push({name, role, ip: `${intToIp(next)}/${net.prefix}`})
    next++
  }
  const pad = (i: number) => String(i).padStart(2, '0')
  if (o.topology === 'external') for (let i = 1; i <= o.etcdMembers; i++) add(`${o.name}-etcd-${pad(i)}`, 'etcd')
  for (let i = 1; i <= o.controlPlanes; i++) add(`${o.name}-cp-${pad(i)}`, 'control-plane')
  for (let i = 1; i <= o.workers; i++) add(`${o.name}-worker-${pad(i)}`, 'worker')
  const gateway = o.gateway ?? intToIp(net.network + 1)
  const spec: Record<string, unknown> = {
    kubernetes: {version: o.kubernetesVersion},
    topology: o.topology,
    os: o.os,
  }
  if (o.endpoint) {
    spec.controlPlaneEndpoint = {host: o.endpoint, port: 6443}
    spec.loadBalancer = {type: o.loadBalancer}
  }
  spec.networking = {cni: {type: o.cni}, gateway, dnsServers: [gateway]}
  spec.platform = {type: o.platform}
  if (o.sshKey) spec.users = [{name: 'ops', sshAuthorizedKeys: [o.sshKey]}]
  spec.nodes = nodes
  const doc = new Document({apiVersion: API_VERSION, kind: 'Cluster', metadata: {name: o.name}, spec})
  doc.commentBefore =
    ' yaml-language-server: $schema=https://nodegen.dev/schema/profile.schema.json\n Written by `nodegen init`; review it, then `nodegen plan` and `nodegen render`.'
  return doc.toString({lineWidth: 0})
}

export {LOAD_BALANCERS, OS_IDS, PLATFORMS} from '../profile/index.js'

export interface InitResult {
  path: string
  cluster: string
  nodes: number
}

/**
 * Builds the profile from the answers, checks it as `validate` would and writes it to `out`
 * (atomically, never over an existing file unless `force`). A problem writes nothing: `usage` (an
 * answer that cannot be used), `invalid` (the profile's diagnostics, formatted), `exists`.
 */
export function writeInitProfile(
  o: InitOptions,
  out: string,
  force: boolean,
): InitResult | {usage: string} | {invalid: string[]} | {exists: true} {
  let text: string
  try {
    text = buildInitProfile(o)
  } catch (e) {
    return {usage: (e as Error).message}
  }
  const check = loadProfile(text, out)
  const errors = check.diagnostics.filter((d) => d.severity === 'error')
  if (errors.length > 0) return {invalid: errors.map((d) => formatDiagnostic(d, {excerpt: false}))}
  if (existsSync(out) && !force) return {exists: true}
  const tmp = `${out}.tmp-${process.pid}`
  writeFileSync(tmp, text, {mode: 0o644})
  renameSync(tmp, out)
  return {path: out, cluster: o.name, nodes: check.cluster?.nodes.length ?? 0}
}
