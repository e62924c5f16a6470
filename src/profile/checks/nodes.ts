/**
 * spec.nodes: each node's name, address, gateway, MAC, UUID, interface, cloud placement, operating
 * system and boot format, labels, taints and kubelet flags, and what the cluster as a whole needs of
 * its nodes (control planes, etcd members). A node takes its defaults from other sections (os,
 * format, networking, kubelet) and is checked against them where they meet (the runtime and the
 * load balancer on Flatcar), so checkNodes reads the whole spec. Its result is the Cluster's nodes.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import {type ClusterNode, type Format, OS_INFO} from '../model.js'
import {type Cidr, cidrContains, cidrString, cidrsOverlap, ipToInt, isHostnameLabel, isIPv4, normaliseMac, parseCidr} from '../net.js'
import type {Profile} from '../schema.js'
import {checkExtraArgs, checkInterface, checkLabels, checkTaints} from './fields.js'
import type {Networks} from './networking.js'

/** Every node checked and normalised, in profile order; the node addresses against the cluster's networks. */
export function checkNodes(report: Report, s: Profile['spec'], networks: Networks): ClusterNode[] {
  const spec: FieldPath = ['spec']
  const netPath = [...spec, 'networking']
  const {pod, svc} = networks
  const nodes: ClusterNode[] = []
  let flatcarLbReported = false
  const byName = new Map<string, number>()
  const byIp = new Map<string, number>()
  const byMac = new Map<string, number>()
  const ordinals = {'control-plane': 0, worker: 0, etcd: 0}
  let nodeSubnet: Cidr | undefined
  s.nodes.forEach((n, i) => {
    const np: FieldPath = [...spec, 'nodes', i]
    if (!isHostnameLabel(n.name)) report.error([...np, 'name'], 'NG0300', {value: n.name})
    const dupName = byName.get(n.name)
    if (dupName !== undefined) report.error([...np, 'name'], 'NG0205', {what: 'node name', value: n.name, other: `spec.nodes[${dupName}]`})
    else byName.set(n.name, i)

    let ip = '0.0.0.0'
    let prefix = 32
    let subnet: Cidr | undefined
    if (n.ip === undefined) {
      report.error([...np, 'ip'], 'NG0208', {
        node: n.name,
        why: 'nodegen writes /etc/hosts and static addressing for every node, so every node needs ip (like 10.0.0.110/24)',
      })
    } else {
      const c = parseCidr(n.ip)
      if (!c) {
        const bare = n.ip.split('/')[0] as string
        report.error([...np, 'ip'], isIPv4(bare) ? 'NG0201' : 'NG0200', {value: isIPv4(bare) ? n.ip : bare})
      } else {
        ip = c.address
        prefix = c.prefix
        subnet = c
        const off = ipToInt(ip) - c.network
        if (c.prefix < 31 && (off === 0 || off === c.size - 1)) report.error([...np, 'ip'], 'NG0202', {ip, subnet: cidrString(c)})
        const dupIp = byIp.get(ip)
        if (dupIp !== undefined)
          report.error([...np, 'ip'], 'NG0205', {what: 'IP', value: ip, other: `spec.nodes[${dupIp}] (${s.nodes[dupIp]?.name})`})
        else byIp.set(ip, i)
        for (const [what, other, otherName] of [
          ['node subnet', pod, 'pod subnet'],
          ['node subnet', svc, 'service subnet'],
        ] as const) {
          if (other && cidrsOverlap(c, other))
            report.error([...np, 'ip'], 'NG0204', {what, a: cidrString(c), otherWhat: otherName, b: cidrString(other)})
        }
        if (nodeSubnet === undefined) nodeSubnet = c
      }
    }
    const gateway = n.gateway ?? s.networking.gateway
    if (n.gateway !== undefined && !isIPv4(n.gateway)) report.error([...np, 'gateway'], 'NG0200', {value: n.gateway})
    else if (gateway !== undefined && isIPv4(gateway) && subnet && !cidrContains(subnet, gateway))
      report.error(n.gateway !== undefined ? [...np, 'gateway'] : [...netPath, 'gateway'], 'NG0203', {gateway, subnet: cidrString(subnet)})

    let mac: string | undefined
    if (n.mac !== undefined) {
      mac = normaliseMac(n.mac)
      if (!mac) report.error([...np, 'mac'], 'NG0206', {value: n.mac})
      else {
        const dup = byMac.get(mac)
        if (dup !== undefined)
          report.error([...np, 'mac'], 'NG0205', {what: 'MAC', value: mac, other: `spec.nodes[${dup}] (${s.nodes[dup]?.name})`})
        else byMac.set(mac, i)
      }
    }
    if (n.uuid !== undefined && !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(n.uuid))
      report.error([...np, 'uuid'], 'NG0301', {value: n.uuid, what: 'SMBIOS UUID', why: 'like 4c4c4544-0042-3510-8052-b4c04f4e4d32'})
    if (n.interface !== undefined) checkInterface(report, [...np, 'interface'], n.interface)
    for (const [key, val] of [
      ['instanceType', n.instanceType],
      ['subnetId', n.subnetId],
      ['zone', n.zone],
    ] as const) {
      if (val !== undefined && !/^[A-Za-z0-9._-]+$/.test(val))
        report.error([...np, key], 'NG0301', {value: val, what: key, why: 'letters, digits, ".", "_" and "-"'})
    }

    const os = n.os ?? s.os
    const family = OS_INFO[os].family
    const format: Format = n.format ?? s.format ?? (family === 'flatcar' ? 'ignition' : 'cloud-init')
    if (family === 'flatcar' && format !== 'ignition')
      report.error([...np, n.format !== undefined ? 'format' : 'os'], 'NG0413', {os, need: 'Ignition', format})
    if (family !== 'flatcar' && format === 'ignition')
      report.error([...np, n.format !== undefined ? 'format' : 'os'], 'NG0413', {os, need: 'cloud-init', format})
    if (family === 'flatcar' && s.containerRuntime.type === 'cri-o') report.error([...spec, 'containerRuntime', 'type'], 'NG0415', {os})
    const lbType = s.loadBalancer.type
    if (
      family === 'flatcar' &&
      n.role === 'control-plane' &&
      s.controlPlaneEndpoint !== undefined &&
      (lbType === 'keepalived' || lbType === 'keepalived-haproxy') &&
      !flatcarLbReported
    ) {
      flatcarLbReported = true
      report.error([...spec, 'loadBalancer', 'type'], 'NG0426', {lb: lbType, node: n.name})
    }

    checkLabels(report, [...np, 'labels'], n.labels)
    if (n.taints) checkTaints(report, [...np, 'taints'], n.taints)
    checkExtraArgs(report, [...np, 'kubeletExtraArgs'], n.kubeletExtraArgs)
    if (n.role === 'etcd' && (Object.keys(n.labels).length > 0 || n.taints?.length))
      report.error([...np, Object.keys(n.labels).length > 0 ? 'labels' : 'taints'], 'NG0423', {
        role: 'etcd',
        what: 'Kubernetes labels or taints (an etcd member is not a Kubernetes node)',
      })

    const ordinal = ordinals[n.role]++
    const taints =
      n.taints ?? (n.role === 'control-plane' ? [{key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' as const}] : [])
    nodes.push({
      index: i,
      path: np,
      name: n.name,
      role: n.role,
      ordinal,
      os,
      family,
      format,
      ip,
      prefix,
      subnet: subnet ? cidrString(subnet) : '0.0.0.0/32',
      ...(gateway !== undefined ? {gateway} : {}),
      ...(mac !== undefined ? {mac} : {}),
      ...(n.uuid !== undefined ? {uuid: n.uuid.toLowerCase()} : {}),
      interface: n.interface ?? s.networking.interface,
      labels: {...s.kubelet.labels, ...n.labels},
      taints: [...s.kubelet.taints, ...taints],
      kubeletExtraArgs: {...s.kubelet.extraArgs, ...n.kubeletExtraArgs},
      ...(n.instanceType !== undefined ? {instanceType: n.instanceType} : {}),
      ...(n.subnetId !== undefined ? {subnetId: n.subnetId} : {}),
      ...(n.zone !== undefined ? {zone: n.zone} : {}),
    })
  })
  return nodes
}

/** Control planes and etcd members: how many there are against the topology. */
export function checkClusterShape(report: Report, topology: Profile['spec']['topology'], nodes: ClusterNode[]): void {
  const cps = nodes.filter((n) => n.role === 'control-plane')
  const etcds = nodes.filter((n) => n.role === 'etcd')
  if (cps.length === 0) report.error(['spec', 'nodes'], 'NG0400')
  if (cps.length > 1 && cps.length % 2 === 0) report.warn(['spec', 'nodes'], 'NG0405', {count: cps.length, less: cps.length - 1})
  if (topology === 'external') {
    if (etcds.length === 0) report.error(['spec', 'topology'], 'NG0402')
    else if (etcds.length < 3)
      report.warn(['spec', 'topology'], 'NG0403', {count: etcds.length, why: 'fewer than 3 members tolerate no failure'})
    else if (etcds.length % 2 === 0)
      report.warn(['spec', 'topology'], 'NG0403', {
        count: etcds.length,
        why: `an even number adds no fault tolerance over ${etcds.length - 1}`,
      })
  } else if (etcds.length > 0) {
    report.error(etcds[0]?.path.concat('role') ?? ['spec', 'nodes'], 'NG0404')
  }
}
