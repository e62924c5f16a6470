/**
 * Where an image a node pulls comes from when the profile names a registry mirror. kubeadm applies
 * `spec.kubernetes.imageRepository` to its own images; every other image a node pulls (the CNI's,
 * kube-vip's) is mapped by one rule, so a mirror holds all of them under one prefix:
 *
 * 1. `spec.kubernetes.imageMirrors` names the image's repository (tag and digest left out): its
 *    value replaces the repository, the tag or digest is kept.
 * 2. Otherwise, with a mirror in `imageRepository` (anything but registry.k8s.io), an image on
 *    another registry becomes `<imageRepository>/<last path component>` with its tag or digest:
 *    `ghcr.io/flannel-io/flannel:v0.26.7` under `registry.aliyuncs.com/google_containers` is
 *    `registry.aliyuncs.com/google_containers/flannel:v0.26.7`, the flat layout the public mirrors
 *    of registry.k8s.io use (one namespace, the image's own name).
 * 3. An image already on the mirror's registry (the same host) is left as it is.
 *
 * Repositories are compared in their full form, as containerd resolves them: `calico/node` is
 * `docker.io/calico/node`, `busybox` is `docker.io/library/busybox`.
 *
 * Pure. The bootstrap program applies the same rule on control plane 0 to a CNI manifest it
 * downloads at boot (`mirror_cni_images` in assets/bootstrap/control-plane.sh), from data: the
 * mirror in CNI_IMAGE_MIRROR and the map in /etc/nodegen/image-mirrors.tsv.
 */

/** kubeadm's default image repository: no mirror. */
export const UPSTREAM_IMAGE_REPOSITORY = 'registry.k8s.io'

export interface ImageMirror {
  /** The mirror the rule maps to; undefined when imageRepository is registry.k8s.io. */
  repository?: string
  /** spec.kubernetes.imageMirrors, keys in full form (`docker.io/calico/node`). */
  mirrors: Readonly<Record<string, string>>
}

/** The mirror a cluster's images are mapped to, from the profile's imageRepository and imageMirrors. */
export function imageMirrorOf(imageRepository: string, imageMirrors: Readonly<Record<string, string>> = {}): ImageMirror {
  const mirrors: Record<string, string> = {}
  for (const key of Object.keys(imageMirrors).sort()) mirrors[fullName(key)] = imageMirrors[key] as string
  return {...(imageRepository !== UPSTREAM_IMAGE_REPOSITORY ? {repository: imageRepository} : {}), mirrors}
}

/** `ghcr.io/flannel-io/flannel:v0.26.7` → name `ghcr.io/flannel-io/flannel`, suffix `:v0.26.7`. */
export function splitImage(ref: string): {name: string; suffix: string} {
  const at = ref.indexOf('@')
  const beforeDigest = at < 0 ? ref : ref.slice(0, at)
  const digest = at < 0 ? '' : ref.slice(at)
  const slash = beforeDigest.lastIndexOf('/')
  const colon = beforeDigest.lastIndexOf(':')
  if (colon > slash) return {name: beforeDigest.slice(0, colon), suffix: beforeDigest.slice(colon) + digest}
  return {name: beforeDigest, suffix: digest}
}

/** The registry host of a repository name as containerd reads it (`docker.io` when none is named). */
export function registryHost(name: string): string {
  const first = name.split('/')[0] ?? ''
  return name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io'
}

/** A repository name in full: `calico/node` → `docker.io/calico/node`, `busybox` → `docker.io/library/busybox`. */
export function fullName(name: string): string {
  if (registryHost(name) !== 'docker.io' || name.startsWith('docker.io/')) return name
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`
}

/** The reference a node pulls for `ref` under the mirror (the rule above). */
export function mirrorImage(ref: string, m: ImageMirror): string {
  const {name, suffix} = splitImage(ref)
  const full = fullName(name)
  const mapped = m.mirrors[full]
  if (mapped !== undefined) return `${mapped}${suffix}`
  if (m.repository === undefined) return ref
  if (registryHost(full) === registryHost(m.repository)) return ref
  const last = name.slice(name.lastIndexOf('/') + 1)
  return `${m.repository}/${last}${suffix}`
}

// An `image:` line of a manifest: indentation, an optional list dash, the key, the value (quoted or
// not), an optional comment. Only such lines are touched; the rest of the manifest stays byte for byte.
const IMAGE_LINE = /^(\s*(?:-\s+)?image:\s*)(["']?)([^\s"'#]+)\2(\s*(?:#.*)?)$/

/** A manifest with every `image:` value mapped by the rule; `changed` lists what was rewritten. */
export function mirrorManifest(text: string, m: ImageMirror): {text: string; changed: Array<{from: string; to: string}>} {
  const changed: Array<{from: string; to: string}> = []
  const out = text.split('\n').map((line) => {
    const cr = line.endsWith('\r') ? '\r' : ''
    const body = cr ? line.slice(0, -1) : line
    const match = IMAGE_LINE.exec(body)
    if (!match) return line
    const [, head, quote, ref, tail] = match as unknown as [string, string, string, string, string]
    const to = mirrorImage(ref, m)
    if (to === ref) return line
    changed.push({from: ref, to})
    return `${head}${quote}${to}${quote}${tail}${cr}`
  })
  return {text: out.join('\n'), changed}
}

/**
 * The data the bootstrap program's rewrite reads: `<repository>\t<mirror repository>` per line,
 * sorted, for spec.kubernetes.imageMirrors. Empty when the profile sets none.
 */
export function imageMirrorsTsv(m: ImageMirror): string {
  return Object.entries(m.mirrors)
    .map(([from, to]) => `${from}\t${to}\n`)
    .join('')
}
