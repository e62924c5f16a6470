/**
 * `nodegen render` as a use case: the medium checked before anything is created, the cluster's state
 * opened (made on the first render), the recorded images looked up, every node rendered into the
 * output directory, swapped in whole.
 */
import {UserError} from '../errors.js'
import type {Cluster} from '../profile/index.js'
import {nodeImages} from './image.js'
import {openClusterState} from './material.js'
import type {Progress} from './progress.js'
import {
  defaultMediaFor,
  type MediaKind,
  mediaProblem,
  pxeTokens,
  RenderError,
  type RenderResult,
  render,
  selectNodes,
  sourceDateEpoch,
} from './render.js'

export interface RenderProfileOptions {
  stateDir: string
  outDir: string
  /** Only these nodes (default all). */
  nodes?: string[]
  /** Default: the platform's (defaultMediaFor). */
  media?: MediaKind
  /** When the nodes boot: joining nodes get that window's bootstrap token and the next one's. */
  at: Date
  /** With media pxe: per-node URL tokens under the state's serve key, which `nodegen serve` requires. */
  requireToken: boolean
  seedFiles: boolean
  bundleFormat: 'tar.gz' | 'zip'
  /** Called once the state is open, before the render: whether this run made it, and its warnings. */
  onState: (created: boolean, warnings: readonly string[]) => void
  progress: (count: number) => Progress
}

export async function renderProfile(
  cluster: Cluster,
  profilePath: string,
  o: RenderProfileOptions,
): Promise<{result: RenderResult; media: MediaKind; bar: Progress}> {
  const media = o.media ?? defaultMediaFor(cluster)
  // Refused before the state is created: a wrong medium changes nothing.
  const refused = mediaProblem(selectNodes(cluster, o.nodes), media)
  if (refused) throw new RenderError(refused)
  const state = await openClusterState(cluster, o.stateDir, {serveKey: o.requireToken})
  const images = await nodeImages(cluster, o.stateDir)
  o.onState(state.created, [...state.warnings, ...images.warnings])
  const bar = o.progress(o.nodes?.length ?? cluster.nodes.length)
  try {
    const result = await render({
      cluster,
      profilePath,
      outDir: o.outDir,
      material: state.material(o.at),
      adminConf: state.secrets.adminConf,
      ...(o.nodes ? {nodes: o.nodes} : {}),
      media,
      epoch: sourceDateEpoch(),
      bundleFormat: o.bundleFormat,
      progress: bar,
      images: images.byNode,
      seedFiles: o.seedFiles,
      // The serve key is opened exactly when per-node URL tokens are asked for.
      ...(state.serveKey !== undefined ? {pxeTokens: await pxeTokens(cluster, state.serveKey)} : {}),
    })
    return {result, media, bar}
  } catch (e) {
    const io = e as NodeJS.ErrnoException
    if (io.code && io.syscall)
      throw new UserError(
        `cannot write the output to ${o.outDir}: ${io.code} (${io.syscall}${io.path ? ` ${io.path}` : ''}); the previous output, if any, is unchanged`,
      )
    throw e
  }
}
