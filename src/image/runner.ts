/**
 * The Packer runner (an I/O adapter): finds Packer and its version, writes a build directory from
 * the generated tree, runs `packer init` (1.7+) and `packer build -machine-readable` with live
 * milestones, reads the manifest post-processor's output and records the artifact in the state.
 * `validateImages` runs `packer validate` for every OS × builder.
 */
import {spawn, spawnSync} from 'node:child_process'
import {generateKeyPairSync} from 'node:crypto'
import {accessSync, constants, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {Cluster} from '../profile/index.js'
import {ImageError} from './errors.js'
import {BUILD_NAME, generateImageTree, type ImageAssets, type ImageTree, sourceName} from './generate.js'
import {errorLines, MILESTONES, type Milestone, milestoneOf, type PackerLine, parseLine, parseManifest, uiText} from './machine-readable.js'
import {BUILDERS, type Builder, type ImageOs} from './os.js'
import {compareVersions, featuresFor, MIN_PACKER, type PackerFeatures, type PackerVersion, parsePackerVersion} from './packer-version.js'
import {type ImageRecord, recordImage} from './records.js'

export interface PackerInfo {
  bin: string
  version: PackerVersion
  features: PackerFeatures
}

/** `explicit`, or `packer` on PATH; NG1001 with how to install it when there is none. */
export function findPacker(explicit: string | undefined, envPath = process.env.PATH ?? ''): string {
  const candidates = explicit
    ? [explicit]
    : envPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((d) => path.join(d, 'packer'))
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK)
      return path.resolve(c)
    } catch {
      // next
    }
  }
  if (explicit) throw new ImageError('NG1002', {bin: explicit, reason: 'it does not exist or is not executable'})
  throw new ImageError('NG1001')
}

export function detectPacker(explicit?: string, envPath?: string): PackerInfo {
  const bin = findPacker(explicit, envPath)
  const r = spawnSync(bin, ['version', '-machine-readable'], {encoding: 'utf8', timeout: 60_000})
  if (r.error) throw new ImageError('NG1002', {bin, reason: r.error.message})
  const version = parsePackerVersion(`${r.stdout}\n${r.stderr}`)
  if (r.status !== 0 || !version)
    throw new ImageError('NG1002', {bin, reason: `\`packer version\` said ${JSON.stringify((r.stdout + r.stderr).trim().slice(0, 200))}`})
  if (compareVersions(version, MIN_PACKER) < 0)
    throw new ImageError('NG1002', {bin, reason: `it is Packer ${version.text}; HCL2 templates need ${MIN_PACKER.text} or later`})
  return {bin, version, features: featuresFor(version)}
}

// ---------------------------------------------------------------------------------------------
// The build directory

/** An ed25519 key pair for one build VM: the private key in PKCS#8 PEM, the public in OpenSSH form. */
export function buildKeyPair(): {privatePem: string; publicOpenSsh: string} {
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  const raw = Buffer.from(publicKey.export({format: 'jwk'}).x as string, 'base64url')
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(b.length)
    return Buffer.concat([len, b])
  }
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)])
  return {
    privatePem: privateKey.export({format: 'pem', type: 'pkcs8'}) as string,
    publicOpenSsh: `ssh-ed25519 ${blob.toString('base64')} nodegen-image-build`,
  }
}

/** The qemu build VM's NoCloud seed: the build key for the image's default user, nothing else. */
export function seedFiles(publicKey: string): {metaData: string; userData: string} {
  return {
    metaData: 'instance-id: nodegen-image-build\nlocal-hostname: nodegen-image-build\n',
    userData: `#cloud-config\n# nodegen image build: the build VM's seed (removed from the image by the cleanup step)\nssh_authorized_keys:\n  - ${publicKey}\n`,
  }
}

const GENERATED_TOP = ['image', 'seed', 'ssh', 'versions.pkr.hcl', 'manifest.json']

/**
 * Writes the tree, a fresh seed and build key into `dir`. Earlier builds' outputs (qemu's
 * output-* directories, packer.log files) stay; everything generated is replaced.
 */
export function writeBuildDir(dir: string, tree: ImageTree): void {
  mkdirSync(dir, {recursive: true, mode: 0o700})
  for (const top of GENERATED_TOP) rmSync(path.join(dir, top), {recursive: true, force: true})
  for (const rel of tree.keys()) if (!rel.includes('/')) rmSync(path.join(dir, rel), {force: true})
  for (const [rel, f] of tree) {
    const p = path.join(dir, rel)
    mkdirSync(path.dirname(p), {recursive: true})
    writeFileSync(p, f.content, {mode: f.mode})
  }
  const key = buildKeyPair()
  const seed = seedFiles(key.publicOpenSsh)
  mkdirSync(path.join(dir, 'ssh'), {mode: 0o700})
  writeFileSync(path.join(dir, 'ssh', 'id_ed25519'), key.privatePem, {mode: 0o600})
  writeFileSync(path.join(dir, 'ssh', 'id_ed25519.pub'), `${key.publicOpenSsh}\n`, {mode: 0o644})
  mkdirSync(path.join(dir, 'seed'), {mode: 0o700})
  writeFileSync(path.join(dir, 'seed', 'meta-data'), seed.metaData, {mode: 0o644})
  writeFileSync(path.join(dir, 'seed', 'user-data'), seed.userData, {mode: 0o644})
}

