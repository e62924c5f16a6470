/** Shared by the secret-backend tests: a cloud profile rendered with a fixture state, and a node root to run the fetch step in. */
import {statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {loadAssets} from '../../../src/app/assets.js'
import {materialFromSecrets} from '../../../src/app/material.js'
import {renderNode} from '../../../src/app/render.js'
import {loadOrCreateCalendar, loadOrCreateState} from '../../../src/pki/index.js'
import {buildNodePlan} from '../../../src/plan/build.js'
import type {SecretBundle, SecretEndpoints} from '../../../src/plan/secrets/index.js'
import {separateSecrets} from '../../../src/plan/secrets/index.js'
import type {NodePlan, PlanFile} from '../../../src/plan/types.js'
import type {Cluster} from '../../../src/profile/index.js'
import {materialise, runBootstrap, standinBin} from '../../support/bootstrap-harness.js'
import {FIXTURE_NOW, fixturePkiContext} from '../../support/pki-fixture.js'
import {cloudInit} from '../../support/render.js'

export interface CloudRender {
  cluster: Cluster
  material: ReturnType<typeof materialFromSecrets>
  node(
    name: string,
    endpoints?: SecretEndpoints,
    extra?: PlanFile[],
  ): {full: NodePlan; plan: NodePlan; bundle?: SecretBundle; userData: string}
}

export async function renderCloud(cluster: Cluster, stateParent: string): Promise<CloudRender> {
  const dir = path.join(stateParent, cluster.name)
  const {secrets} = await loadOrCreateState(dir, cluster, fixturePkiContext())
  const calendar = await loadOrCreateCalendar(dir, fixturePkiContext({seed: 'calendar'}))
  const material = materialFromSecrets(cluster, secrets, calendar, FIXTURE_NOW)
  return {
    cluster,
    material,
    node(name, endpoints, extra = []) {
      const n = cluster.nodes.find((x) => x.name === name)
      if (!n) throw new Error(`no node ${name}`)
      const full = buildNodePlan(cluster, n, {assets: loadAssets(), material})
      if (extra.length === 0) {
        const r = renderNode(cluster, n, material, undefined, endpoints)
        return {full, plan: r.plan, ...(r.bundle ? {bundle: r.bundle} : {}), userData: Buffer.from(cloudInit(r).userData).toString('utf8')}
      }
      const withExtra = {...full, files: [...full.files, ...extra].sort((a, b) => (a.path < b.path ? -1 : 1))}
      const r = separateSecrets(cluster, n, withExtra, loadAssets().secretsScript ?? '', endpoints)
      return {full: withExtra, plan: r.plan, ...(r.bundle ? {bundle: r.bundle} : {}), userData: ''}
    },
  }
}

/** Runs the bootstrap program on the plan in a fresh root, up to and including the secrets phase. */
export async function runFetch(
  plan: NodePlan,
  parent: string,
  caFile: string,
  env: Record<string, string> = {},
  beforeRun?: (root: string) => void,
) {
  const root = materialise(plan, parent)
  beforeRun?.(root)
  const bin = standinBin(parent)
  const r = await runBootstrap(
    root,
    {
      PATH: `${bin}:${process.env.PATH}`,
      NODEGEN_TEST_LOG: path.join(parent, 'calls.log'),
      NODEGEN_TEST_FAKE: 'https://127.0.0.1:1',
      NODEGEN_STOP_AFTER: 'secrets',
      NODEGEN_BACKOFF_START: '1',
      NODEGEN_BACKOFF_MAX: '1',
      CURL_CA_BUNDLE: caFile,
      ...env,
    },
    60_000,
  )
  return {...r, root}
}

export function modeOf(p: string): number {
  return statSync(p).mode & 0o777
}

export function writeCa(dir: string, pem: string): string {
  const f = path.join(dir, 'test-ca.pem')
  writeFileSync(f, pem)
  return f
}
