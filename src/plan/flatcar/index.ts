/**
 * Kubernetes on Flatcar the way Flatcar documents it: the kubernetes systemd-sysext image at the
 * profile's version, fetched by Ignition from extensions.flatcar.org (or a mirror) and activated by
 * a link in /etc/extensions (the image ships kubelet.service, kubeadm's drop-in, the CNI plugins it
 * copies to /opt/cni/bin, and a writable flex-volume directory); containerd is part of the OS and
 * gets nodegen's configuration through a CONTAINERD_CONFIG drop-in (Flatcar's unit points it at
 * /usr/share/containerd/config.toml). No package manager steps apply.
 */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {file, header} from '../files.js'
import {sandboxImage} from '../os/index.js'
import type {PlanFile, PlanLink, PlanUnit} from '../types.js'

/** The kubernetes sysext image of the profile's version: where Ignition fetches it, and its SHA-512 when pinned. */
export function sysextImage(cluster: Cluster): {name: string; url: string; sha512?: string} {
  const name = `kubernetes-v${cluster.kubernetes.version}-x86-64.raw`
  const sha512 = cluster.kubernetes.sysextSha512
  return {name, url: `${cluster.kubernetes.sysextRepository}/${name}`, ...(sha512 ? {sha512} : {})}
}

export function buildFlatcarFiles(cluster: Cluster, node: ClusterNode): {files: PlanFile[]; links: PlanLink[]; units: PlanUnit[]} {
  const h = header(cluster, node)
  const sysext = sysextImage(cluster)
  const image = `/opt/extensions/kubernetes/${sysext.name}`
  const files: PlanFile[] = [
    file(
      '/etc/containerd/config.toml',
      `${h}version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage(cluster)}"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
`,
      'os:runtime',
    ),
  ]
  // Flatcar applies OS updates by rebooting, by default as soon as one is downloaded, each machine on
  // its own: two control planes (or etcd members) could reboot together and lose etcd's quorum.
  // They reboot only when an operator does, one at a time (kured or FLUO can do it for them);
  // workers keep Flatcar's default.
  if (node.role !== 'worker')
    files.push(
      file(
        '/etc/flatcar/update.conf',
        `${h}# Updates are downloaded and applied at the next reboot; this machine never reboots for one by itself.\nREBOOT_STRATEGY=off\n`,
        'flatcar:updates',
      ),
    )
  const units: PlanUnit[] = [
    {
      name: 'containerd.service',
      enabled: true,
      dropIns: [{name: '10-nodegen-config.conf', content: `${h}[Service]\nEnvironment=CONTAINERD_CONFIG=/etc/containerd/config.toml\n`}],
    },
    // The kubelet unit ships inside the sysext; enabling it happens in the bootstrap program.
    {name: 'systemd-sysext.service', enabled: true, dropIns: []},
  ]
  // A baked image has the sysext in place already (the bootstrap program checks its version).
  if (cluster.image.baked) return {files, links: [], units}
  files.push({
    ...file(image, '', 'flatcar:sysext'),
    remote: {url: sysext.url, ...(sysext.sha512 ? {sha512: sysext.sha512} : {})},
  })
  return {files, links: [{path: '/etc/extensions/kubernetes.raw', target: image}], units}
}
