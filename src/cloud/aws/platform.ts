/**
 * The AWS profile section as launch and destroy read it, and the names and tags nodegen gives what it
 * makes on EC2: tags are how a re-run and destroy find the cluster's resources, so every file that
 * creates or looks up a resource takes them from here.
 */
import type {Cluster, ClusterNode, Role} from '../../profile/index.js'
import {boundedName} from '../common.js'
import {LaunchError} from '../types.js'

export const TAG_CLUSTER = 'nodegen.dev/cluster'
export const TAG_NODE = 'nodegen.dev/node'
export const TAG_ROLE = 'nodegen.dev/role'

export type AwsPlatform = NonNullable<Cluster['platform']['aws']>

export function platformOf(cluster: Cluster): AwsPlatform {
  const aws = cluster.platform.aws
  if (!aws) throw new LaunchError('spec.platform.aws is missing: launch aws needs the region, subnet and instance type')
  return aws
}

/** A node's subnet: its own, or the platform's. */
export function subnetOf(aws: AwsPlatform, n: ClusterNode): string {
  return n.subnetId ?? aws.subnetId
}

export function securityGroupName(cluster: string, role: Role): string {
  return boundedName(['nodegen', cluster, role], 255)
}

/** NLB and target group names: at most 32 characters, letters, digits and hyphens. */
export function elbName(cluster: string): string {
  return boundedName([cluster, 'api'], 32)
}

export function tags(cluster: Cluster, extra: Record<string, string>): Array<{Key: string; Value: string}> {
  const all: Record<string, string> = {...platformOf(cluster).tags, [TAG_CLUSTER]: cluster.name, ...extra}
  return Object.keys(all)
    .sort()
    .map((Key) => ({Key, Value: all[Key] as string}))
}
