/** Reads the files nodegen ships beside its code; plan/ receives their contents as arguments. */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import type {Assets} from '../plan/types.js'
import {PACKAGE_ROOT} from './profile-file.js'

let cached: Assets | undefined

export function loadAssets(): Assets {
  if (cached) return cached
  const dir = path.join(PACKAGE_ROOT, 'assets', 'bootstrap')
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8')
  cached = Object.freeze({
    bootstrapScript: read('bootstrap.sh'),
    installScript: read('install-packages.sh'),
    bundleScript: read('bundle.sh'),
    firewallScript: read('firewall.sh'),
    cniMirrorScript: read('cni-mirror.sh'),
    labelsScript: read('labels.sh'),
    controlPlaneScript: read('control-plane.sh'),
    tokenCalendarScript: read('token-calendar.sh'),
    secretsScript: read('fetch-secrets.sh'),
  })
  return cached
}
