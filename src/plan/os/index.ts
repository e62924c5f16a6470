/**
 * OS preparation as files: what the manual guides do by hand (modules, sysctls, repositories, the
 * container runtime's configuration, proxies, time sync), per OS family. The bootstrap program
 * applies them (modprobe, sysctl --system, package installation); a baked image has them already.
 */
import {type Cluster, type ClusterNode, OS_INFO} from '../../profile/index.js'
import {file, header, systemdEscape} from '../files.js'
import {CRI_SOCKETS} from '../kubeadm/paths.js'
import {crioRepository, dockerRepositoryBase, kubernetesRepository, noProxy, runtimeSource} from '../params.js'
import type {PlanFile} from '../types.js'

/** Where install-packages.sh puts the bundle's Kubernetes rpm key (repodata/repomd.xml.key) on the RHEL family. */
export const BUNDLE_KUBERNETES_RPM_KEY = '/etc/pki/rpm-gpg/nodegen-kubernetes.asc'

export function sandboxImage(cluster: Cluster): string {
  return `${cluster.kubernetes.imageRepository}/pause:${cluster.kubernetes.pauseVersion}`
}

export function buildOsFiles(cluster: Cluster, node: ClusterNode): PlanFile[] {
  const h = header(cluster, node)
  const files: PlanFile[] = [
    file('/etc/modules-load.d/nodegen-kubernetes.conf', `${h}overlay\nbr_netfilter\n`, 'os:modules'),
    file(
      '/etc/sysctl.d/99-nodegen-kubernetes.conf',
      `${h}net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n`,
      'os:sysctl',
    ),
  ]
  // zram-generator (Fedora, CentOS Stream 10) creates zram swap from this file: an empty one creates
  // none. Flatcar has neither zram-generator nor swap unless one is configured; swapoff covers that.
  if (node.family !== 'flatcar')
    files.push(file('/etc/systemd/zram-generator.conf', `${h}# no zram swap: the kubelet requires swap off\n`, 'os:swap'))
  files.push(crictlConfig(cluster, h))
  if (node.family !== 'flatcar') files.push(...runtimeConfig(cluster, node, h))
  if (!cluster.image.baked && node.family !== 'flatcar') files.push(...repositories(cluster, node, h))
  if (cluster.proxy) files.push(...proxyDropIns(cluster, node, h))
  if (cluster.networking.ntpServers.length > 0) files.push(node.family === 'flatcar' ? timesyncd(cluster, h) : chrony(cluster, node, h))
  return files
}

/**
 * crictl's configuration: without it crictl tries a list of sockets in turn (and warns that the
 * default is deprecated); with it `crictl ps`, `crictl logs` and the image pre-pull talk to the
 * node's runtime.
 */
export function crictlConfig(cluster: Cluster, h: string): PlanFile {
  const socket = CRI_SOCKETS[cluster.runtime.type]
  return file('/etc/crictl.yaml', `${h}runtime-endpoint: ${socket}\nimage-endpoint: ${socket}\ntimeout: 10\n`, 'os:runtime')
}

function runtimeConfig(cluster: Cluster, node: ClusterNode, h: string): PlanFile[] {
  if (cluster.runtime.type === 'cri-o') {
    return [
      file(
        '/etc/crio/crio.conf.d/10-nodegen.conf',
        `${h}[crio.runtime]\ncgroup_manager = "systemd"\n\n[crio.image]\npause_image = "${sandboxImage(cluster)}"\n`,
        'os:runtime',
      ),
    ]
  }
  // A whole config (format version 2, read by containerd 1.6, 1.7 and 2.x): Docker's containerd.io
  // ships one that disables the CRI plugin, so it is replaced rather than patched.
  const toml = `${h}version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage(cluster)}"

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
`
  void node
  return [file('/etc/containerd/config.toml', toml, 'os:runtime')]
}

/**
 * Docker's package repository for a node's OS, as its repository file names it: the yum baseurl
 * (with dnf's `$releasever` and `$basearch`), or apt's URL and suite.
 */
export function dockerRepository(cluster: Cluster, node: ClusterNode): {url: string; suite?: string} {
  const docker = dockerRepositoryBase(cluster)
  if (node.family === 'rhel') return {url: `${docker}/linux/centos/$releasever/$basearch/stable`}
  const apt = OS_INFO[node.os].apt
  return {url: `${docker}/linux/${apt?.distro}`, suite: `${apt?.codename} stable`}
}

