/**
 * Problems baking images. Every message lives in {@link IMAGE_CATALOGUE}; the commands print
 * `NG10xx: <message>` and exit 1, never a stack trace.
 */

import {CodedError, fillTemplate, type Params} from '../errors.js'

export const IMAGE_CATALOGUE = Object.freeze({
  // 10xx: Packer and node images
  NG1001:
    'packer is not installed (not found on PATH): install it from https://developer.hashicorp.com/packer/install (HashiCorp apt/yum repository or the zip), or on Debian `apt-get install packer` (1.6.6); or pass --packer PATH',
  NG1002: '{bin} is not a Packer nodegen can use: {reason}',
  NG1003: 'packer {command} failed for {os} ({builder}) with exit {code}: {reason}; full log: {log}',
  NG1004: 'packer finished but {manifest} has no artifact for {os} ({builder}): {reason}',
  NG1005: '{os} has no image template: nodegen bakes {supported} (Flatcar boots its own images with systemd-sysext)',
  NG1006: 'the {builder} build needs {field}: set it in the profile or pass --var {variable}=VALUE',
  NG1007: 'the image records in {file} are damaged: {reason}',
  NG1008: 'packer validate failed for {os} ({builder}): {reason}',
  NG1009: 'cannot write the image record in {dir}: {reason}',
} as const)

export type ImageCode = keyof typeof IMAGE_CATALOGUE

export class ImageError extends CodedError {
  declare readonly code: ImageCode

  constructor(code: ImageCode, params: Params = {}) {
    super(code, fillTemplate(IMAGE_CATALOGUE[code], params), params)
    this.name = 'ImageError'
  }
}
