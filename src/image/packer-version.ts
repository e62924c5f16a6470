/**
 * Which Packer the templates are written for. HCL2 templates need 1.6 (Debian 12 ships 1.6.6);
 * `packer init` and the `required_plugins` block arrived in 1.7.0 together with the split of the
 * builders into plugins, so a 1.6 template must not carry them and a 1.7+ one must (from 1.10 the
 * core binary bundles no builders at all).
 */

export interface PackerVersion {
  major: number
  minor: number
  patch: number
  text: string
}

/** Features of the HCL a Packer version understands; chosen in one place, never by `if` in the generator. */
export interface PackerFeatures {
  /** `packer { required_plugins { … } }` and `packer init` (1.7.0). */
  requiredPlugins: boolean
  /** The `required_version` constraint written into the template. */
  requiredVersion: string
}

export const MIN_PACKER: PackerVersion = Object.freeze({major: 1, minor: 6, patch: 6, text: '1.6.6'})

/** The features of current Packer releases: what the committed packer/ tree is written for. */
export const CURRENT_FEATURES: PackerFeatures = Object.freeze({requiredPlugins: true, requiredVersion: '>= 1.7.0'})

/** Parses `packer version` output: machine-readable (`…,version,1.6.6`) or human (`Packer v1.11.2`). */
export function parsePackerVersion(output: string): PackerVersion | undefined {
  const m = /^\d*,[^,]*,version,(\d+)\.(\d+)\.(\d+)\s*$/m.exec(output) ?? /Packer v(\d+)\.(\d+)\.(\d+)/.exec(output)
  if (!m) return undefined
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])]
  return {major, minor, patch, text: `${major}.${minor}.${patch}`}
}

export function compareVersions(a: PackerVersion, b: PackerVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch
}

export function featuresFor(v: PackerVersion): PackerFeatures {
  if (compareVersions(v, {major: 1, minor: 7, patch: 0, text: '1.7.0'}) >= 0) return CURRENT_FEATURES
  return {requiredPlugins: false, requiredVersion: `>= ${MIN_PACKER.text}`}
}
