/**
 * The kubeadm configuration of one node: `/etc/nodegen/kubeadm/config.yaml` for `kubeadm init` (control
 * plane 0) or `kubeadm join` (every other control plane and worker), plus its patches under
 * `/etc/nodegen/kubeadm/patches/`; control plane 0 also gets `rejoin.yaml`, the join configuration it
 * uses when it boots again with an empty disk and finds the cluster running. Pure; the API version comes from src/plan/target.ts.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {file, header} from '../files.js'
import {kubeadmApiFor} from '../target.js'
import type {PlanFile} from '../types.js'
import {buildClusterSpec, buildInitSpec, buildJoinSpec, type KubeadmSecrets, kubeadmTimeouts, patchesDirectory} from './build.js'
import {kubeletConfiguration, kubeProxyConfiguration} from './component-config.js'
import {buildKubeadmPatches} from './patches.js'
import {KUBEADM_CONFIG, KUBEADM_PATCHES_DIR, KUBEADM_REJOIN_CONFIG, KUBEADM_UPGRADE_CONFIG} from './paths.js'
import {type YamlDoc, yamlStream} from './yaml.js'

export {certSANs, DEFAULT_TOKEN_GROUPS, DEFAULT_TOKEN_USAGES, endpointAddress, type KubeadmSecrets} from './build.js'
export {apiServerSharesHaproxyPort} from './patches.js'
export * from './paths.js'
export type {KubeadmApiModule} from './spec.js'
export {canonical, yamlStream} from './yaml.js'

const PREPULL_NOTE = [
  ' Read only by `kubeadm config images pull` (the image pre-pull, which needs the version and the',
  " image repository); `kubeadm join` ignores this document and uses the cluster's configuration",
  ' from the kubeadm-config ConfigMap.',
].join('\n')

/** The documents of config.yaml for one node, in the order kubeadm's docs show them. */
export function kubeadmDocuments(cluster: Cluster, node: ClusterNode, secrets: KubeadmSecrets): YamlDoc[] {
  const api = kubeadmApiFor(cluster.kubernetes)
  if (node.role === 'etcd') return []
  if (node.role === 'control-plane' && node.ordinal === 0)
    return [
      {value: api.initConfiguration(buildInitSpec(cluster, node, secrets))},
      {value: api.clusterConfiguration(buildClusterSpec(cluster))},
      {value: kubeletConfiguration(cluster)},
      {value: kubeProxyConfiguration(cluster)},
    ]
  return joinDocuments(cluster, node, secrets)
}

function joinDocuments(cluster: Cluster, node: ClusterNode, secrets: KubeadmSecrets): YamlDoc[] {
  const api = kubeadmApiFor(cluster.kubernetes)
  const join: YamlDoc = {value: api.joinConfiguration(buildJoinSpec(cluster, node, secrets))}
  // The bootstrap program pre-pulls control-plane images with `kubeadm config images pull --config`,
  // which fails on a file without an Init- or ClusterConfiguration.
  if (node.role === 'control-plane') return [join, {value: api.clusterConfiguration(buildClusterSpec(cluster)), comment: PREPULL_NOTE}]
  return [join]
}

/**
 * `/etc/nodegen/kubeadm/config.yaml` (0600, secret: it carries the bootstrap token) and the node's
 * kubeadm patches. Nothing for etcd members, which never run kubeadm.
 */
export function buildKubeadmFiles(cluster: Cluster, node: ClusterNode, s: KubeadmSecrets): PlanFile[] {
  const docs = kubeadmDocuments(cluster, node, s)
  if (docs.length === 0) return []
  const files = [file(KUBEADM_CONFIG, yamlStream(header(cluster, node), docs), 'kubeadm:config', {secret: true})]
  // Control plane 0 booted again with nothing of its own (a replaced machine, a fresh disk) finds the
  // cluster running and joins it like any other control plane, instead of initialising a second one.
  if (node.role === 'control-plane' && node.ordinal === 0)
    files.push(
      file(KUBEADM_REJOIN_CONFIG, yamlStream(header(cluster, node), joinDocuments(cluster, node, s)), 'kubeadm:rejoin', {secret: true}),
    )
  for (const p of buildKubeadmPatches(cluster, node)) files.push(file(p.path, p.content, 'kubeadm:patches', {mode: 0o644}))
  const upgrade = upgradeFile(cluster, node)
  if (upgrade) files.push(upgrade)
  return files
}

/**
 * The control plane's `kubeadm upgrade` configuration. The API server's `--bind-address` (haproxy
 * holds VIP:port and 127.0.0.1:port on the same port) exists only as a kubeadm patch, and `kubeadm
 * upgrade` rewrites the static pods without it unless given the patches: an upgrade without them
 * leaves an API server that cannot bind. With kubeadm's v1beta4 API (Kubernetes 1.31+) the patches
 * go in an UpgradeConfiguration for `kubeadm upgrade apply <version> --config` (the first control
 * plane) and `kubeadm upgrade node --config` (the others); v1beta3 has no such document, and its
 * upgrades take `--patches` (the comment says which).
 */
function upgradeFile(cluster: Cluster, node: ClusterNode): PlanFile | undefined {
  if (node.role !== 'control-plane') return undefined
  const api = kubeadmApiFor(cluster.kubernetes)
  const dir = patchesDirectory(cluster, node)
  if (!api.upgradeConfiguration) {
    if (dir === undefined) return undefined
    const text = `${header(cluster, node).trimEnd()}\n# kubeadm ${api.api} has no UpgradeConfiguration: upgrade this control plane with\n#   kubeadm upgrade apply <version> --patches ${KUBEADM_PATCHES_DIR}   (the first one)\n#   kubeadm upgrade node --patches ${KUBEADM_PATCHES_DIR}               (the others)\n`
    return file(KUBEADM_UPGRADE_CONFIG, text, 'kubeadm:upgrade', {mode: 0o644})
  }
  const comment = [
    ' Upgrade this control plane with this file, so kubeadm keeps its patches:',
    `   kubeadm upgrade apply <version> --config ${KUBEADM_UPGRADE_CONFIG}   (the first one)`,
    `   kubeadm upgrade node --config ${KUBEADM_UPGRADE_CONFIG}              (the others)`,
  ].join('\n')
  return file(
    KUBEADM_UPGRADE_CONFIG,
    yamlStream(header(cluster, node), [
      {value: api.upgradeConfiguration({timeouts: kubeadmTimeouts(cluster), patchesDirectory: dir}), comment},
    ]),
    'kubeadm:upgrade',
    {mode: 0o644},
  )
}
