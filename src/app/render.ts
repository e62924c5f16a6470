/**
 * The render use case: profile + state → every node's plan → cloud-init / Ignition → media, written
 * atomically into the output directory. The only place that strings the stages together.
 */

import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {type BudgetProblem, type FittedUserData, fitIgnition, fitUserData, isBudgetProblem} from '../emit/budget.js'
import type {CloudInitOutput} from '../emit/cloud-init/index.js'
import {emitCloudInit} from '../emit/cloud-init/index.js'
import {emitIgnition} from '../emit/ignition/index.js'
import {UserError} from '../errors.js'
import type {BundleEntry, BundleFormat} from '../media/bundle.js'
import {CONFIG_DRIVE_VOLUME_ID, configDriveEntries} from '../media/configdrive.js'
import {isoChunks, planIso} from '../media/iso/index.js'
import {NOCLOUD_VOLUME_ID, nocloudEntries} from '../media/nocloud.js'
import {dnsmasqDhcpConfig, dnsmasqProxyConfig, ipxeEntryScript, ipxeNodeScript, ipxeScriptIds, machineId, matchByOf} from '../media/pxe.js'
import {buildNodePlan, type ClusterMaterial} from '../plan/build.js'
import {bundleSummary, type SecretBundle, type SecretEndpoints, separateSecrets} from '../plan/secrets/index.js'
import {ignitionSpecFor} from '../plan/target.js'
import type {NodePlan} from '../plan/types.js'
import type {Cluster, ClusterNode} from '../profile/index.js'
import {loadAssets} from './assets.js'
import {type DirWriter, OutputDir} from './output.js'
import type {Progress} from './progress.js'
import {endSpareThreads, renderInWorkers, workerCount} from './render-pool.js'

/** The archive writer (and archiver with it) loads only for --media bundle. */
async function writeBundle(...args: Parameters<typeof import('../media/bundle.js').writeBundle>): Promise<void> {
  const {writeBundle: write} = await import('../media/bundle.js')
  return write(...args)
}

/** The node's boot medium: a NoCloud ISO, a config drive, or a per-node bundle. */
async function writeMedia(out: DirWriter, opts: RenderOptions, seed: RenderedSeed, userData: Uint8Array): Promise<string[]> {
  const {plan} = seed
  const name = plan.node
  switch (opts.media) {
    case 'iso': {
      // mediaProblem() refused Ignition nodes before anything was written.
      if (seed.format !== 'cloud-init') throw new Error(`internal: ${name} has no NoCloud seed`)
      const ci = seed.ci
      const layout = planIso(
        nocloudEntries({userData, metaData: ci.metaData, ...(ci.networkConfig !== undefined ? {networkConfig: ci.networkConfig} : {})}),
        {volumeId: NOCLOUD_VOLUME_ID, epoch: opts.epoch},
      )
      out.writeChunks(`${name}.iso`, isoChunks(layout), 0o600)
      return [`${name}.iso`]
    }
    case 'configdrive': {
      // Ignition's openstack platform reads the same openstack/latest/user_data cloud-init does.
      const sshKeys = plan.users.flatMap((u) => u.sshAuthorizedKeys)
      const layout = planIso(
        configDriveEntries({
          instanceId: seed.instanceId,
          hostname: plan.hostname,
          userData,
          sshKeys,
          ...(plan.network ? {network: plan.network} : {}),
        }),
        {volumeId: CONFIG_DRIVE_VOLUME_ID, epoch: opts.epoch},
      )
      out.writeChunks(`${name}.iso`, isoChunks(layout), 0o600)
      return [`${name}.iso`]
    }
    case 'bundle': {
      const fmt = opts.bundleFormat ?? 'tar.gz'
      const entries: BundleEntry[] =
        seed.format === 'ignition'
          ? [{path: `${name}/config.ign`, data: userData, mode: 0o600}]
          : [
              {path: `${name}/user-data`, data: userData, mode: 0o600},
              {path: `${name}/meta-data`, data: seed.ci.metaData, mode: 0o644},
              ...(seed.ci.networkConfig !== undefined ? [{path: `${name}/network-config`, data: seed.ci.networkConfig, mode: 0o644}] : []),
            ]
      await writeBundle(entries, fmt, opts.epoch, out.createStream(`${name}.${fmt}`, 0o600))
      return [`${name}.${fmt}`]
    }
    case 'pxe':
      return writePxeNode(out, opts, seed, userData)
    case 'none':
      return []
  }
}

