/**
 * Which Kubernetes versions nodegen supports and what each implies. One table, read by validation,
 * the planners and `nodegen validate --json`; see test/fixtures/kube-schemas/PROVENANCE.md for the sources.
 */

export type KubeadmApi = 'v1beta3' | 'v1beta4'

export interface KubernetesTarget {
  /** `1.34.2` */
  version: string
  major: number
  minor: number
  patch: number
  /** The kubeadm config API nodegen writes for this version. */
  kubeadmApi: KubeadmApi
  /** The pause image tag kubeadm expects (containerd's sandbox_image must agree). */
  pauseVersion: string
  /** `v1.34` — the pkgs.k8s.io channel. */
  channel: string
  /** Since 1.29 admin.conf binds kubeadm:cluster-admins and the init node also has super-admin.conf. */
  clusterAdminsGroup: boolean
  /** `EtcdLearnerMode` may be set (1.27–1.32); from 1.33 kubeadm rejects the key. */
  learnerGateAllowed: boolean
  /** kubeadm accepts ECDSA-P384 (1.34+). */
  ecdsaP384: boolean
  /** kubeadm writes an `encryptionAlgorithm` field (v1beta4 only). */
  encryptionAlgorithmField: boolean
}

/** The oldest and newest minor nodegen renders for. */
export const SUPPORTED = Object.freeze({minMinor: 29, maxMinor: 36})

export const SUPPORTED_RANGE = `1.${SUPPORTED.minMinor}.0 to 1.${SUPPORTED.maxMinor}.x (kubeadm v1beta3 for 1.29–1.30, v1beta4 from 1.31)`

/** Parses `1.34.2` or `v1.34.2`; undefined for anything else. */
export function parseVersion(s: string): {major: number; minor: number; patch: number} | undefined {
  const m = /^v?([0-9]+)\.([0-9]+)\.([0-9]+)$/.exec(s)
  if (!m) return undefined
  return {major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3])}
}

export function isSupported(v: {major: number; minor: number}): boolean {
  return v.major === 1 && v.minor >= SUPPORTED.minMinor && v.minor <= SUPPORTED.maxMinor
}

/** The one place that decides what a Kubernetes version means for the files nodegen writes. */
export function kubernetesTarget(v: {major: number; minor: number; patch: number}): KubernetesTarget {
  const {major, minor, patch} = v
  return Object.freeze({
    version: `${major}.${minor}.${patch}`,
    major,
    minor,
    patch,
    kubeadmApi: minor >= 31 ? 'v1beta4' : 'v1beta3',
    pauseVersion: minor >= 34 ? '3.10.1' : minor >= 31 ? '3.10' : '3.9',
    channel: `v${major}.${minor}`,
    clusterAdminsGroup: minor >= 29,
    learnerGateAllowed: minor <= 32,
    ecdsaP384: minor >= 34,
    encryptionAlgorithmField: minor >= 31,
  })
}
