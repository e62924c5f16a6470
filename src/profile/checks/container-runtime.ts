/**
 * spec.containerRuntime: the mirrors containerd.io and CRI-O come from, and the containerd version
 * pin; and the section as the Cluster carries it. Two checks, because the mirrors are judged with
 * the Kubernetes section's repositories and the pin once the nodes' operating systems are known.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {KubernetesTarget} from '../kubernetes.js'
import {type Cluster, type ClusterNode, OS_INFO} from '../model.js'
import type {Profile} from '../schema.js'
import {checkRepository, checkUrl} from './fields.js'

type RuntimeSection = Profile['spec']['containerRuntime']

export function checkRuntimeRepositories(report: Report, runtime: RuntimeSection): void {
  const path: FieldPath = ['spec', 'containerRuntime']
  if (runtime.dockerRepository !== undefined) checkUrl(report, [...path, 'dockerRepository'], runtime.dockerRepository)
  if (runtime.crioRepository !== undefined) checkRepository(report, [...path, 'crioRepository'], 'cri-o', runtime.crioRepository)
}

/**
 * containerd's version: a pin applies to Docker's containerd.io only, and must be a release number
 * (it becomes the apt and dnf version nodegen asks for). The distribution's own containerd is not
 * pinned; where it is a 1.x release, out of upstream support, the profile is told.
 */
export function checkContainerRuntime(report: Report, runtime: RuntimeSection, target: KubernetesTarget, nodes: ClusterNode[]): void {
  const path: FieldPath = ['spec', 'containerRuntime']
  if (runtime.version !== undefined) {
    if (!/^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}$/.test(runtime.version))
      report.error([...path, 'version'], 'NG0312', {value: JSON.stringify(runtime.version)})
    else if (runtime.type === 'cri-o')
      report.error([...path, 'version'], 'NG0432', {why: "CRI-O's version follows the Kubernetes minor (its stream)"})
    else if (runtime.source === 'distribution')
      report.error([...path, 'version'], 'NG0432', {
        why: "source distribution installs the distribution's package, which nodegen does not pin",
      })
  }
  if (runtime.type !== 'containerd' || runtime.source !== 'distribution') return
  const reported = new Set<string>()
  for (const n of nodes) {
    const own = OS_INFO[n.os].distributionContainerd
    if (own === undefined || !own.startsWith('1.') || reported.has(n.os)) continue
    reported.add(n.os)
    report.warn([...path, 'source'], 'NG0431', {os: OS_INFO[n.os].pretty, version: own, pinned: target.containerdVersion})
  }
}

/** The section, with the containerd release nodegen pins when containerd comes from Docker's repository. */
export function runtimeModel(runtime: RuntimeSection, target: KubernetesTarget): Cluster['runtime'] {
  return {
    ...runtime,
    ...(runtime.type === 'containerd' && runtime.source !== 'distribution' ? {version: runtime.version ?? target.containerdVersion} : {}),
  }
}