/** The node's part of the static PXE tree (served from `pxeServerUrl` by any web server). */
function writePxeNode(out: DirWriter, opts: RenderOptions, seed: RenderedSeed, userData: Uint8Array): string[] {
  const {cluster} = opts
  const {plan} = seed
  const node = cluster.nodes.find((n) => n.name === plan.node) as ClusterNode
  const matchBy = matchByOf(cluster)
  const base = pxeBase(cluster)
  const written: string[] = []
  const put = (rel: string, data: string | Uint8Array, mode: number) => {
    out.writeFile(`pxe/${rel}`, data, mode)
    written.push(`pxe/${rel}`)
  }
  const script = ipxeNodeScript(cluster, node, {base, matchBy})
  if (!script) throw new RenderError(`node ${node.name}: spec.platform.pxe.kernel has no kernel for ${node.os}`)
  for (const id of ipxeScriptIds(node, matchBy)) put(`ipxe/${id}`, script, 0o644)
  const secretMode = plan.files.some((x) => x.secret) ? 0o600 : 0o644
  if (seed.format === 'ignition') {
    put(`ignition/${machineId(node, matchBy)}`, userData, secretMode)
  } else {
    const dir = `nocloud/${machineId(node, matchBy)}`
    put(`${dir}/user-data`, userData, secretMode)
    put(`${dir}/meta-data`, seed.ci.metaData, 0o644)
    if (seed.ci.networkConfig !== undefined) put(`${dir}/network-config`, seed.ci.networkConfig, 0o644)
    put(`${dir}/vendor-data`, '#cloud-config\n{}\n', 0o644)
  }
  return written
}

function pxeBase(cluster: Cluster): string {
  const url = cluster.platform.pxe?.serverUrl
  if (!url) throw new RenderError('--media pxe needs spec.platform.pxe.serverUrl: the URL machines fetch the PXE tree from')
  return url.replace(/\/+$/, '')
}

/** The cluster-wide part of the PXE tree: the iPXE entry script and dnsmasq configurations. */
function writePxeCluster(out: OutputDir, opts: RenderOptions): void {
  const {cluster} = opts
  const base = pxeBase(cluster)
  const matchBy = matchByOf(cluster)
  out.writeFile('pxe/boot.ipxe', ipxeEntryScript(base, matchBy), 0o644)
  const d = {base, matchBy, tftpRoot: '/srv/tftp'}
  out.writeFile('dnsmasq-proxy.conf', dnsmasqProxyConfig(cluster, d), 0o644)
  out.writeFile(
    'dnsmasq-dhcp.conf',
    dnsmasqDhcpConfig(cluster, {...d, ...(opts.pxeTokens ? {tokens: opts.pxeTokens} : {})}),
    opts.pxeTokens ? 0o600 : 0o644,
  )
}

export type MediaKind = 'iso' | 'configdrive' | 'bundle' | 'pxe' | 'none'

