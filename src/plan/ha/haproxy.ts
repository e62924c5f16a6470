/**
 * haproxy: the endpoint's TCP load balancer on every control plane (kubeadm's
 * docs/ha-considerations.md), passing TLS through to each API server and checking its /readyz (what the clouds' load balancers check too: it fails while the API server drains).
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {controlPlanes} from '../../profile/model.js'
import {header} from '../files.js'
import {knownAddress} from '../kubeadm/paths.js'

export const HAPROXY_CFG_PATH = '/etc/haproxy/haproxy.cfg'
export const NONLOCAL_BIND_SYSCTL_PATH = '/etc/sysctl.d/90-nodegen-nonlocal-bind.conf'

export function haproxyCfg(cluster: Cluster, node: ClusterNode): string {
  const {host, port} = cluster.endpoint
  const servers = controlPlanes(cluster).flatMap((cp) => {
    const ip = knownAddress(cp.ip)
    return ip === undefined ? [] : [`    server ${cp.name} ${ip}:${cluster.loadBalancer.apiServerPort} check check-ssl verify none`]
  })
  const lines = [
    'global',
    '    log /dev/log local0',
    '    log /dev/log local1 notice',
    '    user haproxy',
    '    group haproxy',
    '    daemon',
    '',
    'defaults',
    '    mode                    tcp',
    '    log                     global',
    '    option                  tcplog',
    '    option                  dontlognull',
    '    option                  redispatch',
    '    retries                 1',
    '    timeout queue           20s',
    '    timeout connect         5s',
    '    timeout client          20s',
    '    timeout server          20s',
    // Watches, logs -f and exec sessions idle longer than the client/server timeouts.
    '    timeout tunnel          1h',
    '    timeout check           10s',
    '',
    // The VIP (ip_nonlocal_bind lets a backup node bind it too) and loopback, which keepalived's check uses.
    'frontend apiserver',
    `    bind ${host}:${port}`,
    `    bind 127.0.0.1:${port}`,
    '    default_backend apiserver',
    '',
    'backend apiserver',
    '    option httpchk GET /readyz',
    '    http-check expect status 200',
    '    balance roundrobin',
    ...servers,
  ]
  return `${header(cluster, node)}${lines.join('\n')}\n`
}

export function nonlocalBindSysctl(cluster: Cluster, node: ClusterNode): string {
  return `${header(cluster, node)}# haproxy binds the VIP on every control plane, also while another one holds it.\nnet.ipv4.ip_nonlocal_bind = 1\n`
}
