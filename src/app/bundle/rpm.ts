/**
 * rpm facts for `nodegen bundle`, pure: the RHEL-family releases a bundle is built for, a package
 * file's name, version and architecture from its canonical file name, and what dnf's last lines say
 * went wrong. No I/O.
 */
import type {OsId} from '../../profile/index.js'

/**
 * Per RHEL-family OS: dnf's `$releasever` (Docker's repository path uses it), the modularity
 * platform its AppStream is built for, and where the vendor publishes the key its packages are
 * signed with (the default of --os-gpg-key; the vendor's own site, not a mirror).
 */
export const EL_RELEASES: Readonly<Partial<Record<OsId, {releasever: string; platform: string; gpgKey: string}>>> = Object.freeze({
  'almalinux-9': {releasever: '9', platform: 'platform:el9', gpgKey: 'https://repo.almalinux.org/almalinux/RPM-GPG-KEY-AlmaLinux-9'},
  'almalinux-10': {releasever: '10', platform: 'platform:el10', gpgKey: 'https://repo.almalinux.org/almalinux/RPM-GPG-KEY-AlmaLinux-10'},
  'rocky-9': {releasever: '9', platform: 'platform:el9', gpgKey: 'https://dl.rockylinux.org/pub/rocky/RPM-GPG-KEY-Rocky-9'},
  'centos-stream-9': {releasever: '9', platform: 'platform:el9', gpgKey: 'https://www.centos.org/keys/RPM-GPG-KEY-CentOS-Official'},
  'centos-stream-10': {
    releasever: '10',
    platform: 'platform:el10',
    gpgKey: 'https://www.centos.org/keys/RPM-GPG-KEY-CentOS-Official-SHA256',
  },
})

/**
 * The repositories of an EL mirror a bundle reads, below the URL --os-mirror gives (AlmaLinux's,
 * Rocky's and CentOS Stream's layout alike): everything a node installs is in BaseOS or AppStream.
 */
export const EL_MIRROR_REPOSITORIES = Object.freeze([
  {id: 'os-baseos', path: 'BaseOS/x86_64/os/'},
  {id: 'os-appstream', path: 'AppStream/x86_64/os/'},
])

export interface RpmFile {
  name: string
  /** `version-release`, as dnf names it (`1.34.2-150500.1.1`). */
  version: string
  arch: string
}

/** name, version-release and arch from a canonical rpm file name (`kubelet-1.34.2-150500.1.1.x86_64.rpm`). */
export function parseRpmFileName(file: string): RpmFile | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.([A-Za-z0-9_]+)\.rpm$/.exec(file)
  if (!m) return undefined
  return {name: m[1] as string, version: `${m[2]}-${m[3]}`, arch: m[4] as string}
}

/** What dnf's refusal was: a request nothing provides, a signature, a checksum, or anything else. */
export type DnfFailure = 'no-match' | 'signature' | 'checksum' | 'other'

/** Reads dnf 4's (and librepo's) messages for the cause of a failed run. */
export function dnfFailure(output: string): DnfFailure {
  if (/checksum doesn't match|Checksum mismatch|expected size is|Downloading successful, but checksum/i.test(output)) return 'checksum'
  if (/GPG check FAILED|is not signed|Public key for .* is not installed|not correct for this package|signature/i.test(output))
    return 'signature'
  if (/No match for argument|Unable to find a match|nothing provides|conflicting requests/i.test(output)) return 'no-match'
  return 'other'
}

/** The requests dnf could not match, from its `No match for argument: X` lines. */
export function unmatchedRequests(output: string): string[] {
  return [...new Set([...output.matchAll(/No match for argument: (\S+)/g)].map((m) => m[1] as string))]
}

/**
 * The package dnf refused and its own line about it, for a signature or checksum failure: librepo's
 * `Downloading successful, but checksum doesn't match` line, dnf's `Failing package is: X` or
 * `Package X is not signed`, and the repository id it names.
 */
export function dnfRefusal(output: string): {pkg?: string; repository?: string; line?: string} {
  const lines = output.split('\n').map((l) => l.trim())
  const line =
    lines.find((l) => /checksum doesn't match|Checksum mismatch|expected size is/i.test(l)) ??
    lines.find((l) => /is not signed|not correct for this package|Public key for .* is not installed|NOKEY|BAD/.test(l))
  const pkg =
    /Failing package is: (\S+)/.exec(output)?.[1] ??
    /Package (\S+?)(?:\.rpm)? is not signed/.exec(output)?.[1] ??
    /Public key for (\S+?)(?:\.rpm)? is not installed/.exec(output)?.[1] ??
    /^\s*(\S+): Cannot download/m.exec(output)?.[1] ??
    (line ? /(\S+?)\.rpm:/.exec(line)?.[1] : undefined)
  const repository = /the "([^"]+)" repository/.exec(output)?.[1]
  return {
    ...(pkg ? {pkg} : {}),
    ...(repository ? {repository} : {}),
    ...(line ? {line: line.replace(/^\[MIRROR\]\s*/, '')} : {}),
  }
}