export interface RenderOptions {
  cluster: Cluster
  /** Absolute path of the profile (relative profile references resolve against it). */
  profilePath: string
  outDir: string
  material: ClusterMaterial
  adminConf: string
  /** Only these nodes (default all). */
  nodes?: string[]
  media: MediaKind
  /** Seconds since the epoch for timestamps inside media (SOURCE_DATE_EPOCH). */
  epoch: number
  /** Bundle format with media `bundle`. @default 'tar.gz' */
  bundleFormat?: BundleFormat
  progress?: Progress
  /** The image each node boots (`nodegen image build`'s record), by node name. */
  images?: Record<string, string>
  /**
   * Per-node URL tokens `nodegen serve` requires: with media `pxe`, dnsmasq-dhcp.conf then
   * gives each machine its own tokened script URL.
   */
  pxeTokens?: Map<string, string>
  /**
   * Also write each node's loose seed (DIR/<node>/user-data, meta-data, network-config, or
   * config.ign) beside its boot medium. @default true. With media `none` the seed is the output and
   * is always written.
   */
  seedFiles?: boolean
}

export interface RenderedNode {
  name: string
  role: string
  ordinal: number
  format: string
  files: number
  secretFiles: number
  userData: {encoding: string; rawSize: number; size: number; budget: number | null}
  artifacts: string[]
  /** On aws/gcp with a secret backend: what `launch` stores for this node (names and digest, no contents). */
  secretBundle?: ReturnType<typeof bundleSummary>
  /** The baked image the node boots (qcow2 path, region:AMI id or GCE image), when one is recorded. */
  image?: string
}

export interface RenderResult {
  cluster: string
  outDir: string
  nodes: RenderedNode[]
  bytes: number
}

export class RenderError extends UserError {
  constructor(
    message: string,
    readonly problems: BudgetProblem[] = [],
  ) {
    super(message)
    this.name = 'RenderError'
  }
}

export function selectNodes(cluster: Cluster, names: string[] | undefined): ClusterNode[] {
  if (!names || names.length === 0) return cluster.nodes
  const unknown = names.filter((n) => !cluster.nodes.some((x) => x.name === n))
  if (unknown.length > 0)
    throw new RenderError(`no node named ${unknown.join(', ')} in the profile (nodes: ${cluster.nodes.map((n) => n.name).join(', ')})`)
  return cluster.nodes.filter((n) => names.includes(n.name))
}

