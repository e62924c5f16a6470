/**
 * Packer templates and their provisioning files, generated from the same planner first boot uses:
 * the OS preparation files are `buildOsFiles`' output, the package step is the shipped
 * install-packages.sh run with the parameters `bootstrapParams` gives it, so a baked image and a
 * first-boot install cannot drift apart. Pure: the shipped scripts and the CNI manifest come in as
 * arguments. The committed packer/ tree is this module's output for profiles/quickstart.yaml
 * (test/unit/image/packer-drift.test.ts fails when it differs; `npm run packer` rewrites it).
 *
 * One directory per OS:
 *
 * ```
 * <os>.pkr.hcl        variables, the qemu / amazon-ebs / googlecompute sources, the build
 * versions.pkr.hcl    the Packer version constraint (and required_plugins from Packer 1.7)
 * image/              uploaded to /tmp/nodegen-image in the build VM:
 *   image.env         install-packages.sh's parameters (KEY=VALUE, read verbatim)
 *   files.tsv, files/ the OS preparation files and their modes
 *   images.txt        images to pre-pull beyond kubeadm's list and the CNI manifest's
 *   cni.yaml          the profile's CNI manifest file, when it names one
 * scripts/            uploaded to /tmp/nodegen-image/scripts: bake.sh (the provisioning steps),
 *                     install-packages.sh, and bundle.sh for a profile with an air-gap bundle
 * ```
 *
 * A tree of several OSes (`nodegen image generate`, the committed packer/) keeps the scripts once,
 * in `scripts/` beside the OS directories, and each template uploads them from there
 * (`sharedScripts`).
 *
 * `nodegen image build` adds `seed/` (the qemu build VM's NoCloud seed) and `ssh/` (a key pair
 * made for that build only); neither is part of the committed tree.
 */

import {header} from '../plan/files.js'
import {extraControlPlaneImages} from '../plan/inventory.js'
import {buildOsFiles} from '../plan/os/index.js'
import {bootstrapParams, encodeParams, type Params} from '../plan/params.js'
import {type Cluster, type ClusterNode, OS_INFO} from '../profile/index.js'
import {BUILDERS, type Builder, IMAGE_OS, type ImageOs} from './os.js'
import type {PackerFeatures} from './packer-version.js'

export interface ImageAssets {
  /** assets/image/bake.sh */
  bakeScript: string
  /** assets/bootstrap/install-packages.sh */
  installScript: string
  /** assets/bootstrap/bundle.sh: install-packages.sh's and the images step's client of an air-gap bundle */
  bundleScript: string
}

export interface GeneratedFile {
  content: string
  mode: number
}

/** Relative path → file, sorted by path. */
export type ImageTree = Map<string, GeneratedFile>

/** The provisioning steps, one Packer provisioner each (progress counts them). */
export const BAKE_STEPS = Object.freeze(['files', 'packages', 'images', 'marker', 'cleanup'] as const)

/** Where the build VM receives image/ (and the scripts, in its scripts/). */
export const REMOTE_DIR = '/tmp/nodegen-image'

/** The provisioning scripts' folder beside image/ (or beside the OS directories that share it). */
export const SCRIPTS_DIR = 'scripts'

/** The Packer build block's name: `-only=nodegen.<builder>.<os>` selects one source. */
export const BUILD_NAME = 'nodegen'

/** install-packages.sh's and bake.sh's parameters: the node-independent part of bootstrap.env. */
const IMAGE_PARAM_KEYS = [
  'BUNDLE_SHA256',
  'BUNDLE_URL',
  'CNI_MANIFEST_SHA256',
  'CNI_MANIFEST_URL',
  'CONTAINERD_VERSION',
  'CRIO_REPO',
  'DOCKER_DISTRO',
  'DOCKER_REPO',
  'FIREWALL',
  'IMAGE_REPOSITORY',
  'KUBERNETES_CHANNEL',
  'KUBERNETES_REPO',
  'KUBERNETES_VERSION',
  'LB_TYPE',
  'NODE_ROLE',
  'OS_FAMILY',
  'OS_ID',
  'PROXY_HTTPS_PROXY',
  'PROXY_HTTP_PROXY',
  'PROXY_NO_PROXY',
  'RUNTIME',
  'RUNTIME_SOURCE',
] as const

/**
 * The node an image is prepared for: any node of the cluster on this OS. It is a control plane so
 * the endpoint's packages (keepalived, haproxy) are in the image too; workers leave them disabled.
 */
