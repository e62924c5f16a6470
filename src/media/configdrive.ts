/**
 * OpenStack config drive v2 (volume `config-2`), as cloud-init's ConfigDrive datasource and
 * Ignition's openstack platform read it: `openstack/latest/{user_data,meta_data.json,network_data.json}`.
 * cloud-init picks the newest version directory it knows, `latest` included, so one copy suffices.
 */

import type {PlanNetwork} from '../plan/types.js'
import {netmask} from '../profile/net.js'
import type {IsoEntry} from './iso/index.js'

export const CONFIG_DRIVE_VOLUME_ID = 'config-2'

export interface ConfigDriveInput {
  instanceId: string
  hostname: string
  userData: Uint8Array
  sshKeys: string[]
  network?: PlanNetwork
}

export function configDriveMetaData(i: ConfigDriveInput): Record<string, unknown> {
  return {
    uuid: i.instanceId,
    hostname: i.hostname,
    name: i.hostname,
    launch_index: 0,
    availability_zone: 'nova',
    public_keys: Object.fromEntries(i.sshKeys.map((k, n) => [`key-${n}`, k])),
  }
}

/**
 * network_data.json in the shape cloud-init's `convert_net_json` reads: one physical link (named
 * after the interface, matched by MAC when the profile gives one), a static IPv4 network with its
 * default route, and DNS services.
 */
export function configDriveNetworkData(n: PlanNetwork | undefined): Record<string, unknown> {
  if (!n) return {links: [], networks: [], services: []}
  return {
    links: [{id: n.interface, name: n.interface, type: 'phy', ...(n.mac ? {ethernet_mac_address: n.mac} : {}), mtu: null}],
    networks: [
      {
        id: 'network0',
        link: n.interface,
        network_id: 'nodegen',
        type: 'ipv4',
        ip_address: n.address,
        netmask: netmask(n.prefix),
        routes: n.gateway ? [{network: '0.0.0.0', netmask: '0.0.0.0', gateway: n.gateway}] : [],
      },
    ],
    services: n.dns.map((address) => ({type: 'dns', address})),
  }
}

export function configDriveEntries(i: ConfigDriveInput): IsoEntry[] {
  const json = (v: unknown) => Buffer.from(`${JSON.stringify(v, null, 2)}\n`)
  return [
    {path: 'openstack/latest/user_data', data: i.userData, mode: 0o600},
    {path: 'openstack/latest/meta_data.json', data: json(configDriveMetaData(i)), mode: 0o644},
    {path: 'openstack/latest/network_data.json', data: json(configDriveNetworkData(i.network)), mode: 0o644},
  ]
}
