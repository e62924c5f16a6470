/**
 * `nodegen upgrade`: the cluster's current version (--from, the API server, or the state), the plan
 * (plan/upgrade, pure) and, without --dry-run, the hand-over: one ConfigMap in the cluster,
 * kube-system/nodegen-upgrade, with the desired version and the plan's hash, applied server-side.
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {buildUpgradePlan, clusterAt, UpgradeError, type UpgradePlan} from '../plan/upgrade.js'
import type {Cluster} from '../profile/index.js'
import {inventoryOf} from './inventory.js'
import {type KubeClient, kubeClientFrom, kubeRequest, serverVersion} from './kube-api.js'
import {table} from './table.js'

export const HANDOVER = Object.freeze({namespace: 'kube-system', name: 'nodegen-upgrade', fieldManager: 'nodegen'})

export interface UpgradeOptions {
  cluster: Cluster
  profilePath: string
  stateDir: string
  from?: string
  kubeconfig?: string
  /** Hand the plan over to the cluster (needs kubeconfig); false: --dry-run. */
  handOver: boolean
}

export interface UpgradeResult {
  dryRun: boolean
  plan: UpgradePlan
  /** The object the cluster received. */
  handedOver?: {namespace: string; name: string; server: string; version: string; planHash: string}
}

function client(file: string): KubeClient {
  try {
    return kubeClientFrom(file)
  } catch (e) {
    throw new UpgradeError('NG1208', {file, reason: (e as Error).message})
  }
}

/** The version the state was made for (state.json), if any. */
function stateVersion(stateDir: string): string | undefined {
  const f = path.join(stateDir, 'state.json')
  if (!existsSync(f)) return undefined
  const v = (JSON.parse(readFileSync(f, 'utf8')) as {kubernetesVersion?: unknown}).kubernetesVersion
  return typeof v === 'string' && v !== '' ? v : undefined
}

export async function upgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const kube = o.kubeconfig !== undefined ? client(o.kubeconfig) : undefined
  let from: string
  let fromSource: UpgradePlan['fromSource']
  if (o.from !== undefined) {
    from = o.from.replace(/^v/, '')
    fromSource = 'flag'
  } else if (kube) {
    try {
      from = await serverVersion(kube)
    } catch (e) {
      throw new UpgradeError('NG1206', {server: kube.server, reason: (e as Error).message})
    }
    fromSource = 'api'
  } else {
    const v = stateVersion(o.stateDir)
    if (v === undefined) throw new UpgradeError('NG1205', {state: o.stateDir})
    from = v
    fromSource = 'state'
  }
  const old = clusterAt(o.cluster, from)
  const plan = buildUpgradePlan(o.cluster, from, fromSource, {
    from: inventoryOf(old, o.profilePath),
    to: inventoryOf(o.cluster, o.profilePath),
  })
  if (!o.handOver || !kube || plan.kind === 'none') return {dryRun: !o.handOver, plan}
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: HANDOVER.name,
      namespace: HANDOVER.namespace,
      labels: {'app.kubernetes.io/managed-by': 'nodegen'},
    },
    data: {
      cluster: plan.cluster,
      from: plan.from,
      version: plan.to,
      planHash: plan.hash,
      'plan.json': `${JSON.stringify(plan, null, 2)}\n`,
    },
  }
  const url = `/api/v1/namespaces/${HANDOVER.namespace}/configmaps/${HANDOVER.name}?fieldManager=${HANDOVER.fieldManager}&force=true`
  let r: {status: number; body: string}
  try {
    r = await kubeRequest(kube, 'PATCH', url, {contentType: 'application/apply-patch+yaml', text: JSON.stringify(configMap)})
  } catch (e) {
    throw new UpgradeError('NG1207', {server: kube.server, reason: (e as Error).message})
  }
  if (r.status !== 200 && r.status !== 201) {
    const message = (() => {
      try {
        return (JSON.parse(r.body) as {message?: string}).message ?? r.body
      } catch {
        return r.body
      }
    })()
    throw new UpgradeError('NG1207', {server: kube.server, reason: `${r.status}: ${message.slice(0, 300)}`})
  }
  return {
    dryRun: false,
    plan,
    handedOver: {namespace: HANDOVER.namespace, name: HANDOVER.name, server: kube.server, version: plan.to, planHash: plan.hash},
  }
}

/** The human form of an upgrade's result: the plan step by step, then what was handed over. */
export function upgradeReport(r: UpgradeResult): string {
  const p = r.plan
  const from = {flag: '--from', api: 'the API server', state: 'the state'}[p.fromSource]
  const out = [
    `upgrade ${p.cluster}: ${p.from} to ${p.to} (${p.kind === 'none' ? 'nothing to do' : `${p.kind} release`}; ${p.from} from ${from})`,
  ]
  if (p.kind === 'none') return out.join('\n')
  out.push('', 'control planes, one at a time (after installing the new kubeadm on each):')
  out.push(
    table(
      ['ORDER', 'NODE', 'RUNS'],
      p.controlPlanes.map((c) => [c.order, c.node, c.command]),
    ),
  )
  out.push('  then on each, once its turn is done: the new kubelet and kubectl, systemctl daemon-reload, systemctl restart kubelet')
  out.push('', 'packages:')
  out.push(
    table(
      ['OS', 'NODES', 'PACKAGES', 'FROM'],
      p.packages.map((k) => [k.os, k.nodes.join(','), k.requests.join(' ') || undefined, k.sysext ?? k.repository]),
    ),
  )
  out.push(
    '',
    p.etcd.stacked
      ? `etcd (stacked): kubeadm upgrades it with each control plane, ${p.etcd.changes ? `${p.etcd.from} to ${p.etcd.to}` : `${p.etcd.to} unchanged`}`
      : `etcd (external: ${p.etcd.members.join(', ')}): ${p.etcd.changes ? `${p.etcd.from} to ${p.etcd.to}; re-render the members' seeds, kubeadm does not upgrade external etcd` : `${p.etcd.to} unchanged`}`,
  )
  if (p.containerd)
    out.push(`containerd: nodegen pins ${p.containerd.to} for the new minor (was ${p.containerd.from}); new seeds install it`)
  out.push(
    '',
    p.workers.batches.length > 0
      ? `workers, ${p.workers.maxUnavailable} at a time: ${p.workers.batches.map((b) => b.join(', ')).join(' | ')}`
      : 'workers: none',
  )
  for (const s of p.workers.steps) out.push(`  - ${s}`)
  out.push(
    '',
    p.images.length > 0 ? `images new in ${p.to} (pre-pull them, or put them in the mirror first):` : `no image is new in ${p.to}`,
  )
  if (p.images.length > 0)
    out.push(
      table(
        ['IMAGE', 'COMPONENT', 'ROLES'],
        p.images.map((i) => [i.image, i.component, i.roles.join(',')]),
      ),
    )
  out.push('', `plan ${p.hash}`)
  if (r.handedOver)
    out.push(
      `handed over: ConfigMap ${r.handedOver.namespace}/${r.handedOver.name} at ${r.handedOver.server} holds version ${r.handedOver.version} and the plan's hash; run the steps above on the nodes (docs/day-two.md)`,
    )
  else out.push('dry run: nothing was changed')
  return out.join('\n')
}