export function imageNode(cluster: Cluster, os: ImageOs): ClusterNode {
  return {
    index: -1,
    path: ['spec', 'image'],
    name: `image-${os}`,
    role: 'control-plane',
    ordinal: 0,
    os,
    family: OS_INFO[os].family,
    format: 'cloud-init',
    ip: '0.0.0.0',
    prefix: 0,
    subnet: '0.0.0.0/0',
    interface: cluster.networking.interface,
    labels: {},
    taints: [],
    kubeletExtraArgs: {},
  }
}

/** The source's label (HCL references cannot hold a dot: ubuntu-24.04 is `ubuntu-24-04`). */
export function sourceName(os: ImageOs): string {
  return os.replace(/\./g, '-')
}

/** `nodegen-almalinux-9-k8s-1-34-2`: valid as a GCE image name prefix and an AMI name. */
export function imageBaseName(cluster: Cluster, os: ImageOs): string {
  return `nodegen-${os.replace(/\./g, '-')}-k8s-${cluster.kubernetes.version.replace(/\./g, '-')}`
}

export interface GenerateOptions {
  features: PackerFeatures
  assets: ImageAssets
  /** The profile's CNI manifest file (spec.networking.cni.manifestFile), read by the caller. */
  cniManifest?: string
  /**
   * The tree is one of several OSes' directories that share one copy of the provisioning scripts,
   * in `scripts/` beside them (`nodegen image generate`, the committed packer/): the template
   * uploads them from `../scripts/` and the tree leaves them out. Default: the tree's own `scripts/`.
   */
  sharedScripts?: boolean
}

/** The provisioning scripts (name → file), the same for every OS of a cluster. */
export function imageScripts(cluster: Cluster, assets: ImageAssets): Map<string, GeneratedFile> {
  const scripts = new Map<string, GeneratedFile>([
    ['bake.sh', {content: assets.bakeScript, mode: 0o755}],
    ['install-packages.sh', {content: assets.installScript, mode: 0o755}],
  ])
  if (cluster.airgap?.bundle !== undefined) scripts.set('bundle.sh', {content: assets.bundleScript, mode: 0o755})
  return scripts
}

