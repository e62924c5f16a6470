/** Reads the files nodegen ships beside its code; plan/ receives their contents as arguments. */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import type {Assets} from '../plan/types.js'
import {PACKAGE_ROOT} from './package-root.js'

let cached: Assets | undefined

export function loadAssets(): Assets {
  if (cached) return cached
  const dir = path.join(PACKAGE_ROOT, 'assets', 'bootstrap')
  const read = (f: string) => readProgram(dir, f)
  cached = Object.freeze({
    bootstrapScript: read('bootstrap.sh'),
    installScript: read('install-packages.sh'),
    bundleScript: read('bundle.sh'),
    firewallScript: read('firewall.sh'),
    cniMirrorScript: read('cni-mirror.sh'),
    labelsScript: read('labels.sh'),
    controlPlaneScript: read('control-plane.sh'),
    recoveryScript: read('recovery.sh'),
    tokenCalendarScript: read('token-calendar.sh'),
    certRenewalScript: read('cert-renewal.sh'),
    secretsScript: read('fetch-secrets.sh'),
  })
  return cached
}

/** A program of `dir` as a node runs it: the libraries it sources from beside itself inlined. */
export function readProgram(dir: string, name: string): string {
  return inlineSources(readFileSync(path.join(dir, name), 'utf8'), (lib) => readFileSync(path.join(dir, lib), 'utf8'))
}

/**
 * A program's `. "$(dirname "${BASH_SOURCE[0]}")/<library>.sh" # nodegen: inline` line (and the
 * shellcheck directive above it) replaced by that library's text (a library beside the program, or
 * in a sibling folder of assets/ as `../bootstrap/params.sh`), so a node gets one file that
 * needs nothing beside it. In assets/ the programs source the library as is.
 */
export function inlineSources(text: string, read: (name: string) => string): string {
  return text.replace(
    /^# shellcheck (?:source-path=SCRIPTDIR )?source=[\w./-]+\n\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/((?:\.\.\/)?(?:[\w-]+\/)?[\w-]+\.sh)" # nodegen: inline\n/gm,
    (_, lib: string) => read(lib).replace(/^# shellcheck shell=bash\n/, ''),
  )
}
