/**
 * Problems building an air-gap bundle. Every message lives in {@link BUNDLE_CATALOGUE}; the command
 * prints `NG11xx: <message>` and exits 1 (with --json, the code and message in the error object),
 * never a stack trace. Nothing of the bundle is left at the output path when one is raised.
 */

export const BUNDLE_CATALOGUE = Object.freeze({
  // 11xx: nodegen bundle
  NG1101: '{tool} is not installed (not found on PATH), and the bundle needs it {why}: on Debian, `apt-get install {package}`',
  NG1102: 'cannot copy the image {image} with skopeo: {reason}',
  NG1103: 'cannot download {url}: {reason}',
  NG1104: '{what} from {url} has {algorithm} {have}, but {source} says {want}: refused',
  NG1105: 'the repository {url} has no {packages} for amd64',
  NG1107: 'the packages of {os} cannot be resolved from {mirror}: {reason}',
  NG1108: '{os} needs --os-mirror: {mirror} its packages and their dependencies are downloaded from',
  NG1109: 'the bundle signing key in {dir} cannot be made or used: {reason}',
  NG1110: 'the bundle cannot list every image the nodes pull: {reason}',
  NG1111: 'the signature of {url} does not verify with the repository key {key}: {reason}',
  NG1112: 'cannot write the bundle to {dir}: {reason}',
  NG1113: 'the key {file} for {os} cannot be read: {reason} (pass {flag})',
  NG1114: 'no repository for {os} ({mirror} and the others the nodes read) has {packages}: refused',
  NG1115: 'the signature of {file} (repository {repository}, for {os}) does not verify with its keys {keys}: {reason}: refused',
  NG1116: '{what} from {mirror} for {os} does not match the checksum or size its repository metadata gives: {reason}: refused',
  NG1117: '--{flag} {value} names {os}, which no node of the profile runs (the OS ids are those of spec.os and spec.nodes[].os)',
} as const)

export type BundleCode = keyof typeof BUNDLE_CATALOGUE

export class BundleError extends Error {
  readonly code: BundleCode
  readonly params: Readonly<Record<string, string | number>>

  constructor(code: BundleCode, params: Record<string, string | number> = {}) {
    super(BUNDLE_CATALOGUE[code].replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`)))
    this.name = 'BundleError'
    this.code = code
    this.params = Object.freeze({...params})
  }
}
