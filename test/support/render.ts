/** Renders profiles in tests: a state made with the fast fixture context, then the real pipeline. */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {materialFromSecrets} from '../../src/app/material.js'
import {readCniManifest, renderNode} from '../../src/app/render.js'
import {type ClusterSecrets, loadOrCreateCalendar, loadOrCreateState} from '../../src/pki/index.js'
import type {Cluster} from '../../src/profile/index.js'
import {FIXTURE_NOW, fixturePkiContext} from './pki-fixture.js'
import {loadCluster} from './profiles.js'

export interface RenderedForTest {
  cluster: Cluster
  secrets: ClusterSecrets
  material: ReturnType<typeof materialFromSecrets>
  nodes: Array<ReturnType<typeof renderNode>>
}

const cache = new Map<string, Promise<RenderedForTest>>()
const scratch: string[] = []
process.on('exit', () => {
  for (const d of scratch) rmSync(d, {recursive: true, force: true})
})

/** Renders every node of a profile in memory (cached per profile path within a test process). */
export function renderProfile(profilePath: string, stateDir?: string): Promise<RenderedForTest> {
  const key = `${profilePath}|${stateDir ?? ''}`
  let p = cache.get(key)
  if (!p) {
    p = (async () => {
      const cluster = loadCluster(profilePath)
      let dir = stateDir
      if (!dir) {
        const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-state-'))
        scratch.push(tmp)
        dir = path.join(tmp, cluster.name)
      }
      const {secrets} = await loadOrCreateState(dir, cluster, fixturePkiContext())
      const calendar = await loadOrCreateCalendar(dir, fixturePkiContext({seed: 'calendar'}))
      const material = materialFromSecrets(cluster, secrets, calendar, FIXTURE_NOW)
      const cni = readCniManifest(cluster, profilePath)
      return {cluster, secrets, material, nodes: cluster.nodes.map((n) => renderNode(cluster, n, material, cni))}
    })()
    cache.set(key, p)
  }
  return p
}

/** The cloud-init output of a rendered cloud-init node (throws for an Ignition node). */
export function cloudInit(n: ReturnType<typeof renderNode>) {
  if (n.format !== 'cloud-init') throw new Error(`${n.plan.node} boots with ${n.format}, not cloud-init`)
  return n.ci
}