export function readCniManifest(cluster: Cluster, profilePath: string): string | undefined {
  const f = cluster.networking.cni.manifestFile
  if (f === undefined) return undefined
  const p = path.resolve(path.dirname(profilePath), f)
  try {
    return readFileSync(p, 'utf8')
  } catch (e) {
    throw new RenderError(
      `spec.networking.cni.manifestFile: cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    )
  }
}

/** One node's plan and its seed in the node's format, fitted into the platform's budget. */
export type RenderedSeed =
  | {
      format: 'cloud-init'
      plan: NodePlan
      ci: CloudInitOutput
      ignition?: undefined
      instanceId: string
      fitted: FittedUserData | BudgetProblem
      bundle?: SecretBundle
    }
  | {
      format: 'ignition'
      plan: NodePlan
      ignition: Buffer
      ci?: undefined
      instanceId: string
      fitted: FittedUserData | BudgetProblem
      bundle?: SecretBundle
    }

/**
 * Plans and emits one node in its format (cloud-init, or Ignition for Flatcar); reads nothing. On
 * aws/gcp with a secret backend the node's secret files leave the plan for `bundle` (which `launch`
 * stores), so the user-data never carries them.
 */
export function renderNode(
  cluster: Cluster,
  node: ClusterNode,
  material: ClusterMaterial,
  cniManifest: string | undefined,
  endpoints?: SecretEndpoints,
): RenderedSeed {
  const assets = loadAssets()
  const full: NodePlan = buildNodePlan(cluster, node, {assets, material, ...(cniManifest !== undefined ? {cniManifest} : {})})
  const {plan, bundle} = separateSecrets(cluster, node, full, assets.secretsScript ?? '', endpoints)
  const b = bundle ? {bundle} : {}
  if (plan.format === 'ignition') {
    const spec = ignitionSpecFor(cluster)
    const ignition = emitIgnition(plan, spec)
    const instanceId = `${plan.cluster}-${plan.node}-${createHash('sha256').update(ignition).digest('hex').slice(0, 12)}`
    return {format: 'ignition', plan, ignition, instanceId, fitted: fitIgnition(ignition, plan, spec), ...b}
  }
  const ci = emitCloudInit(plan)
  return {format: 'cloud-init', plan, ci, instanceId: ci.instanceId, fitted: fitUserData(ci.userData, plan, cluster.platform.type), ...b}
}

/**
 * Media a node's format cannot boot from, found before anything is written: Ignition reads no
 * NoCloud (cidata) ISO, and nodegen does not silently hand a Flatcar node a config drive instead —
 * only Flatcar's OpenStack images look for one; the user picks it.
 */
export function mediaProblem(nodes: ClusterNode[], media: MediaKind): string | undefined {
  const ign = nodes.filter((n) => n.format === 'ignition')
  if (media !== 'iso' || ign.length === 0) return undefined
  return `${ign.map((n) => n.name).join(', ')} boot${ign.length === 1 ? 's' : ''} with Ignition, which does not read a NoCloud (cidata) ISO: use --media configdrive (a config-2 ISO, which Ignition's openstack platform reads), bundle (DIR/<node>/config.ign for your own medium), pxe (ignition.config.url) or none`
}

/** What rendering and writing one node gives: its line in cluster.json, or a budget problem. */
export type NodeOutcome = {rendered: RenderedNode; bundle: BundleEntry[]} | {problem: BudgetProblem}

/**
 * Renders one node and writes its files through `out`: the loose seed (unless seedFiles is false and
 * a medium carries it) and its boot medium. A node over its platform's budget writes nothing.
 */
export async function renderAndWriteNode(
  out: DirWriter,
  opts: RenderOptions,
  node: ClusterNode,
  material: ClusterMaterial,
  cniManifest: string | undefined,
): Promise<NodeOutcome> {
  const seed = renderNode(opts.cluster, node, material, cniManifest)
  const {plan, fitted, bundle: secretBundle} = seed
  if (isBudgetProblem(fitted)) return {problem: fitted}
  const f = fitted as FittedUserData
  const dir = node.name
  const artifacts: string[] = []
  const secretMode = plan.files.some((x) => x.secret) ? 0o600 : 0o644
  // The seed's files with their modes, as the loose files and the cluster bundle carry them.
  const seedEntries: BundleEntry[] =
    seed.format === 'ignition'
      ? [{path: `${dir}/config.ign`, data: f.data, mode: secretMode}]
      : [
          {path: `${dir}/user-data`, data: f.data, mode: secretMode},
          {path: `${dir}/meta-data`, data: Buffer.from(seed.ci.metaData), mode: 0o644},
          ...(seed.ci.networkConfig !== undefined
            ? [{path: `${dir}/network-config`, data: Buffer.from(seed.ci.networkConfig), mode: 0o644}]
            : []),
        ]
  if (opts.seedFiles !== false || opts.media === 'none') {
    for (const e of seedEntries) {
      out.writeFile(e.path, e.data, e.mode)
      artifacts.push(e.path)
    }
  }
  artifacts.push(...(await writeMedia(out, opts, seed, f.data)))
  return {
    rendered: {
      name: node.name,
      role: node.role,
      ordinal: node.ordinal,
      format: node.format,
      files: plan.files.length,
      secretFiles: plan.files.filter((x) => x.secret).length,
      userData: {encoding: f.encoding, rawSize: f.rawSize, size: f.size, budget: Number.isFinite(f.budget) ? f.budget : null},
      artifacts,
      ...(secretBundle ? {secretBundle: bundleSummary(secretBundle)} : {}),
      ...(opts.images?.[node.name] !== undefined ? {image: opts.images[node.name]} : {}),
    },
    bundle: opts.media === 'bundle' ? seedEntries : [],
  }
}

export async function render(opts: RenderOptions): Promise<RenderResult> {
  const {cluster} = opts
  const nodes = selectNodes(cluster, opts.nodes)
  const refused = mediaProblem(nodes, opts.media)
  if (refused) throw new RenderError(refused)
  const cniManifest = readCniManifest(cluster, opts.profilePath)
  const out = new OutputDir(opts.outDir)
  const rendered: RenderedNode[] = []
  const bundle: BundleEntry[] = []
  const problems: BudgetProblem[] = []
  try {
    // Nodes are independent: large renders spread them over worker threads, which write into the
    // same temporary directory. Results come back in node order, so the output is the same.
    const inThisThread = async () => {
      endSpareThreads()
      const done: NodeOutcome[] = []
      for (const node of nodes) {
        done.push(await renderAndWriteNode(out, opts, node, opts.material, cniManifest))
        opts.progress?.tick(node.name)
      }
      return done
    }
    const outcomes = workerCount(nodes.length, opts.media) > 1 ? await renderInWorkers(out, opts, nodes, cniManifest) : await inThisThread()
    for (const o of outcomes) {
      if ('problem' in o) {
        problems.push(o.problem)
        continue
      }
      rendered.push(o.rendered)
      bundle.push(...o.bundle)
    }
    if (problems.length > 0) {
      throw new RenderError(
        problems
          .map(
            (p) =>
              `node ${p.node}: user-data is ${p.size} bytes after compression, over the ${cluster.platform.type} limit of ${p.budget}; largest parts: ${p.largest.map((l) => `${l.path} (${l.bytes} B)`).join(', ')}`,
          )
          .join('\n'),
        problems,
      )
    }
    out.writeFile('admin.conf', opts.adminConf, 0o600)
    if (opts.media === 'pxe') writePxeCluster(out, opts)
    if (opts.media === 'bundle' && nodes.length === cluster.nodes.length) {
      // The whole cluster in one archive, without admin.conf (it stays beside it, 0600).
      await writeBundle(
        bundle,
        opts.bundleFormat ?? 'tar.gz',
        opts.epoch,
        out.createStream(`${cluster.name}.${opts.bundleFormat ?? 'tar.gz'}`, 0o600),
      )
    }
    const result: RenderResult = {cluster: cluster.name, outDir: out.final, nodes: rendered, bytes: 0}
    out.writeFile(
      'cluster.json',
      `${JSON.stringify({cluster: cluster.name, kubernetes: cluster.kubernetes.version, endpoint: cluster.endpoint, nodes: rendered}, null, 2)}\n`,
    )
    result.bytes = out.bytes
    out.commit()
    return result
  } catch (e) {
    out.abort()
    throw e
  }
}

/**
 * The end of `render`'s human output: which file goes to which machine for the medium written, and
 * how to reach the cluster once it is up. `outDir` is the output directory as the user wrote it;
 * `launch` is the command line that starts the machines on aws/gcp.
 */
export function nextSteps(cluster: Cluster, result: RenderResult, media: MediaKind, outDir: string, launch: string): string[] {
  const at = (rel: string) => path.join(outDir, rel)
  const who = (r: RenderedNode) => {
    const n = cluster.nodes.find((x) => x.name === r.name)
    return `${r.name} (${r.role} ${r.ordinal}${n?.ip ? `, ${n.ip}` : ''}${n?.mac ? `, MAC ${n.mac}` : ''})`
  }
  const artifact = (r: RenderedNode, suffix: string) => r.artifacts.find((a) => !a.includes('/') && a.endsWith(suffix))
  const lines: string[] = []
  const rows: Array<[string, RenderedNode]> = []
  switch (media) {
    case 'iso':
    case 'configdrive':
      lines.push(
        media === 'iso'
          ? 'Next: attach each ISO to its machine as a CD-ROM (a NoCloud seed, volume cidata) and boot it:'
          : 'Next: attach each ISO to its machine as a CD-ROM (a config drive, volume config-2) and boot it:',
      )
      for (const r of result.nodes) rows.push([at(artifact(r, '.iso') ?? `${r.name}.iso`), r])
      break
    case 'bundle': {
      lines.push("Next: unpack each archive onto its machine's seed medium (user-data, meta-data, network-config; Ignition: config.ign):")
      for (const r of result.nodes) rows.push([at(artifact(r, '.tar.gz') ?? artifact(r, '.zip') ?? r.name), r])
      break
    }
    case 'pxe':
      lines.push(
        `Next: serve ${at('pxe/')} at ${cluster.platform.pxe?.serverUrl ?? 'spec.platform.pxe.serverUrl'} (any web server), load ${at('dnsmasq-proxy.conf')} (beside your DHCP server) or ${at('dnsmasq-dhcp.conf')} into dnsmasq, and network-boot:`,
      )
      for (const r of result.nodes) lines.push(`  ${who(r)}`)
      break
    case 'none':
      if (cluster.platform.type === 'aws' || cluster.platform.type === 'gcp') {
        lines.push(`Next: ${launch} --dry-run shows the machines it will create; without --dry-run it creates them with this user-data.`)
      } else {
        lines.push(
          "Next: give each machine the seed in its directory (user-data, meta-data; Ignition: config.ign) as its platform's user-data:",
        )
        for (const r of result.nodes) rows.push([`${at(r.name)}/`, r])
      }
      break
  }
  const width = Math.max(0, ...rows.map(([file]) => file.length))
  for (const [file, r] of rows) lines.push(`  ${file.padEnd(width)}  to  ${who(r)}`)
  const host = cluster.endpoint.host.includes(':') ? `[${cluster.endpoint.host}]` : cluster.endpoint.host
  lines.push(
    `Then, once the control plane is up: KUBECONFIG=${at('admin.conf')} kubectl get nodes   (API https://${host}:${cluster.endpoint.port})`,
  )
  return lines
}

/** The per-node URL tokens `serve` requires, under the state's serve key (the serve module loads only when asked). */
export async function pxeTokens(cluster: {nodes: Array<{name: string}>}, serveKey: string): Promise<Map<string, string>> {
  const {nodeUrlToken} = await import('./serve.js')
  return new Map(cluster.nodes.map((n) => [n.name, nodeUrlToken(serveKey, n.name)]))
}

export function defaultMediaFor(cluster: {platform: {type: string}}): MediaKind {
  switch (cluster.platform.type) {
    case 'nocloud':
      return 'iso'
    case 'configdrive':
      return 'configdrive'
    case 'pxe':
      return 'pxe'
    default:
      return 'none'
  }
}

/** SOURCE_DATE_EPOCH when set (reproducible builds), else a fixed epoch: media never carry the clock. */
export function sourceDateEpoch(): number {
  const v = process.env.SOURCE_DATE_EPOCH
  if (v && /^[0-9]+$/.test(v)) return Number(v)
  return 1_700_000_000
}

/** The render's report: a line per node (and its secret bundle's names, never its contents), then the next steps. */
export function renderReport(cluster: Cluster, result: RenderResult, media: MediaKind, outDir: string, launch: string): string[] {
  const lines: string[] = []
  for (const n of result.nodes) {
    const budget = n.userData.budget === null ? 'no limit' : `limit ${n.userData.budget}`
    lines.push(
      `  ${n.name.padEnd(24)} ${n.role.padEnd(14)} ${n.format.padEnd(10)} ${n.format === 'ignition' ? 'config.ign' : 'user-data'} ${n.userData.size} B (${n.userData.encoding}, ${budget})`,
    )
    // Names and digest only: launch stores the bundle, the node fetches and deletes it.
    if (n.secretBundle)
      lines.push(
        `    secrets: ${n.secretBundle.files.length} files in ${n.secretBundle.backend} ${n.secretBundle.names.join(' ')} (sha256 ${n.secretBundle.sha256.slice(0, 12)}…)`,
      )
  }
  lines.push(...nextSteps(cluster, result, media, outDir, launch))
  return lines
}
