/**
 * Where each OS's base image comes from, per Packer builder: the vendor's generic cloud image for
 * qemu (a qcow2 booted as `disk_image`), the vendor's AMIs (by owner account and name pattern) for
 * amazon-ebs, and the vendor's public image family for googlecompute. A frozen table: it drives
 * the templates, `image validate` and the tests.
 */
import type {OsId} from '../profile/index.js'

export const BUILDERS = ['qemu', 'amazon-ebs', 'googlecompute'] as const
export type Builder = (typeof BUILDERS)[number]

export interface ImageOsInfo {
  /** `sshUser`: the image's default cloud-init user, whose key the build's seed sets. */
  qemu: {url: string; checksum: string; sshUser: string}
  aws: {owner: string; name: string; sshUser: string}
  gcp: {project: string; family: string}
}

/** The OSes nodegen bakes (every OS the planner supports except Flatcar, which uses sysext images). */
export const IMAGE_OS: Readonly<Record<Exclude<OsId, 'flatcar'>, ImageOsInfo>> = Object.freeze({
  'almalinux-9': {
    qemu: {
      url: 'https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/AlmaLinux-9-GenericCloud-latest.x86_64.qcow2',
      checksum: 'file:https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/CHECKSUM',
      sshUser: 'almalinux',
    },
    aws: {owner: '764336703387', name: 'AlmaLinux OS 9.*x86_64*', sshUser: 'ec2-user'},
    gcp: {project: 'almalinux-cloud', family: 'almalinux-9'},
  },
  'almalinux-10': {
    qemu: {
      url: 'https://repo.almalinux.org/almalinux/10/cloud/x86_64/images/AlmaLinux-10-GenericCloud-latest.x86_64.qcow2',
      checksum: 'file:https://repo.almalinux.org/almalinux/10/cloud/x86_64/images/CHECKSUM',
      sshUser: 'almalinux',
    },
    aws: {owner: '764336703387', name: 'AlmaLinux OS 10.*x86_64*', sshUser: 'ec2-user'},
    gcp: {project: 'almalinux-cloud', family: 'almalinux-10'},
  },
  'rocky-9': {
    qemu: {
      url: 'https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud-Base.latest.x86_64.qcow2',
      checksum: 'file:https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud-Base.latest.x86_64.qcow2.CHECKSUM',
      sshUser: 'rocky',
    },
    aws: {owner: '792107900819', name: 'Rocky-9-EC2-Base-9.*x86_64*', sshUser: 'rocky'},
    gcp: {project: 'rocky-linux-cloud', family: 'rocky-linux-9'},
  },
  'centos-stream-9': {
    qemu: {
      url: 'https://cloud.centos.org/centos/9-stream/x86_64/images/CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2',
      checksum: 'file:https://cloud.centos.org/centos/9-stream/x86_64/images/CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2.SHA256SUM',
      sshUser: 'cloud-user',
    },
    aws: {owner: '125523088429', name: 'CentOS Stream 9 x86_64*', sshUser: 'ec2-user'},
    gcp: {project: 'centos-cloud', family: 'centos-stream-9'},
  },
  'centos-stream-10': {
    qemu: {
      url: 'https://cloud.centos.org/centos/10-stream/x86_64/images/CentOS-Stream-GenericCloud-10-latest.x86_64.qcow2',
      checksum: 'file:https://cloud.centos.org/centos/10-stream/x86_64/images/CentOS-Stream-GenericCloud-10-latest.x86_64.qcow2.SHA256SUM',
      sshUser: 'cloud-user',
    },
    aws: {owner: '125523088429', name: 'CentOS Stream 10 x86_64*', sshUser: 'ec2-user'},
    gcp: {project: 'centos-cloud', family: 'centos-stream-10'},
  },
  'debian-12': {
    qemu: {
      url: 'https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2',
      checksum: 'file:https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS',
      sshUser: 'debian',
    },
    aws: {owner: '136693071363', name: 'debian-12-amd64-*', sshUser: 'admin'},
    gcp: {project: 'debian-cloud', family: 'debian-12'},
  },
  'debian-13': {
    qemu: {
      url: 'https://cloud.debian.org/images/cloud/trixie/latest/debian-13-generic-amd64.qcow2',
      checksum: 'file:https://cloud.debian.org/images/cloud/trixie/latest/SHA512SUMS',
      sshUser: 'debian',
    },
    aws: {owner: '136693071363', name: 'debian-13-amd64-*', sshUser: 'admin'},
    gcp: {project: 'debian-cloud', family: 'debian-13'},
  },
  'ubuntu-24.04': {
    qemu: {
      url: 'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img',
      checksum: 'file:https://cloud-images.ubuntu.com/noble/current/SHA256SUMS',
      sshUser: 'ubuntu',
    },
    aws: {owner: '099720109477', name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*', sshUser: 'ubuntu'},
    gcp: {project: 'ubuntu-os-cloud', family: 'ubuntu-2404-lts-amd64'},
  },
})

export type ImageOs = keyof typeof IMAGE_OS
export const IMAGE_OS_IDS = Object.freeze(Object.keys(IMAGE_OS) as ImageOs[])

export function isImageOs(os: string): os is ImageOs {
  return Object.hasOwn(IMAGE_OS, os)
}

/** The builder a platform's nodes boot images of. */
export function builderForPlatform(platform: string): Builder {
  if (platform === 'aws') return 'amazon-ebs'
  if (platform === 'gcp') return 'googlecompute'
  return 'qemu'
}