function repositories(cluster: Cluster, node: ClusterNode, h: string): PlanFile[] {
  const k = cluster.kubernetes
  const files: PlanFile[] = []
  const docker = dockerRepository(cluster, node)
  const bundle = cluster.airgap?.bundle
  // With an air-gap bundle the runtime's packages come from the bundle's OS repository.
  const wantDocker = cluster.runtime.type === 'containerd' && runtimeSource(cluster, node) === 'docker' && !bundle
  if (bundle && node.family === 'rhel')
    files.push(
      file(
        '/etc/yum.repos.d/nodegen-bundle.repo',
        `${h}[nodegen-bundle]
name=nodegen air-gap bundle (${node.os})
baseurl=${bundle}os/${node.os}/
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/nodegen-bundle.asc
`,
        'os:repositories',
      ),
    )
  if (bundle && node.family === 'debian')
    files.push(
      file(
        '/etc/apt/sources.list.d/nodegen-bundle.list',
        `${h}deb [signed-by=/etc/apt/keyrings/nodegen-bundle.asc] ${bundle}os/${node.os}/ ./
`,
        'os:repositories',
      ),
    )
  if (node.family === 'rhel') {
    const krepo = kubernetesRepository(cluster, 'rpm')
    // From a bundle the key comes through bundle.sh, checked against SHA256SUMS (install-packages.sh).
    const kkey = bundle && krepo.startsWith(bundle) ? `file://${BUNDLE_KUBERNETES_RPM_KEY}` : `${krepo}repodata/repomd.xml.key`
    files.push(
      file(
        '/etc/yum.repos.d/kubernetes.repo',
        `${h}[kubernetes]
name=Kubernetes ${k.channel}
baseurl=${krepo}
enabled=1
gpgcheck=1
gpgkey=${kkey}
exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni
`,
        'os:repositories',
      ),
    )
    if (cluster.runtime.type === 'cri-o')
      files.push(
        file(
          '/etc/yum.repos.d/cri-o.repo',
          `${h}[cri-o]
name=CRI-O ${k.channel}
baseurl=${crioRepository(cluster, 'rpm')}
enabled=1
gpgcheck=1
gpgkey=${crioRepository(cluster, 'rpm')}repodata/repomd.xml.key
`,
          'os:repositories',
        ),
      )
    // containerd.io is excluded as the Kubernetes packages are: install-packages.sh installs the
    // pinned release past the exclude, and a later `dnf upgrade` leaves it there.
    if (wantDocker)
      files.push(
        file(
          '/etc/yum.repos.d/docker-ce.repo',
          `${h}[docker-ce-stable]
name=Docker CE Stable - $basearch
baseurl=${docker.url}
enabled=1
gpgcheck=1
gpgkey=${dockerRepositoryBase(cluster)}/linux/centos/gpg
exclude=containerd.io
`,
          'os:repositories',
        ),
      )
  } else if (node.family === 'debian') {
    files.push(
      file(
        '/etc/apt/sources.list.d/kubernetes.list',
        `${h}deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] ${kubernetesRepository(cluster, 'deb')} /\n`,
        'os:repositories',
      ),
    )
    if (cluster.runtime.type === 'cri-o')
      files.push(
        file(
          '/etc/apt/sources.list.d/cri-o.list',
          `${h}deb [signed-by=/etc/apt/keyrings/cri-o-apt-keyring.asc] ${crioRepository(cluster, 'deb')} /\n`,
          'os:repositories',
        ),
      )
    if (wantDocker)
      files.push(
        file(
          '/etc/apt/sources.list.d/docker.list',
          `${h}deb [signed-by=/etc/apt/keyrings/docker.asc] ${docker.url} ${docker.suite}\n`,
          'os:repositories',
        ),
      )
  }
  return files
}

function proxyDropIns(cluster: Cluster, node: ClusterNode, h: string): PlanFile[] {
  const p = cluster.proxy
  if (!p) return []
  const env: string[] = []
  if (p.http) env.push(`Environment="HTTP_PROXY=${systemdEscape(p.http)}"`)
  if (p.https) env.push(`Environment="HTTPS_PROXY=${systemdEscape(p.https)}"`)
  env.push(`Environment="NO_PROXY=${systemdEscape(noProxy(cluster))}"`)
  const body = `${h}[Service]\n${env.join('\n')}\n`
  const units = node.family === 'flatcar' ? ['containerd'] : [cluster.runtime.type === 'cri-o' ? 'crio' : 'containerd']
  return units.map((u) => file(`/etc/systemd/system/${u}.service.d/10-nodegen-proxy.conf`, body, 'os:proxy'))
}

/** Flatcar keeps time with systemd-timesyncd (no chrony); a drop-in names the profile's servers. */
function timesyncd(cluster: Cluster, h: string): PlanFile {
  return file('/etc/systemd/timesyncd.conf.d/10-nodegen.conf', `${h}[Time]\nNTP=${cluster.networking.ntpServers.join(' ')}\n`, 'os:time')
}

function chrony(cluster: Cluster, node: ClusterNode, h: string): PlanFile {
  const servers = cluster.networking.ntpServers.map((s) => `server ${s} iburst`).join('\n')
  if (node.family === 'debian') return file('/etc/chrony/conf.d/nodegen.conf', `${h}${servers}\n`, 'os:time')
  // RHEL's chrony.conf has no include directory: the whole file, with the distribution's directives.
  return file(
    '/etc/chrony.conf',
    `${h}${servers}\ndriftfile /var/lib/chrony/drift\nmakestep 1.0 3\nrtcsync\nkeyfile /etc/chrony.keys\nleapsectz right/UTC\nlogdir /var/log/chrony\n`,
    'os:time',
  )
}
