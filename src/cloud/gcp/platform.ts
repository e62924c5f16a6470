/**
 * The GCE profile section as launch and destroy read it, and the names, labels and URLs of what
 * nodegen makes on Compute Engine: labels and names are how a re-run and destroy find the cluster's
 * resources, so every file that creates or looks one up takes them from here. Also the vendors'
 * public image families, for nodes whose profile names no image.
 */
import type {Cluster, ClusterNode, OsId, Role} from '../../profile/index.js'
import {boundedName} from '../common.js'
import {LaunchError} from '../types.js'

export type GcpPlatform = NonNullable<Cluster['platform']['gcp']>

export const LABEL_CLUSTER = 'nodegen-cluster'
export const LABEL_NODE = 'nodegen-node'
export const LABEL_ROLE = 'nodegen-role'

/**
 * The vendors' public image families on GCE, used when the profile names no image and the cluster
 * is not baked (a baked cluster must use the image `nodegen image build` made).
 */
export const PUBLIC_IMAGE_FAMILY: Readonly<Partial<Record<OsId, string>>> = Object.freeze({
  'almalinux-9': 'projects/almalinux-cloud/global/images/family/almalinux-9',
  'almalinux-10': 'projects/almalinux-cloud/global/images/family/almalinux-10',
  'rocky-9': 'projects/rocky-linux-cloud/global/images/family/rocky-linux-9',
  'centos-stream-9': 'projects/centos-cloud/global/images/family/centos-stream-9',
  'centos-stream-10': 'projects/centos-cloud/global/images/family/centos-stream-10',
  'debian-12': 'projects/debian-cloud/global/images/family/debian-12',
  'debian-13': 'projects/debian-cloud/global/images/family/debian-13',
  'ubuntu-24.04': 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
  flatcar: 'projects/kinvolk-public/global/images/family/flatcar-stable',
})

export function platformOf(cluster: Cluster): GcpPlatform {
  const gcp = cluster.platform.gcp
  if (!gcp) throw new LaunchError('spec.platform.gcp is missing: launch gcp needs the project, zone and machine type')
  return gcp
}

export function regionOf(gcp: GcpPlatform): string {
  return gcp.region ?? gcp.zone.replace(/-[a-z]$/, '')
}

/** GCE resource names: lowercase RFC 1035, at most 63 characters. */
export function gceName(...parts: string[]): string {
  return boundedName(parts, 63)
}

export function networkTag(cluster: string, role: Role): string {
  return gceName('nodegen', cluster, role)
}

export function networkUrl(gcp: GcpPlatform): string {
  return gcp.network.includes('/') ? gcp.network : `projects/${gcp.project}/global/networks/${gcp.network}`
}

export function subnetworkUrl(gcp: GcpPlatform): string | undefined {
  if (!gcp.subnetwork) return undefined
  return gcp.subnetwork.includes('/') ? gcp.subnetwork : `projects/${gcp.project}/regions/${regionOf(gcp)}/subnetworks/${gcp.subnetwork}`
}

export function imageUrl(gcp: GcpPlatform, image: string): string {
  return image.includes('/') ? image : `projects/${gcp.project}/global/images/${image}`
}

export function zoneOf(gcp: GcpPlatform, n: ClusterNode): string {
  return n.zone ?? gcp.zone
}

export function labels(cluster: Cluster, extra: Record<string, string>): Record<string, string> {
  const all: Record<string, string> = {...platformOf(cluster).labels, [LABEL_CLUSTER]: cluster.name, ...extra}
  return Object.fromEntries(Object.keys(all).map((k) => [k, all[k] as string]))
}

/** The load balancer's names: one for the address, health check, backend service and forwarding rule, one for the instance groups. */
export function lbNames(cluster: Cluster): {lbName: string; groupName: string} {
  return {lbName: gceName(cluster.name, 'api'), groupName: gceName(cluster.name, 'control-planes')}
}
