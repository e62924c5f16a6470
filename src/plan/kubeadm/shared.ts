/** Shapes that v1beta3 and v1beta4 spell the same way (bootstrap tokens, taints, endpoints, discovery). */
import {formatDuration} from '../../profile/text.js'
import type {ApiEndpointSpec, Arg, BootstrapTokenSpec, ClusterSpec, JoinSpec, NodeRegistrationSpec} from './spec.js'

export function bootstrapTokens(tokens: BootstrapTokenSpec[]): Record<string, unknown>[] {
  return tokens.map((t) => ({
    token: t.token,
    description: t.description,
    ttl: formatDuration(t.ttlSeconds),
    usages: t.usages,
    groups: t.groups,
  }))
}

export function apiEndpoint(e: ApiEndpointSpec): Record<string, unknown> {
  return {advertiseAddress: e.advertiseAddress, bindPort: e.bindPort}
}

/** nodeRegistration without kubeletExtraArgs, whose shape is what differs between the versions. */
export function nodeRegistrationBase(n: NodeRegistrationSpec): Record<string, unknown> {
  return {
    name: n.name,
    criSocket: n.criSocket,
    taints: n.taints.map((t) => ({key: t.key, value: t.value, effect: t.effect})),
    ignorePreflightErrors: n.ignorePreflightErrors.length > 0 ? n.ignorePreflightErrors : undefined,
    imagePullPolicy: n.imagePullPolicy,
  }
}

export function discovery(d: JoinSpec['discovery']): Record<string, unknown> {
  return {bootstrapToken: {apiServerEndpoint: d.apiServerEndpoint, token: d.token, caCertHashes: d.caCertHashes}}
}

export function patches(directory: string | undefined): Record<string, unknown> | undefined {
  return directory === undefined ? undefined : {directory}
}

/**
 * The sections that carry extra arguments, for a version's spelling of them (`args`: a map in
 * v1beta3, a list of `{name, value}` in v1beta4).
 */
export function argSections(args: (list: Arg[]) => unknown) {
  return {
    /** A component's section of ClusterConfiguration: only its extraArgs, and only when there are some. */
    component(list: Arg[]): {extraArgs: unknown} | undefined {
      return list.length > 0 ? {extraArgs: args(list)} : undefined
    },
    /** A local etcd carries the profile's etcd flags; an external one is nodegen's own manifest. */
    etcd(spec: ClusterSpec): unknown {
      return 'local' in spec.etcd ? {local: {...spec.etcd.local, extraArgs: args(spec.extraArgs.etcd)}} : spec.etcd
    },
    nodeRegistration(n: NodeRegistrationSpec): Record<string, unknown> {
      return {...nodeRegistrationBase(n), kubeletExtraArgs: args(n.kubeletExtraArgs)}
    },
  }
}