/** Every file of one OS's Packer directory. */
export function generateImageTree(cluster: Cluster, os: ImageOs, opts: GenerateOptions): ImageTree {
  // The image carries the repositories it installed from, even for a profile that boots baked images.
  const prep: Cluster = {...cluster, image: {baked: false}}
  const node = imageNode(prep, os)
  const h = header(cluster, node)
  const files = new Map<string, GeneratedFile>()
  const add = (rel: string, content: string, mode = 0o644) => files.set(rel, {content, mode})

  const all = bootstrapParams(prep, node)
  const params: Params = {}
  for (const k of IMAGE_PARAM_KEYS) params[k] = all[k]
  if (opts.cniManifest !== undefined) params.CNI_MANIFEST_URL = undefined
  add('image/image.env', encodeParams(params, h))

  const osFiles = buildOsFiles(prep, node).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  for (const f of osFiles) {
    if (f.secret) throw new Error(`internal: ${f.path} is secret and must not be baked into an image`)
    add(`image/files${f.path}`, f.content, f.mode)
  }
  add('image/files.tsv', osFiles.map((f) => `0${f.mode.toString(8)}\t${f.path}\n`).join(''))
  const extra = extraControlPlaneImages(cluster)
  add('image/images.txt', `${h}${extra.map((i) => `${i}\n`).join('')}`)
  if (opts.cniManifest !== undefined) add('image/cni.yaml', opts.cniManifest)
  if (!opts.sharedScripts) for (const [name, f] of imageScripts(cluster, opts.assets)) add(`${SCRIPTS_DIR}/${name}`, f.content, f.mode)
  add(`${os}.pkr.hcl`, template(cluster, os, h, opts.sharedScripts ? `../${SCRIPTS_DIR}` : SCRIPTS_DIR))
  add('versions.pkr.hcl', versions(opts.features, h))
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

// ---------------------------------------------------------------------------------------------
// HCL

/** An HCL string literal: JSON's escapes, and HCL's own template sequences doubled. */
export function hclString(s: string): string {
  return JSON.stringify(s)
    .replace(/\$\{/g, () => '$${')
    .replace(/%\{/g, () => '%%{')
}

function hclMap(m: Record<string, string>, indent: string): string {
  const keys = Object.keys(m).sort()
  const width = Math.max(...keys.map((k) => hclString(k).length))
  return `{\n${keys.map((k) => `${indent}  ${hclString(k).padEnd(width)} = ${hclString(m[k] as string)}\n`).join('')}${indent}}`
}

function variable(name: string, type: 'string' | 'number', value: string | number, description: string): string {
  const v = typeof value === 'number' ? String(value) : hclString(value)
  return `variable ${hclString(name)} {\n  type        = ${type}\n  default     = ${v}\n  description = ${hclString(description)}\n}\n`
}

/** A `list(list(string))` variable, empty by default (qemuargs' shape). */
function listVariable(name: string, description: string): string {
  return `variable ${hclString(name)} {\n  type        = list(list(string))\n  default     = []\n  description = ${hclString(description)}\n}\n`
}

function versions(f: PackerFeatures, h: string): string {
  if (!f.requiredPlugins) {
    return `${h}# Packer 1.6 (Debian 12's packer): builders are built in; no required_plugins, no packer init.
packer {
  required_version = ${hclString(f.requiredVersion)}
}
`
  }
  return `${h}# Packer 1.7 and later: the builders are plugins, installed by \`packer init .\`.
packer {
  required_version = ${hclString(f.requiredVersion)}
  required_plugins {
    amazon = {
      version = ">= 1.2.0"
      source  = "github.com/hashicorp/amazon"
    }
    googlecompute = {
      version = ">= 1.1.0"
      source  = "github.com/hashicorp/googlecompute"
    }
    qemu = {
      version = ">= 1.0.0"
      source  = "github.com/hashicorp/qemu"
    }
  }
}
`
}

function labelValue(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .slice(0, 63)
}

function template(cluster: Cluster, os: ImageOs, h: string, scripts: string): string {
  const info = IMAGE_OS[os]
  const k = cluster.kubernetes
  const aws = cluster.platform.aws
  const gcp = cluster.platform.gcp
  const tags = {
    'nodegen/cluster': cluster.name,
    'nodegen/container-runtime': cluster.runtime.type,
    'nodegen/kubernetes-version': k.version,
    'nodegen/os': os,
  }
  const labels = Object.fromEntries(
    Object.entries(tags).map(([key, v]) => [labelValue(key.replace('nodegen/', 'nodegen-')), labelValue(v)]),
  )
  // bake.sh reads the bundle at Packer's HTTP server (PACKER_HTTP_ADDR) when the build serves one.
  const step = (s: string) => `  provisioner "shell" {
    execute_command  = "chmod +x {{ .Path }}; sudo {{ .Vars }} {{ .Path }}"
    environment_vars = ["NODEGEN_BUNDLE_SERVED=\${var.qemu_bundle_directory == "" ? "" : "1"}"]
    inline           = ["bash ${REMOTE_DIR}/scripts/bake.sh ${s} ${REMOTE_DIR}"]
  }
`
  const sources = BUILDERS.map((b: Builder) => `"source.${b}.${sourceName(os)}"`).join(', ')
  return `${h}# A node image for ${OS_INFO[os].pretty}: Kubernetes ${k.version}, ${cluster.runtime.type}, images from ${k.imageRepository}.
# Build one source with \`nodegen image build --os ${os} --builder qemu|amazon-ebs|googlecompute\`, or
# \`packer build -only=${BUILD_NAME}.<builder>.${sourceName(os)} .\` in this directory (qemu needs seed/ and ssh/: see the README).

${variable('image_name', 'string', imageBaseName(cluster, os), 'Image name prefix; a UTC timestamp is appended.')}
${variable('qemu_image_url', 'string', info.qemu.url, "The vendor's generic cloud image (qcow2).")}
${variable('qemu_image_checksum', 'string', info.qemu.checksum, "Its checksum, or file: and the vendor's checksum list.")}
${variable('qemu_accelerator', 'string', 'kvm', 'kvm, or tcg where /dev/kvm is missing (slow).')}
${variable('qemu_output_directory', 'string', 'output-qemu', 'Where the qcow2 is written.')}
${variable('qemu_disk_size', 'string', '20G', 'Size of the image disk.')}
${variable('qemu_memory', 'number', 2048, 'Build VM memory in MiB.')}
${variable('qemu_cpus', 'number', 2, 'Build VM CPUs.')}
${listVariable('qemu_args', 'Extra qemu arguments: [["-kernel", "vmlinuz"], ["-initrd", "initrd.img"], ["-append", "root=/dev/vda"]] boots a disk image that has no bootloader.')}
${variable('qemu_bundle_directory', 'string', '', "An air-gap bundle on this machine (qemu only): Packer's HTTP server serves it to the build VM, which installs and imports from it instead of spec.airgap.bundle.")}
${variable('ssh_private_key_file', 'string', 'ssh/id_ed25519', "The build VM's SSH key (its public half is in seed/user-data).")}
${variable('aws_region', 'string', aws?.region ?? 'us-east-1', 'AWS region the AMI is built in.')}
${variable('aws_instance_type', 'string', 't3.medium', 'Instance type of the build instance.')}
${variable('aws_subnet_id', 'string', aws?.subnetId ?? '', 'Subnet of the build instance (empty: the default VPC).')}
${variable('gcp_project_id', 'string', gcp?.project ?? '', 'Google Cloud project the image is created in.')}
${variable('gcp_zone', 'string', gcp?.zone ?? 'us-central1-a', 'Zone of the build instance.')}
${variable('gcp_machine_type', 'string', 'e2-standard-2', 'Machine type of the build instance.')}
locals {
  image_name = "\${var.image_name}-\${formatdate("YYYYMMDDhhmmss", timestamp())}"
}

source "qemu" ${hclString(sourceName(os))} {
  disk_image           = true
  iso_url              = var.qemu_image_url
  iso_checksum         = var.qemu_image_checksum
  format               = "qcow2"
  disk_size            = var.qemu_disk_size
  disk_compression     = true
  accelerator          = var.qemu_accelerator
  memory               = var.qemu_memory
  cpus                 = var.qemu_cpus
  headless             = true
  cd_files             = ["seed/meta-data", "seed/user-data"]
  cd_label             = "cidata"
  ssh_username         = ${hclString(info.qemu.sshUser)}
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "30m"
  output_directory     = var.qemu_output_directory
  vm_name              = "\${local.image_name}.qcow2"
  shutdown_command     = "sudo shutdown -P now"
  qemuargs             = var.qemu_args
  http_directory       = var.qemu_bundle_directory
}

source "amazon-ebs" ${hclString(sourceName(os))} {
  region          = var.aws_region
  instance_type   = var.aws_instance_type
  subnet_id       = var.aws_subnet_id
  ami_name        = local.image_name
  ami_description = ${hclString(`nodegen node image: ${OS_INFO[os].pretty}, Kubernetes ${k.version}, ${cluster.runtime.type}`)}
  ssh_username    = ${hclString(info.aws.sshUser)}
  source_ami_filter {
    filters = {
      architecture        = "x86_64"
      name                = ${hclString(info.aws.name)}
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = [${hclString(info.aws.owner)}]
    most_recent = true
  }
  tags = ${hclMap(tags, '  ')}
}

source "googlecompute" ${hclString(sourceName(os))} {
  project_id              = var.gcp_project_id
  zone                    = var.gcp_zone
  machine_type            = var.gcp_machine_type
  source_image_family     = ${hclString(info.gcp.family)}
  source_image_project_id = [${hclString(info.gcp.project)}]
  image_name              = local.image_name
  image_family            = ${hclString(`nodegen-${os.replace(/\./g, '-')}`)}
  image_description       = ${hclString(`nodegen node image: ${OS_INFO[os].pretty}, Kubernetes ${k.version}, ${cluster.runtime.type}`)}
  disk_size               = 20
  ssh_username            = "nodegen"
  image_labels = ${hclMap(labels, '  ')}
}

build {
  name    = ${hclString(BUILD_NAME)}
  sources = [${sources}]

  provisioner "shell" {
    inline = ["mkdir -p ${REMOTE_DIR}/scripts"]
  }
  provisioner "file" {
    source      = "\${path.root}/image/"
    destination = ${hclString(REMOTE_DIR)}
  }
  provisioner "file" {
    source      = "\${path.root}/${scripts}/"
    destination = ${hclString(`${REMOTE_DIR}/scripts`)}
  }
${BAKE_STEPS.map(step).join('')}
  post-processor "manifest" {
    output = "manifest.json"
    custom_data = ${hclMap({cluster: cluster.name, container_runtime: cluster.runtime.type, kubernetes_version: k.version, os}, '    ')}
  }
}
`
}
