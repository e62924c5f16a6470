/**
 * Problems building an air-gap bundle (`nodegen bundle`) or serving one (`nodegen serve --bundle`).
 * Every message lives in {@link BUNDLE_CATALOGUE}; the commands print `NG11xx: <message>` and exit 1
 * (with --json, the code and message in the error object), never a stack trace. Nothing of the
 * bundle is left at the output path when one is raised while building.
 */

import {CodedError, fillTemplate, type Params} from '../../errors.js'

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
  NG1113: 'the key {file} for {os} cannot be read: {reason} ({fix})',
  NG1114: 'no repository for {os} ({mirror} and the others the nodes read) has {packages}: refused',
  NG1115: 'the signature of {file} (repository {repository}, for {os}) does not verify with its keys {keys}: {reason}: refused',
  NG1116: '{what} from {mirror} for {os} does not match the checksum or size its repository metadata gives: {reason}: refused',
  NG1117: '--{flag} {value} names {os}, which no node of the profile runs (the OS ids are those of spec.os and spec.nodes[].os)',
  NG1118:
    'the CNI manifest {file} holds a Secret ({name}), and a bundle is served without authentication: it is left out of the bundle (the nodes apply the copy in their seed)',
  // 1119-1122: nodegen serve --bundle
  NG1119: '--bundle {dir} is not an air-gap bundle: it has no SHA256SUMS (nodegen bundle writes one)',
  NG1120: '{dir} is, holds or lies in the state directory {state}, whose keys must never be served: serve the bundle from elsewhere',
  NG1121: '{what} {dir} cannot be read as a directory: {reason}',
  NG1122: 'spec.airgap.bundle is {bundle}, but this server is {server}: the nodes fetch the bundle from {bundle}, not from here',
} as const)

export type BundleCode = keyof typeof BUNDLE_CATALOGUE

/**
 * A catalogue message with its parameters filled in (also for notices that are no error: NG1118,
 * NG1122). A URL's login (`https://user:pw@mirror/`) never reaches a message.
 */
export function bundleMessage(code: BundleCode, params: Params = {}): string {
  return fillTemplate(BUNDLE_CATALOGUE[code], params).replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1')
}

export class BundleError extends CodedError {
  declare readonly code: BundleCode

  constructor(code: BundleCode, params: Params = {}) {
    super(code, bundleMessage(code, params), params)
    this.name = 'BundleError'
  }
}
