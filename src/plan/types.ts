/**
 * The NodePlan: what one machine must have after first boot, in no particular format. Builders in
 * plan/ produce it; emitters in emit/ only translate it (cloud-init, Ignition). An emitter that
 * needs to invent content means the content belongs here.
 */
import type {FieldPath, Format, OsFamily, OsId, Role} from '../profile/index.js'

export interface PlanFile {
  /** Absolute path on the node. */
  path: string
  content: string
  /** POSIX mode, e.g. 0o644. */
  mode: number
  /** `user:group` */
  owner: string
  /** CA keys, tokens, kubeconfigs: written 0600 root-owned and redacted from logs and --json. */
  secret: boolean
  /** What produced the file, for size reports and for tracing a problem back to the profile. */
  origin: string
  /**
   * Fetched by the node at provisioning time instead of carried inline (Flatcar's sysext images,
   * hundreds of megabytes). Only Ignition can express this; planners use it for Ignition nodes only.
   */
  remote?: {url: string; sha512?: string}
  /**
   * A program that runs only after the node's secret bundle is installed (its units start it through
   * bash, so a 0600 copy runs too): where the node has a bundle, it travels in it and leaves the
   * user-data to what the first boot needs.
   */
  bundled?: boolean
}

export interface PlanLink {
  path: string
  target: string
}

export interface PlanUnit {
  /** `nodegen-bootstrap.service` */
  name: string
  /** Unit file content; undefined for an existing unit that only gets drop-ins or is enabled/masked. */
  content?: string
  enabled: boolean
  mask?: boolean
  dropIns: Array<{name: string; content: string}>
}

export interface PlanUser {
  name: string
  sshAuthorizedKeys: string[]
  sudo: boolean
  groups: string[]
  shell: string
}

export interface PlanNetwork {
  interface: string
  mac?: string
  address: string
  prefix: number
  gateway?: string
  dns: string[]
  search: string[]
}

export interface NodePlan {
  cluster: string
  node: string
  role: Role
  ordinal: number
  os: OsId
  family: OsFamily
  format: Format
  /** Profile file and the node's field path, so output problems point back at the profile. */
  source: {profile: string; path: FieldPath}
  hostname: string
  network?: PlanNetwork
  users: PlanUser[]
  /** Sorted by path. */
  files: PlanFile[]
  /** Symbolic links (Flatcar: activating a sysext image). */
  links: PlanLink[]
  /** Directories to create (with modes) beyond those implied by files. */
  directories: Array<{path: string; mode: number}>
  /** Sorted by name. */
  units: PlanUnit[]
  /** The bootstrap unit that runs after the seed's files are in place. */
  bootstrapUnit: string
  /** Size limit of the user-data on the node's platform, in bytes (Infinity: none). */
  sizeBudget: number
}

/**
 * Contents nodegen ships beside its code (the bootstrap program), passed in by the caller so that
 * plan/ stays pure. See src/app/assets.ts.
 */
export interface Assets {
  /** assets/bootstrap/bootstrap.sh */
  bootstrapScript: string
  /** assets/bootstrap/install-packages.sh (not shipped to baked images; Packer runs it) */
  installScript: string
  /** assets/bootstrap/bundle.sh (nodes of an air-gapped cluster with a bundle) */
  bundleScript?: string
  /** assets/bootstrap/firewall.sh (sourced by bootstrap.sh on nodes that open their firewall) */
  firewallScript?: string
  /** assets/bootstrap/cni-mirror.sh (control plane 0, a manifest fetched at boot and an image mirror) */
  cniMirrorScript?: string
  /** assets/bootstrap/labels.sh */
  labelsScript: string
  /** assets/bootstrap/control-plane.sh (sourced by bootstrap.sh on control planes and etcd members) */
  controlPlaneScript: string
  /** assets/bootstrap/recovery.sh (sourced by control-plane.sh on control planes whose seed has room) */
  recoveryScript: string
  /** assets/bootstrap/token-calendar.sh */
  tokenCalendarScript: string
  /** assets/bootstrap/cert-renewal.sh (control planes and external etcd members) */
  certRenewalScript: string
  /** assets/bootstrap/fetch-secrets.sh (only nodes with a secret bundle; see plan/secrets) */
  secretsScript?: string
}

export const NODEGEN_ETC = '/etc/nodegen'
export const NODEGEN_LIB = '/usr/local/lib/nodegen'
export const NODEGEN_STATE = '/var/lib/nodegen'
/** Written by `nodegen image build` (and the test image): packages are installed. */
export const BAKED_MARKER = '/etc/nodegen/image.json'
export const PARAMS_FILE = '/etc/nodegen/bootstrap.env'
/** The join configuration with the next window's token (see the token calendar). */
export const KUBEADM_NEXT_CONFIG_PATH = '/etc/nodegen/kubeadm/config-next.yaml'

/** Where the programs live: /usr is read-only on Flatcar, so there they go to /opt. */
export function libDir(family: OsFamily): string {
  return family === 'flatcar' ? '/opt/nodegen' : NODEGEN_LIB
}
export const BOOTSTRAP_UNIT = 'nodegen-bootstrap.service'
/** Renews kubeadm's leaf certificates (assets/bootstrap/cert-renewal.sh); the bootstrap starts it at its end. */
export const CERT_RENEWAL_TIMER = 'nodegen-cert-renewal.timer'