// ---------------------------------------------------------------------------------------------
// Running Packer

export interface RunResult {
  code: number
  lines: PackerLine[]
}

/** Runs Packer in `cwd`, parsing machine-readable stdout line by line; everything goes to `log`. */
export function runPacker(bin: string, args: string[], cwd: string, log: string, onLine?: (l: PackerLine) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(log, {flags: 'a', mode: 0o600})
    out.write(`# ${new Date().toISOString()} packer ${args.join(' ')}\n`)
    const child = spawn(bin, args, {cwd, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, CHECKPOINT_DISABLE: '1'}})
    const lines: PackerLine[] = []
    let buf = ''
    const take = (chunk: string, final = false) => {
      buf += chunk
      const parts = buf.split('\n')
      buf = final ? '' : (parts.pop() ?? '')
      for (const raw of parts) {
        if (!raw) continue
        const l = parseLine(raw)
        if (!l) continue
        lines.push(l)
        onLine?.(l)
      }
    }
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d: string) => {
      out.write(d)
      take(d)
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d: string) => {
      out.write(d)
      // Packer prints some failures (a bad flag, a template it cannot parse) to stderr, not machine-readable.
      for (const t of d.split('\n').filter((x) => x.trim())) lines.push({timestamp: 0, target: '', type: 'error', data: [t]})
    })
    child.on('error', (e) => {
      out.end()
      reject(e)
    })
    child.on('close', (code) => {
      take('', true)
      out.end(() => resolve({code: code ?? -1, lines}))
    })
  })
}

