/**
 * spec.networking: the pod and service networks (each a CIDR, apart, the pod network agreeing with
 * the CNI), the cluster's DNS domain, the nodes' default gateway, resolvers and time servers, and
 * the CNI's manifest; and the section as the Cluster carries it. The node addresses are checked
 * against these networks with the nodes (nodes.ts).
 */
import {CNI_INFO, type CniInfo} from '../cni.js'
import type {FieldPath, Report} from '../diagnostics.js'
import type {Cluster} from '../model.js'
import {type Cidr, cidrString, cidrsOverlap, isDnsName, isIPv4, nthAddress, parseCidr} from '../net.js'
import type {CniType, Profile} from '../schema.js'
import {unsafeChar} from '../text.js'
import {checkInterface, checkUrl} from './fields.js'

type NetworkingSection = Profile['spec']['networking']

/** The pod and service networks; undefined where the subnet does not parse (already reported). */
export interface Networks {
  pod?: Cidr
  svc?: Cidr
}

export function checkNetworking(report: Report, net: NetworkingSection): Networks {
  const netPath: FieldPath = ['spec', 'networking']
  const cniType = net.cni.type
  const cniInfo = cniInfoOf(cniType)
  let podSubnet = net.podSubnet
  if (podSubnet === undefined) {
    if (!cniInfo) report.error([...netPath, 'podSubnet'], 'NG0412')
    podSubnet = cniInfo?.defaultPodSubnet ?? '10.244.0.0/16'
  } else if (
    cniType === 'cilium' &&
    parseCidr(podSubnet) &&
    cidrString(parseCidr(podSubnet) as Cidr) !== CNI_INFO.cilium.defaultPodSubnet
  ) {
    // flannel's manifest is rewritten by the bootstrap and calico reads kubeadm's podSubnet; a
    // cilium manifest comes from the user, so only they can make it agree.
    report.warn([...netPath, 'podSubnet'], 'NG0411', {subnet: podSubnet, cni: cniType, expected: CNI_INFO.cilium.defaultPodSubnet})
  }
  const pod = checkCidr(report, [...netPath, 'podSubnet'], podSubnet)
  const svc = checkCidr(report, [...netPath, 'serviceSubnet'], net.serviceSubnet)
  if (pod && svc && cidrsOverlap(pod, svc))
    report.error([...netPath, 'serviceSubnet'], 'NG0204', {
      what: 'service subnet',
      a: net.serviceSubnet,
      otherWhat: 'pod subnet',
      b: podSubnet,
    })
  if (!isDnsName(net.dnsDomain))
    report.error([...netPath, 'dnsDomain'], 'NG0301', {
      value: net.dnsDomain,
      what: 'DNS domain',
      why: 'lowercase RFC 1123 labels separated by dots',
    })
  if (net.gateway !== undefined && !isIPv4(net.gateway)) report.error([...netPath, 'gateway'], 'NG0200', {value: net.gateway})
  net.dnsServers.forEach((d, i) => {
    if (!isIPv4(d)) report.error([...netPath, 'dnsServers', i], 'NG0200', {value: d})
  })
  net.searchDomains.forEach((d, i) => {
    if (!isDnsName(d))
      report.error([...netPath, 'searchDomains', i], 'NG0301', {
        value: d,
        what: 'search domain',
        why: 'lowercase RFC 1123 labels separated by dots',
      })
  })
  net.ntpServers.forEach((d, i) => {
    if (!isIPv4(d) && !isDnsName(d))
      report.error([...netPath, 'ntpServers', i], 'NG0301', {value: d, what: 'NTP server', why: 'an IPv4 address or a DNS name'})
  })
  checkInterface(report, [...netPath, 'interface'], net.interface)
  const cniPath = [...netPath, 'cni']
  if (net.cni.manifestUrl !== undefined) checkUrl(report, [...cniPath, 'manifestUrl'], net.cni.manifestUrl)
  const sha = net.cni.manifestSha256
  if (sha !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha))
    report.error([...cniPath, 'manifestSha256'], 'NG0301', {value: sha, what: 'SHA-256 digest', why: 'it must be 64 hexadecimal digits'})
  const mf = net.cni.manifestFile
  if (mf !== undefined && unsafeChar(mf)) report.error([...cniPath, 'manifestFile'], 'NG0302', {char: unsafeChar(mf), what: 'a file name'})
  else if (mf !== undefined && (mf.startsWith('/') || mf.split(/[\\/]/).includes('..')))
    report.error([...cniPath, 'manifestFile'], 'NG0301', {
      value: mf,
      what: 'CNI manifest file',
      why: 'a path relative to the profile, inside its directory (no leading / and no ..)',
    })
  if (net.cni.version !== undefined && !/^v?[0-9]+\.[0-9]+\.[0-9]+$/.test(net.cni.version))
    report.error([...cniPath, 'version'], 'NG0301', {value: net.cni.version, what: 'CNI version', why: 'like v0.26.4'})
  if (cniType === 'cilium' && net.cni.manifestUrl === undefined && net.cni.manifestFile === undefined)
    report.error([...cniPath], 'NG0419', {
      what: 'CNI',
      value: 'cilium',
      why: 'cilium publishes no plain manifest: render one with `helm template cilium cilium/cilium --namespace kube-system` and set manifestFile (or manifestUrl)',
    })
  return {pod, svc}
}

/** The section with the CNI's defaults filled in, the cluster DNS address and /etc/hosts' scope worked out. */
export function networkingModel(net: NetworkingSection, networks: Networks, nodeCount: number): Cluster['networking'] {
  const {pod, svc} = networks
  const cniInfo = cniInfoOf(net.cni.type)
  const sha = net.cni.manifestSha256
  return {
    podSubnet: cidrString(pod as Cidr),
    serviceSubnet: cidrString(svc as Cidr),
    dnsDomain: net.dnsDomain,
    clusterDns: nthAddress(svc as Cidr, 10),
    cni: {
      type: net.cni.type,
      version: net.cni.version ?? cniInfo?.defaultVersion ?? '',
      ...(net.cni.manifestUrl !== undefined
        ? {manifestUrl: net.cni.manifestUrl}
        : cniInfo?.manifestUrl && net.cni.manifestFile === undefined
          ? {manifestUrl: cniInfo.manifestUrl(net.cni.version ?? cniInfo.defaultVersion)}
          : {}),
      ...(net.cni.manifestFile !== undefined ? {manifestFile: net.cni.manifestFile} : {}),
      ...(sha !== undefined && net.cni.manifestFile === undefined ? {manifestSha256: sha.toLowerCase()} : {}),
    },
    ...(net.gateway !== undefined ? {gateway: net.gateway} : {}),
    dnsServers: net.dnsServers,
    searchDomains: net.searchDomains,
    interface: net.interface,
    ntpServers: net.ntpServers,
    etcHosts: net.etcHosts === 'auto' ? (nodeCount <= 100 ? 'all' : 'infrastructure') : net.etcHosts,
  }
}

function cniInfoOf(type: CniType): CniInfo | undefined {
  return type === 'none' ? undefined : CNI_INFO[type]
}

function checkCidr(report: Report, path: FieldPath, value: string): Cidr | undefined {
  const c = parseCidr(value)
  if (!c) report.error(path, 'NG0207', {value})
  return c
}
