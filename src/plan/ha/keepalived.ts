/**
 * keepalived: the VIP by VRRP among the control planes (kubeadm's docs/ha-considerations.md).
 * Control plane 0 starts as MASTER with the highest priority, so it holds the VIP it needs for
 * `kubeadm init`; a node whose check fails drops below every healthy node.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {controlPlanes} from '../../profile/model.js'
import {header} from '../files.js'
import {knownAddress} from '../kubeadm/paths.js'
import {CHECK_SCRIPT_PATH, ENDPOINT_ENV_KEYS} from './check-apiserver.js'

export const KEEPALIVED_CONF_PATH = '/etc/keepalived/keepalived.conf'

/** Priority of control plane 0; each next ordinal is one lower. */
const TOP_PRIORITY = 150
/**
 * Subtracted while the check fails: larger than any spread of priorities, so a failing node always
 * ranks below a healthy one, and when every check fails (before `kubeadm init`) the order is kept
 * and control plane 0 still holds the VIP.
 */
const CHECK_WEIGHT = -50

export function vrrpPriority(node: ClusterNode): number {
  return TOP_PRIORITY - node.ordinal
}

export function vrrpInterface(cluster: Cluster, node: ClusterNode): string {
  return cluster.loadBalancer.interface ?? node.interface
}

/** The port on 127.0.0.1 the health check asks: haproxy's frontend, or the API server itself. */
export function localCheckPort(cluster: Cluster): number {
  return cluster.loadBalancer.type === 'keepalived-haproxy' ? cluster.endpoint.port : cluster.loadBalancer.apiServerPort
}

export function keepalivedConf(cluster: Cluster, node: ClusterNode): string {
  const lb = cluster.loadBalancer
  const iface = vrrpInterface(cluster, node)
  const ip = knownAddress(node.ip)
  const peers = controlPlanes(cluster)
    .filter((n) => n.index !== node.index)
    .map((n) => knownAddress(n.ip))
    .filter((p): p is string => p !== undefined)
  const lines = [
    'global_defs {',
    `    router_id ${node.name}`,
    // Run the check as root, and refuse it if a non-root user could change it.
    '    enable_script_security',
    '    script_user root',
    '}',
    '',
    'vrrp_script check_apiserver {',
    `    script "${CHECK_SCRIPT_PATH}"`,
    '    interval 3',
    '    timeout 5',
    `    weight ${CHECK_WEIGHT}`,
    '    fall 10',
    '    rise 2',
    '}',
    '',
    'vrrp_instance apiserver {',
    `    state ${node.ordinal === 0 ? 'MASTER' : 'BACKUP'}`,
    `    interface ${iface}`,
    `    virtual_router_id ${lb.virtualRouterId}`,
    `    priority ${vrrpPriority(node)}`,
    '    advert_int 1',
  ]
  if (lb.authPass !== undefined) lines.push('    authentication {', '        auth_type PASS', `        auth_pass ${lb.authPass}`, '    }')
  if (lb.unicast && ip !== undefined) {
    lines.push(`    unicast_src_ip ${ip}`, '    unicast_peer {', ...peers.map((p) => `        ${p}`), '    }')
  }
  lines.push(
    '    virtual_ipaddress {',
    `        ${cluster.endpoint.host}/${node.prefix} dev ${iface}`,
    '    }',
    '    track_script {',
    '        check_apiserver',
    '    }',
    '}',
  )
  return `${header(cluster, node)}${lines.join('\n')}\n`
}

/** /etc/nodegen/endpoint.env: what check_apiserver.sh reads. */
export function endpointEnv(cluster: Cluster, node: ClusterNode): string {
  const lines = [
    `${ENDPOINT_ENV_KEYS.vip}=${cluster.endpoint.host}`,
    `${ENDPOINT_ENV_KEYS.vipPort}=${cluster.endpoint.port}`,
    `${ENDPOINT_ENV_KEYS.localPort}=${localCheckPort(cluster)}`,
  ]
  return `${header(cluster, node)}${lines.join('\n')}\n`
}