/** Packer's error lines, without its summary's repetitions, most telling last. */
function failure(r: RunResult): string {
  const seen = new Set<string>()
  const out: string[] = []
  for (const e of errorLines(r.lines)) {
    const text = e
      .replace(/\s+/g, ' ')
      .replace(/^(==>|-->) /, '')
      .replace(/^nodegen\.[\w-]+\.[\w-]+: /, '')
      .replace(/^Build '[^']*' errored after [^:]*: /, '')
      .trim()
    if (!text || /^Some builds didn't complete successfully/.test(text) || seen.has(text)) continue
    seen.add(text)
    out.push(text)
  }
  return out.length === 0 ? 'no error message' : out.slice(-3).join('; ')
}

export interface BuildOptions {
  cluster: Cluster
  os: ImageOs
  builder: Builder
  packer: PackerInfo
  buildDir: string
  stateDir: string
  assets: ImageAssets
  cniManifest?: string
  /** Extra `-var name=value` for the template (aws_subnet_id, qemu_accelerator, …). */
  vars?: Record<string, string>
  now: () => Date
  onMilestone?: (m: Milestone, index: number, total: number) => void
  onUi?: (text: string, level: string) => void
}

export interface BuildResult {
  record: ImageRecord
  buildDir: string
  log: string
  records: ImageRecord[]
}

/** The variables a builder cannot do without, from the profile or --var. */
function requiredVars(cluster: Cluster, builder: Builder, vars: Record<string, string>): void {
  if (builder === 'googlecompute' && !(vars.gcp_project_id ?? cluster.platform.gcp?.project))
    throw new ImageError('NG1006', {builder, field: 'a Google Cloud project (spec.platform.gcp.project)', variable: 'gcp_project_id'})
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const {cluster, os: osId, builder, packer} = opts
  const vars = {...(opts.vars ?? {})}
  requiredVars(cluster, builder, vars)
  const buildDir = path.resolve(opts.buildDir)
  const tree = generateImageTree(cluster, osId, {
    features: packer.features,
    assets: opts.assets,
    ...(opts.cniManifest !== undefined ? {cniManifest: opts.cniManifest} : {}),
  })
  writeBuildDir(buildDir, tree)
  const log = path.join(buildDir, 'packer.log')
  if (packer.features.requiredPlugins) {
    const init = await runPacker(packer.bin, ['init', '.'], buildDir, log)
    if (init.code !== 0) throw new ImageError('NG1003', {command: 'init', os: osId, builder, code: init.code, reason: failure(init), log})
  }
  const stamp = opts
    .now()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  if (builder === 'qemu' && vars.qemu_output_directory === undefined) vars.qemu_output_directory = `output-qemu-${stamp}`
  const args = ['build', '-machine-readable', `-only=${BUILD_NAME}.${builder}.${sourceName(osId)}`]
  for (const k of Object.keys(vars).sort()) args.push('-var', `${k}=${vars[k]}`)
  args.push('.')
  let reached = -1
  const result = await runPacker(packer.bin, args, buildDir, log, (l) => {
    const ui = uiText(l)
    if (!ui) return
    opts.onUi?.(ui.text, ui.level)
    const m = milestoneOf(ui.text)
    if (m === undefined) return
    const i = MILESTONES.indexOf(m)
    if (i > reached) {
      reached = i
      opts.onMilestone?.(m, i, MILESTONES.length)
    }
  })
  if (result.code !== 0)
    throw new ImageError('NG1003', {command: 'build', os: osId, builder, code: result.code, reason: failure(result), log})
  const manifestPath = path.join(buildDir, 'manifest.json')
  let text: string
  try {
    text = readFileSync(manifestPath, 'utf8')
  } catch (e) {
    throw new ImageError('NG1004', {manifest: manifestPath, os: osId, builder, reason: (e as NodeJS.ErrnoException).code ?? String(e)})
  }
  const parsed = parseManifest(text, sourceName(osId), builder)
  if (!parsed.ok) throw new ImageError('NG1004', {manifest: manifestPath, os: osId, builder, reason: parsed.reason})
  const artifact =
    parsed.artifact.builder === 'qemu'
      ? {...parsed.artifact, id: path.resolve(buildDir, parsed.artifact.path), path: path.resolve(buildDir, parsed.artifact.path)}
      : parsed.artifact
  const record: ImageRecord = {
    os: osId,
    builder,
    artifact,
    kubernetesVersion: cluster.kubernetes.version,
    containerRuntime: cluster.runtime.type,
    ...(cluster.runtime.version !== undefined ? {containerdVersion: cluster.runtime.version} : {}),
    imageRepository: cluster.kubernetes.imageRepository,
    built: opts.now().toISOString(),
    packerVersion: packer.version.text,
    buildDir,
  }
  const records = await recordImage(opts.stateDir, record)
  return {record, buildDir, log, records}
}

// ---------------------------------------------------------------------------------------------
// Validation

export interface ValidateOptions {
  cluster: Cluster
  oses: readonly ImageOs[]
  builders?: readonly Builder[]
  packer: PackerInfo
  assets: ImageAssets
  cniManifest?: string
  /** No network: qemu's checksum list is not fetched (`qemu_image_checksum=none`). */
  offline?: boolean
  vars?: Record<string, string>
  onResult?: (r: ValidateEntry) => void
}

export interface ValidateEntry {
  os: ImageOs
  builder: Builder
  ok: boolean
  messages: string[]
}

export interface ValidateResult {
  packerVersion: string
  requiredPlugins: boolean
  offline: boolean
  /** Variables set only so the templates can be checked (never used for a build). */
  placeholders: Record<string, string>
  results: ValidateEntry[]
}

/** `packer validate` of every OS × builder, each in a directory generated for the installed Packer. */
export async function validateImages(opts: ValidateOptions): Promise<ValidateResult> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nodegen-image-validate-'))
  const placeholders: Record<string, string> = {}
  if (!opts.cluster.platform.gcp?.project && !opts.vars?.gcp_project_id) placeholders.gcp_project_id = 'nodegen-validate'
  const vars: Record<string, string> = {...placeholders, ...(opts.offline ? {qemu_image_checksum: 'none'} : {}), ...(opts.vars ?? {})}
  const results: ValidateEntry[] = []
  try {
    for (const osId of opts.oses) {
      const dir = path.join(tmp, osId)
      writeBuildDir(
        dir,
        generateImageTree(opts.cluster, osId, {
          features: opts.packer.features,
          assets: opts.assets,
          ...(opts.cniManifest !== undefined ? {cniManifest: opts.cniManifest} : {}),
        }),
      )
      if (opts.packer.features.requiredPlugins) {
        const init = await runPacker(opts.packer.bin, ['init', '.'], dir, path.join(dir, 'packer.log'))
        if (init.code !== 0) throw new ImageError('NG1008', {os: osId, builder: 'all', reason: `packer init: ${failure(init)}`})
      }
      for (const builder of opts.builders ?? BUILDERS) {
        const args = ['validate', '-machine-readable', `-only=${BUILD_NAME}.${builder}.${sourceName(osId)}`]
        for (const k of Object.keys(vars).sort()) args.push('-var', `${k}=${vars[k]}`)
        args.push('.')
        const r = await runPacker(opts.packer.bin, args, dir, path.join(dir, 'packer.log'))
        const messages = errorLines(r.lines).map((m) => m.replace(/\s+/g, ' ').trim())
        const entry: ValidateEntry = {os: osId, builder, ok: r.code === 0, messages}
        results.push(entry)
        opts.onResult?.(entry)
      }
    }
  } finally {
    rmSync(tmp, {recursive: true, force: true})
  }
  return {
    packerVersion: opts.packer.version.text,
    requiredPlugins: opts.packer.features.requiredPlugins,
    offline: opts.offline === true,
    placeholders,
    results,
  }
}
