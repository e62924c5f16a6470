/**
 * spec.controlPlaneEndpoint and spec.loadBalancer, together because the load balancer holds the
 * endpoint: whether the cluster needs an endpoint, whether a VIP fits the control planes' subnet and
 * the platform, the VRRP and kube-vip settings; and the endpoint and load balancer as the Cluster
 * carries them.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import {imageMirrorOf, mirrorImage} from '../image-mirror.js'
import type {Cluster, ClusterNode, Endpoint} from '../model.js'
import {type Cidr, cidrContains, cidrString, isDnsName, isIPv4, parseCidr} from '../net.js'
import type {Profile} from '../schema.js'
import {isImageRef} from '../text.js'
import {checkInterface} from './fields.js'

/** The endpoint: the profile's (a VIP or an external address), or control plane 0 itself without one. */
export function checkEndpoint(report: Report, s: Profile['spec'], nodes: ClusterNode[]): Endpoint {
  const spec: FieldPath = ['spec']
  const cps = nodes.filter((n) => n.role === 'control-plane')
  const lb = s.loadBalancer
  const lbPath: FieldPath = [...spec, 'loadBalancer']
  const epPath: FieldPath = [...spec, 'controlPlaneEndpoint']
  const cp0 = cps[0]
  if (s.controlPlaneEndpoint === undefined) {
    if (cps.length > 1) report.error(epPath, 'NG0401', {count: cps.length})
    else if (cps.length === 1) report.warn([...spec], 'NG0422')
    return {host: cp0?.ip ?? '0.0.0.0', port: lb.apiServerPort, kind: 'node'}
  }
  const host = s.controlPlaneEndpoint.host
  const usesVip = lb.type !== 'external'
  if (!isIPv4(host) && !isDnsName(host))
    report.error([...epPath, 'host'], 'NG0301', {value: host, what: 'endpoint host', why: 'an IPv4 address or a DNS name'})
  if (usesVip) {
    if (s.platform.type === 'aws' || s.platform.type === 'gcp') report.error([...lbPath, 'type'], 'NG0414', {platform: s.platform.type})
    if (!isIPv4(host)) report.error([...epPath, 'host'], 'NG0410', {lb: lb.type, host})
    else {
      const owner = nodes.find((n) => n.ip === host)
      if (owner) report.error([...epPath, 'host'], 'NG0408', {vip: host, node: owner.name})
      const cpSubnets = cps.map((n) => parseCidr(`${n.ip}/${n.prefix}`)).filter((c): c is Cidr => c !== undefined)
      const first = cpSubnets[0]
      if (first && !cidrContains(first, host)) report.error([...epPath, 'host'], 'NG0409', {vip: host, subnet: cidrString(first)})
      const other = cpSubnets.find((c) => first && cidrString(c) !== cidrString(first))
      if (first && other) report.error([...spec, 'nodes'], 'NG0209', {a: cidrString(first), b: cidrString(other)})
    }
    if (lb.authPass !== undefined) {
      if (lb.authPass.length > 8) report.warn([...lbPath, 'authPass'], 'NG0417')
      if (!/^[A-Za-z0-9._+-]+$/.test(lb.authPass))
        report.error([...lbPath, 'authPass'], 'NG0301', {
          value: '(hidden)',
          what: 'VRRP password',
          why: 'letters, digits, ".", "_", "+" and "-"',
        })
    }
    if (lb.interface !== undefined) checkInterface(report, [...lbPath, 'interface'], lb.interface)
  }
  if ((lb.type === 'keepalived' || lb.type === 'kube-vip') && s.controlPlaneEndpoint.port !== lb.apiServerPort)
    report.error([...epPath, 'port'], 'NG0419', {
      what: 'endpoint port',
      value: s.controlPlaneEndpoint.port,
      why: `with ${lb.type} the VIP forwards to no proxy, so clients reach the API server's own port ${lb.apiServerPort} (set both to the same value)`,
    })
  if (lb.type === 'kube-vip' && !isImageRef(lb.kubeVipImage))
    report.error([...lbPath, 'kubeVipImage'], 'NG0301', {value: lb.kubeVipImage, what: 'image', why: 'a container image reference'})
  return {host, port: s.controlPlaneEndpoint.port, kind: usesVip ? 'vip' : 'external'}
}

export function loadBalancerModel(s: Profile['spec']): Cluster['loadBalancer'] {
  const lb = s.loadBalancer
  return {
    type: s.controlPlaneEndpoint === undefined ? 'external' : lb.type,
    ...(lb.interface !== undefined ? {interface: lb.interface} : {}),
    virtualRouterId: lb.virtualRouterId,
    unicast: lb.unicast,
    ...(lb.authPass !== undefined ? {authPass: lb.authPass} : {}),
    apiServerPort: lb.apiServerPort,
    // The image the static pod names, under the profile's mirror (image-mirror.ts).
    kubeVipImage: mirrorImage(lb.kubeVipImage, imageMirrorOf(s.kubernetes.imageRepository, s.kubernetes.imageMirrors)),
  }
}
