/**
 * The API endpoint on the control planes: keepalived + haproxy, keepalived alone, kube-vip, or
 * nothing (an external load balancer or DNS name). Workers and etcd members get nothing.
 */
import type {Cluster, ClusterNode, LoadBalancerType} from '../../profile/index.js'
import {file} from '../files.js'
import type {PlanFile, PlanUnit} from '../types.js'
import {CHECK_APISERVER_SCRIPT, CHECK_SCRIPT_PATH, ENDPOINT_ENV_PATH} from './check-apiserver.js'
import {HAPROXY_CFG_PATH, haproxyCfg, NONLOCAL_BIND_SYSCTL_PATH, nonlocalBindSysctl} from './haproxy.js'
import {endpointEnv, KEEPALIVED_CONF_PATH, keepalivedConf} from './keepalived.js'
import {kubeVipManifests} from './kube-vip.js'

export * from './check-apiserver.js'
export {HAPROXY_CFG_PATH, NONLOCAL_BIND_SYSCTL_PATH} from './haproxy.js'
export {KEEPALIVED_CONF_PATH, localCheckPort, vrrpPriority} from './keepalived.js'
export {KUBE_VIP_INIT_PATH, KUBE_VIP_PATH} from './kube-vip.js'

export interface EndpointFiles {
  files: PlanFile[]
  units: PlanUnit[]
}

/** A unit the distribution's package ships: nodegen only enables it. */
function packagedUnit(name: string): PlanUnit {
  return {name, enabled: true, dropIns: []}
}

function keepalivedFiles(cluster: Cluster, node: ClusterNode): EndpointFiles {
  // auth_pass is a shared secret of the VRRP group: keep it from other local users and from logs.
  const secret = cluster.loadBalancer.authPass !== undefined
  return {
    files: [
      file(KEEPALIVED_CONF_PATH, keepalivedConf(cluster, node), 'endpoint:keepalived', {secret}),
      file(CHECK_SCRIPT_PATH, CHECK_APISERVER_SCRIPT, 'endpoint:keepalived', {mode: 0o755}),
      file(ENDPOINT_ENV_PATH, endpointEnv(cluster, node), 'endpoint:keepalived', {mode: 0o644}),
    ],
    units: [packagedUnit('keepalived.service')],
  }
}

const BUILDERS: Readonly<Record<LoadBalancerType, (cluster: Cluster, node: ClusterNode) => EndpointFiles>> = Object.freeze({
  'keepalived-haproxy': (cluster, node) => {
    const k = keepalivedFiles(cluster, node)
    return {
      files: [
        ...k.files,
        file(HAPROXY_CFG_PATH, haproxyCfg(cluster, node), 'endpoint:haproxy', {mode: 0o644}),
        file(NONLOCAL_BIND_SYSCTL_PATH, nonlocalBindSysctl(cluster, node), 'endpoint:haproxy', {mode: 0o644}),
      ],
      units: [packagedUnit('haproxy.service'), ...k.units],
    }
  },
  keepalived: keepalivedFiles,
  'kube-vip': (cluster, node) => ({
    files: kubeVipManifests(cluster, node).map((m) => file(m.path, m.content, 'endpoint:kube-vip', {mode: 0o600})),
    units: [],
  }),
  external: () => ({files: [], units: []}),
})

/** The endpoint's files and units of one node, files sorted by path and units by name. */
export function buildEndpointFiles(cluster: Cluster, node: ClusterNode): EndpointFiles {
  if (node.role !== 'control-plane' || cluster.endpoint.kind !== 'vip') return {files: [], units: []}
  const out = BUILDERS[cluster.loadBalancer.type](cluster, node)
  return {
    files: [...out.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    units: [...out.units].sort((a, b) => (a.name < b.name ? -1 : 1)),
  }
}
