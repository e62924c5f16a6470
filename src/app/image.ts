import path from 'node:path'
import {
  type Builder,
  type BuildResult,
  buildImage,
  detectPacker,
  type GeneratedFile,
  generateImageTree,
  IMAGE_OS_IDS,
  type ImageAssets,
  type ImageOs,
  imageForNode,
  imageScripts,
  type Milestone,
  type PackerFeatures,
  type PackerInfo,
  readImageRecords,
  SCRIPTS_DIR,
  type ValidateEntry,
  type ValidateResult,
  validateImages,
} from '../image/index.js'
import type {Cluster} from '../profile/index.js'
import {readProgram} from './assets.js'
import {OutputDir} from './output.js'
import {PACKAGE_ROOT, stateBase} from './profile-file.js'
import {readCniManifest} from './render.js'

export {
  BUILDERS,
  type Builder,
  type BuildResult,
  CURRENT_FEATURES as CURRENT_PACKER_FEATURES,
  IMAGE_OS_IDS,
  type ImageOs,
  MILESTONES,
  type ValidateResult,
} from '../image/index.js'

export const PACKER_DIR = path.join(PACKAGE_ROOT, 'packer')

let cached: ImageAssets | undefined

export function loadImageAssets(): ImageAssets {
  if (cached) return cached
  cached = Object.freeze({
    bakeScript: readProgram(path.join(PACKAGE_ROOT, 'assets', 'image'), 'bake.sh'),
    installScript: readProgram(path.join(PACKAGE_ROOT, 'assets', 'bootstrap'), 'install-packages.sh'),
    bundleScript: readProgram(path.join(PACKAGE_ROOT, 'assets', 'bootstrap'), 'bundle.sh'),
  })
  return cached
}

/** `<os>/<file>` → file for every OS (or those given), and `scripts/<name>` shared by them; sorted. */
export function packerTree(
  cluster: Cluster,
  features: PackerFeatures,
  opts: {oses?: readonly ImageOs[]; cniManifest?: string} = {},
): Map<string, GeneratedFile> {
  const out = new Map<string, GeneratedFile>()
  const assets = loadImageAssets()
  for (const [name, f] of imageScripts(cluster, assets)) out.set(`${SCRIPTS_DIR}/${name}`, f)
  for (const os of opts.oses ?? IMAGE_OS_IDS) {
    const tree = generateImageTree(cluster, os, {
      features,
      assets,
      sharedScripts: true,
      ...(opts.cniManifest !== undefined ? {cniManifest: opts.cniManifest} : {}),
    })
    for (const [rel, f] of tree) out.set(`${os}/${rel}`, f)
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** Writes a tree into `dir` atomically (built beside it, swapped in). Returns the files written. */
export function writePackerTree(dir: string, tree: Map<string, GeneratedFile>): {dir: string; files: number} {
  const out = new OutputDir(dir)
  try {
    for (const [rel, f] of tree) out.writeFile(rel, f.content, f.mode)
    out.commit()
  } catch (e) {
    out.abort()
    throw e
  }
  return {dir: out.final, files: tree.size}
}

/**
 * `.nodegen-images/<cluster>/<os>-<builder>/` beside the profile (in `cwd` for a bundled profile,
 * like the state): build directories and qemu's disks.
 */
export function defaultBuildDir(profilePath: string, cluster: string, os: string, builder: string, cwd: string): string {
  return path.join(stateBase(profilePath, cwd), '.nodegen-images', cluster, `${os}-${builder}`)
}

/**
 * The recorded image of every node (what `render` writes into cluster.json and `launch` boots), and
 * warnings for a profile that says its nodes boot baked images none of which fits.
 */
export async function nodeImages(cluster: Cluster, stateDir: string): Promise<{byNode: Record<string, string>; warnings: string[]}> {
  const records = await readImageRecords(stateDir)
  const byNode: Record<string, string> = {}
  const warnings = new Set<string>()
  for (const node of cluster.nodes) {
    if (node.family === 'flatcar') continue
    const found = imageForNode(cluster, node, records)
    if (found.record && !found.problem) byNode[node.name] = found.record.artifact.id
    else if (cluster.image.baked && found.problem && !platformImageSet(cluster)) warnings.add(`spec.image.baked: ${found.problem}`)
  }
  return {byNode, warnings: [...warnings]}
}

/** The profile names its image itself (platform.aws.ami, platform.gcp.image): nothing recorded is needed. */
function platformImageSet(cluster: Cluster): boolean {
  return (
    (cluster.platform.type === 'aws' && !!cluster.platform.aws?.ami) || (cluster.platform.type === 'gcp' && !!cluster.platform.gcp?.image)
  )
}

/** What every template of the profile is generated from besides the profile: the shipped scripts and its CNI manifest file. */
function templateInputs(cluster: Cluster, profilePath: string): {assets: ImageAssets; cniManifest?: string} {
  const cniManifest = readCniManifest(cluster, profilePath)
  return {assets: loadImageAssets(), ...(cniManifest !== undefined ? {cniManifest} : {})}
}

/** The Packer a build or a validation runs (--packer, else PATH), with what its version can do. */
export function packerFor(explicit?: string): PackerInfo {
  return detectPacker(explicit)
}

export interface ImageGenerateResult {
  dir: string
  files: number
  oses: string[]
  packer: string
}

/** Writes the profile's Packer templates for `features` (one directory per OS, scripts shared) into `out`. */
export function generateImages(
  cluster: Cluster,
  profilePath: string,
  opts: {out: string; oses: readonly ImageOs[]; features: PackerFeatures},
): ImageGenerateResult {
  const {cniManifest} = templateInputs(cluster, profilePath)
  const tree = packerTree(cluster, opts.features, {oses: opts.oses, ...(cniManifest !== undefined ? {cniManifest} : {})})
  const r = writePackerTree(opts.out, tree)
  return {dir: r.dir, files: r.files, oses: [...opts.oses], packer: opts.features.requiredVersion}
}

/** `packer validate` on the profile's template for every OS × builder asked for. */
export async function validateProfileImages(
  cluster: Cluster,
  profilePath: string,
  opts: {
    oses: readonly ImageOs[]
    builders: readonly Builder[]
    packer: PackerInfo
    offline: boolean
    vars: Record<string, string>
    onResult: (r: ValidateEntry) => void
  },
): Promise<ValidateResult> {
  return validateImages({cluster, ...opts, ...templateInputs(cluster, profilePath)})
}

/** Bakes the profile's image for one OS and builder with Packer and records it in the state. */
export async function bakeImage(
  cluster: Cluster,
  profilePath: string,
  opts: {
    os: ImageOs
    builder: Builder
    packer: PackerInfo
    stateDir: string
    buildDir: string
    vars: Record<string, string>
    onMilestone: (m: Milestone, index: number, total: number) => void
  },
): Promise<BuildResult> {
  return buildImage({cluster, ...opts, ...templateInputs(cluster, profilePath), now: () => new Date()})
}
