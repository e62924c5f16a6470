/** Synthetic profiles for benchmarks: 3 control planes and the rest workers, cloud-init or Ignition. */
import {intToIp} from '../src/profile/index.js'

/**
 * `pxeServerUrl` makes it a PXE cluster (`nodegen serve`): nodes get MACs (52:54:00 and the node's
 * number), matched by MAC, and AlmaLinux boots a kernel and initrd from the server's /assets/.
 */
export function syntheticProfile(
  nodes: number,
  format: 'cloud-init' | 'ignition',
  name = `bench-${format}-${nodes}`,
  pxeServerUrl?: string,
): string {
  const os = format === 'ignition' ? 'flatcar' : 'almalinux-9'
  const lines = [
    'apiVersion: nodegen.dev/v1alpha1',
    'kind: Cluster',
    `metadata: {name: ${name}}`,
    'spec:',
    '  kubernetes: {version: 1.34.2}',
    `  os: ${os}`,
    '  controlPlaneEndpoint: {host: 10.0.0.5, port: 6443}',
    `  loadBalancer: {type: ${format === 'ignition' ? 'kube-vip' : 'keepalived-haproxy'}}`,
    '  networking: {gateway: 10.0.0.1, dnsServers: [10.0.0.1], podSubnet: 10.244.0.0/16}',
    pxeServerUrl
      ? `  platform: {type: pxe, pxe: {serverUrl: "${pxeServerUrl}", kernel: {almalinux-9: {kernel: assets/vmlinuz, initrd: [assets/initrd.img]}}}}`
      : `  platform: {type: ${format === 'ignition' ? 'configdrive' : 'nocloud'}}`,
    '  nodes:',
  ]
  // A /16 node network holds 5000 nodes: 10.0.0.10 onwards.
  const base = 10 * 2 ** 24 + 10
  for (let i = 0; i < nodes; i++) {
    const role = i < 3 ? 'control-plane' : 'worker'
    const nodeName = i < 3 ? `cp-${i + 1}` : `w-${i - 2}`
    const hex = (v: number) => v.toString(16).padStart(2, '0')
    const mac = pxeServerUrl ? `, mac: "52:54:00:${hex(i >> 16)}:${hex((i >> 8) & 255)}:${hex(i & 255)}"` : ''
    lines.push(`    - {name: ${nodeName}, role: ${role}, ip: ${intToIp(base + i)}/16${mac}}`)
  }
  return `${lines.join('\n')}\n`
}
