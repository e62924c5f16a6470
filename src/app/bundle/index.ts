/**
 * `nodegen bundle`: downloads everything a profile's nodes install and pull into an air-gap bundle
 * laid out as docs/airgap.md says and assets/bootstrap/bundle.sh reads:
 *
 *   images/       every image of the inventory as an OCI archive, and images.txt
 *   kubernetes/   pkgs.k8s.io's layout with the pinned Kubernetes packages: deb/ re-signed by the
 *                 bundle key, rpm/ with the upstream signatures and key (rhel.ts)
 *   os/<os>/      the OS packages and their dependency closure: Debian's a flat repository signed by
 *                 the bundle key, the RHEL family's an rpm-md repository with the vendors' keys
 *   sysext/       Flatcar's Kubernetes sysext image
 *   cni/          the CNI manifest
 *   Release.key, SHA256SUMS, manifest.json
 *
 * The bundle is built in DIR.tmp and renamed to DIR when whole: an interrupted run leaves the
 * previous bundle (or nothing) at DIR. The tools it drives are in adapters.ts.
 */
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'
import {parseAllDocuments} from 'yaml'
import {sysextImage} from '../../plan/flatcar/index.js'
import type {Inventory, InventoryOs} from '../../plan/inventory.js'
import {dockerRepository} from '../../plan/os/index.js'
import {runtimeSource} from '../../plan/params.js'
import {
  type Cluster,
  expandRepository,
  OS_IDS,
  OS_INFO,
  type OsId,
  PACKAGE_MIRRORS,
  type PackageFormat,
  repositoryTemplate,
} from '../../profile/index.js'
import {inventoryOf} from '../inventory.js'
import {
  type AptSource,
  copyImage,
  dearmorKey,
  download,
  downloadClosure,
  fetchText,
  indexFlatRepository,
  packLayout,
  releaseKey,
  type SigningKey,
  sha256Hex,
  signingKey,
  verifyInRelease,
} from './adapters.js'
import {choosePackages, clearSignedText, parseStanzas, releaseSha256} from './deb.js'
import {BundleError, bundleMessage} from './errors.js'
import {bundleRhelOs, finishKubernetesRpm} from './rhel.js'
import {EL_RELEASES} from './rpm.js'

export {BUNDLE_CATALOGUE, BundleError, bundleMessage} from './errors.js'

export interface BundleOptions {
  cluster: Cluster
  profilePath: string
  /** The bundle directory; built in `${out}.tmp`. */
  out: string
  /** The profile's state directory: the bundle signing key lives in `bundle-gnupg/` there. */
  stateDir: string
  /**
   * Where the Kubernetes packages are downloaded from: a known mirror's name, a URL template or a
   * prefix, as spec.kubernetes.packageRepository takes them.
   * @default the profile's packageRepository, or pkgs.k8s.io when it is the bundle's own
   */
  packageRepository?: string
  /**
   * The mirrors the OS packages come from, `[OS=]URL` each: a Debian or Ubuntu mirror
   * (http://deb.debian.org/debian), or an EL one above BaseOS/ and AppStream/
   * (https://repo.almalinux.org/almalinux/9). `OS=URL` is for that OS; a bare URL for every other.
   */
  osMirrors?: readonly string[]
  /**
   * The keys the RHEL family's OS packages are signed with, `[OS=]FILE|URL` each (armoured).
   * @default the vendor's published key (EL_RELEASES)
   */
  osGpgKeys?: readonly string[]
  /**
   * Where Flatcar's Kubernetes sysext image is downloaded from.
   * @default the profile's sysextRepository, or extensions.flatcar.org when that is the bundle itself
   */
  sysextRepository?: string
  /**
   * The keyring that signs the OS mirror.
   * @default /usr/share/keyrings/debian-archive-keyring.gpg (ubuntu-archive-keyring.gpg for Ubuntu)
   */
  osKeyring?: string
  /** Registries reached over plain HTTP or an unverified certificate (host[:port]). */
  insecureRegistries?: readonly string[]
  /** skopeo's --authfile, for registries that need credentials. */
  authFile?: string
  /** The clock, for manifest.json's `created`. */
  now: () => Date
  /** Progress: one call per step done. */
  onStep?: (what: string, total: number) => void
  /** Something the user should know that does not stop the bundle (NG1118). */
  onNotice?: (what: string) => void
}

export interface BundleImage {
  image: string
  file: string
  digest: string
  sha256: string
  upstream?: string
}

export interface BundlePackage {
  name: string
  version: string
  file: string
  sha256: string
}

export interface BundleResult {
  out: string
  profile: string
  cluster: string
  kubernetesVersion: string
  /** SHA-256 of SHA256SUMS: the value for spec.airgap.sha256. */
  sha256: string
  images: BundleImage[]
  /** One repository per package format the nodes install (deb for Debian and Ubuntu, rpm for the RHEL family). */
  kubernetes: Array<{format: PackageFormat; source: string; path: string; packages: BundlePackage[]}>
  os: Array<{os: string; mirror: string; packages: BundlePackage[]}>
  /** Flatcar's sysext images: `sha512` is the value for spec.kubernetes.sysextSha512. */
  sysext: Array<{file: string; source: string; sha256: string; sha512: string}>
  cni: Array<{file: string; sha256: string; source: string}>
  created: string
}

/** An image's archive name: its reference without the registry, in the characters bundle.sh accepts. */
export function archiveName(ref: string, taken: Set<string>): string {
  const noHost = ref.includes('/') && /[.:]|^localhost$/.test(ref.split('/')[0] ?? '') ? ref.slice(ref.indexOf('/') + 1) : ref
  const base = noHost
    .replace(/@sha256:([0-9a-f]{12})[0-9a-f]*/, '_sha256-$1')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, 120)
  let name = `${base}.tar`
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}.tar`
  taken.add(name)
  return name
}

/**
 * `[OS=]VALUE` flags: for each OS, the values given for it, else the bare ones. An `OS=` naming an OS
 * no node runs is refused (NG1117); a prefix that is no OS id is part of the value.
 */
export function perOs(values: readonly string[], flag: string, oses: readonly string[]): (os: string) => string[] {
  const named = new Map<string, string[]>()
  const bare: string[] = []
  for (const v of values) {
    const m = /^([a-z0-9.-]+)=(.+)$/.exec(v)
    if (m && (OS_IDS as readonly string[]).includes(m[1] as string)) {
      const os = m[1] as string
      if (!oses.includes(os)) throw new BundleError('NG1117', {flag, value: v, os})
      named.set(os, [...(named.get(os) ?? []), m[2] as string])
    } else bare.push(v)
  }
  return (os) => named.get(os) ?? bare
}

/** A node OS the bundle builds repositories for, with the mirror its packages come from. */
interface OsJob {
  os: InventoryOs
  mirror: string
}

/** What the bundle can build for each OS, before anything is downloaded: every OS with packages has a mirror. */
function checkOses(inv: Inventory, opts: BundleOptions): OsJob[] {
  const oses = inv.os.filter((o) => o.family !== 'flatcar')
  const names = inv.os.map((o) => o.os as string)
  const mirrorOf = perOs(opts.osMirrors ?? [], 'os-mirror', names)
  perOs(opts.osGpgKeys ?? [], 'os-gpg-key', names)
  return oses.map((o) => {
    const mirror = mirrorOf(o.os)[0]
    if (!mirror)
      throw new BundleError('NG1108', {
        os: o.os,
        mirror:
          o.family === 'rhel'
            ? `the ${o.os} mirror above BaseOS/ and AppStream/ (like https://repo.almalinux.org/almalinux/9)`
            : 'the Debian or Ubuntu mirror (like http://deb.debian.org/debian)',
      })
    return {os: o, mirror}
  })
}

/** The Kubernetes repository the packages are downloaded from (never the bundle itself). */
export function kubernetesSource(cluster: Cluster, flag: string | undefined, format: PackageFormat = 'deb'): string {
  if (flag !== undefined) return expandRepository(repositoryTemplate('kubernetes', flag), cluster.kubernetes.channel, format)
  const bundle = cluster.airgap?.bundle
  const template =
    bundle && cluster.kubernetes.packageRepository.startsWith(bundle)
      ? (PACKAGE_MIRRORS.kubernetes.upstream as string)
      : cluster.kubernetes.packageRepository
  return expandRepository(template, cluster.kubernetes.channel, format)
}

/** Flatcar's sysext repository the image is downloaded from (never the bundle itself). */
export function sysextSource(cluster: Cluster, flag: string | undefined): string {
  if (flag !== undefined) return flag.replace(/\/+$/, '')
  const bundle = cluster.airgap?.bundle
  const repo = cluster.kubernetes.sysextRepository
  return bundle && repo.startsWith(bundle) ? FLATCAR_EXTENSIONS : repo
}

/** Where Flatcar publishes its extensions, the sysext's default source. */
export const FLATCAR_EXTENSIONS = 'https://extensions.flatcar.org/extensions'

/** Builds the bundle; throws BundleError (nothing left at `out`) or returns what it holds. */
export async function buildBundle(opts: BundleOptions): Promise<BundleResult> {
  const {cluster} = opts
  const inv = inventoryOf(cluster, opts.profilePath)
  const errors = inv.diagnostics.filter((d) => d.severity === 'error')
  if (errors.length > 0) throw new BundleError('NG1110', {reason: errors.map((d) => `${d.code} ${d.message}`).join('; ')})
  if (!inv.complete)
    throw new BundleError('NG1110', {
      reason: "the CNI manifest's images are unknown (set spec.networking.cni.manifestFile, or use the release manifest nodegen knows)",
    })
  const oses = checkOses(inv, opts)
  const out = path.resolve(opts.out)
  const tmp = `${out}.tmp`
  const work = `${out}.work`
  rmSync(tmp, {recursive: true, force: true})
  rmSync(work, {recursive: true, force: true})
  try {
    mkdirSync(tmp, {recursive: true, mode: 0o755})
    mkdirSync(work, {recursive: true, mode: 0o700})
  } catch (e) {
    throw new BundleError('NG1112', {dir: out, reason: (e as Error).message})
  }
  const key = await signingKey(opts.stateDir, cluster.name)
  try {
    const uniqueImages = [...new Map(inv.images.map((i) => [i.image, i])).values()]
    const debOses = oses.filter((o) => o.os.family === 'debian')
    const elOses = oses.filter((o) => o.os.family === 'rhel')
    const flatcar = inv.os.filter((o) => o.family === 'flatcar')
    const steps = uniqueImages.length + oses.length + (debOses.length ? 1 : 0) + (elOses.length ? 1 : 0) + flatcar.length + 1
    const step = (what: string) => opts.onStep?.(what, steps)
    writeFileSync(path.join(tmp, 'Release.key'), key.publicKey)
    const images = await bundleImages(uniqueImages, tmp, work, opts, step)
    const kubernetes: BundleResult['kubernetes'] = []
    const osRepos: BundleResult['os'] = []
    if (debOses.length > 0) {
      const deb = await bundleKubernetes(cluster, tmp, work, key, opts)
      kubernetes.push(deb)
      step(`kubernetes: ${deb.packages.length} deb package(s) from ${withoutCredentials(deb.source)}`)
      for (const o of debOses) {
        osRepos.push(await bundleOs(cluster, o.os, o.mirror, tmp, work, key, deb, opts))
        step(`os/${o.os.os}: ${osRepos[osRepos.length - 1]?.packages.length} package(s)`)
      }
    }
    if (elOses.length > 0) {
      const source = kubernetesSource(cluster, opts.packageRepository, 'rpm')
      const rel = `kubernetes/core:/stable:/${cluster.kubernetes.channel}/rpm`
      const keysOf = perOs(
        opts.osGpgKeys ?? [],
        'os-gpg-key',
        inv.os.map((o) => o.os),
      )
      const rpm = new Map<string, BundlePackage>()
      let kubernetesKey = ''
      for (const o of elOses) {
        const given = keysOf(o.os.os)
        const defaultKey = EL_RELEASES[o.os.os]?.gpgKey
        const r = await bundleRhelOs({
          cluster,
          os: o.os,
          mirror: o.mirror,
          osKeys: given.length > 0 ? given : defaultKey ? [defaultKey] : [],
          kubernetesSource: source,
          tmp,
          work,
          kubernetesPath: rel,
        })
        osRepos.push({os: r.os, mirror: r.mirror, packages: r.packages})
        for (const p of r.kubernetes) rpm.set(p.file, p)
        kubernetesKey = r.kubernetesKey
        step(`os/${o.os.os}: ${r.packages.length} package(s)`)
      }
      await finishKubernetesRpm(tmp, rel, kubernetesKey)
      const packages = [...rpm.values()].sort((a, b) => a.file.localeCompare(b.file))
      kubernetes.push({format: 'rpm', source, path: rel, packages})
      step(`kubernetes: ${packages.length} rpm package(s) from ${withoutCredentials(source)}`)
    }
    const sysext: BundleResult['sysext'] = []
    // Every Flatcar node runs the one sysext image of the cluster's version.
    if (flatcar.length > 0) {
      const x = await bundleSysext(cluster, tmp, opts)
      sysext.push(x)
      step(`sysext: ${x.file} from ${withoutCredentials(x.source)}`)
    }
    const cni = await bundleCni(cluster, opts.profilePath, tmp, (what) => opts.onNotice?.(what))
    step(`cni: ${cni.map((c) => c.file).join(', ') || 'none'}`)
    const sums = sha256sums(tmp, [
      'Release.key',
      ...kubernetes
        .filter((k) => k.packages.length > 0)
        .map((k) => (k.format === 'deb' ? `${k.path}/Release.key` : `${k.path}/repodata/repomd.xml.key`)),
      ...osRepos.map((o) => `os/${o.os}/Release.key`),
      'images/images.txt',
      ...images.map((i) => `images/${i.file}`),
      ...sysext.map((x) => x.file),
      ...cni.map((c) => c.file),
    ])
    writeFileSync(path.join(tmp, 'SHA256SUMS'), sums)
    const result: BundleResult = {
      out,
      profile: opts.profilePath,
      cluster: cluster.name,
      kubernetesVersion: cluster.kubernetes.version,
      sha256: sha256Hex(sums),
      images,
      // The sources as manifest.json records them: a mirror's URL may carry a login, the bundle none.
      kubernetes: kubernetes.map((k) => ({...k, source: withoutCredentials(k.source)})),
      os: osRepos.map((o) => ({...o, mirror: withoutCredentials(o.mirror)})),
      sysext: sysext.map((x) => ({...x, source: withoutCredentials(x.source)})),
      cni: cni.map((c) => ({...c, source: withoutCredentials(c.source)})),
      created: opts.now().toISOString(),
    }
    const {out: _o, sha256: _s, ...manifest} = result
    writeFileSync(path.join(tmp, 'manifest.json'), `${JSON.stringify({...manifest, profile: path.basename(opts.profilePath)}, null, 2)}\n`)
    swapIn(tmp, out)
    return result
  } catch (e) {
    rmSync(tmp, {recursive: true, force: true})
    throw e
  } finally {
    rmSync(work, {recursive: true, force: true})
    await releaseKey(key)
  }
}

/** A URL without the user and password it may carry (`https://user:pw@mirror/…` → `https://mirror/…`). */
export function withoutCredentials(u: string): string {
  try {
    const url = new URL(u)
    if (!url.username && !url.password) return u
    url.username = ''
    url.password = ''
    return url.toString()
  } catch {
    return u
  }
}

/** DIR.tmp → DIR; a previous bundle is moved aside first and removed once the new one is in place. */
function swapIn(tmp: string, out: string): void {
  const old = `${out}.old`
  try {
    rmSync(old, {recursive: true, force: true})
    if (existsSync(out)) renameSync(out, old)
    renameSync(tmp, out)
    rmSync(old, {recursive: true, force: true})
  } catch (e) {
    throw new BundleError('NG1112', {dir: out, reason: (e as Error).message})
  }
}

/** `sha256sum`'s format over the bundle's files, as bundle.sh reads it. */
function sha256sums(dir: string, files: string[]): string {
  return `${[...new Set(files)]
    .sort()
    .map((f) => `${sha256Hex(readFileSync(path.join(dir, f)))}  ${f}`)
    .join('\n')}\n`
}

async function bundleImages(
  images: Inventory['images'],
  tmp: string,
  work: string,
  opts: BundleOptions,
  step: (what: string) => void,
): Promise<BundleImage[]> {
  const dir = path.join(tmp, 'images')
  mkdirSync(dir, {recursive: true})
  const taken = new Set<string>()
  const out: BundleImage[] = []
  for (const [n, img] of images.entries()) {
    const file = archiveName(img.image, taken)
    const layout = path.join(work, `image-${n}`)
    const digest = await copyImage(img.image, layout, {
      insecureRegistries: opts.insecureRegistries ?? [],
      ...(opts.authFile ? {authFile: opts.authFile} : {}),
    })
    await packLayout(layout, path.join(dir, file))
    rmSync(layout, {recursive: true, force: true})
    out.push({
      image: img.image,
      file,
      digest,
      sha256: sha256Hex(readFileSync(path.join(dir, file))),
      ...(img.upstream ? {upstream: img.upstream} : {}),
    })
    step(`image ${img.image} -> images/${file}`)
  }
  writeFileSync(
    path.join(dir, 'images.txt'),
    `# <image reference> <archive file>, as the nodes' containerd names them (nodegen bundle)\n${out.map((i) => `${i.image} ${i.file}`).join('\n')}\n`,
  )
  return out
}

/**
 * The pinned Kubernetes packages from a pkgs.k8s.io-style repository: its InRelease checked against
 * its Release.key, Packages against the InRelease, every package against Packages; then the same
 * files in the bundle's kubernetes/ under indexes made and signed here.
 */
async function bundleKubernetes(
  cluster: Cluster,
  tmp: string,
  work: string,
  key: SigningKey,
  opts: BundleOptions,
): Promise<BundleResult['kubernetes'][number]> {
  const source = kubernetesSource(cluster, opts.packageRepository)
  const rel = `kubernetes/core:/stable:/${cluster.kubernetes.channel}/deb`
  const dir = path.join(tmp, rel)
  const inRelease = await fetchText(`${source}InRelease`)
  const upstreamKey = await fetchText(`${source}Release.key`)
  await verifyInRelease(inRelease, upstreamKey, path.join(work, 'kubernetes-gpg'), `${source}InRelease`, `${source}Release.key`)
  const release = parseStanzas(clearSignedText(inRelease) ?? '')[0] ?? {}
  const hashes = releaseSha256(release)
  const index = hashes.has('Packages') ? 'Packages' : hashes.has('Packages.gz') ? 'Packages.gz' : undefined
  if (!index) throw new BundleError('NG1105', {url: source, packages: 'Packages index in its Release'})
  const want = hashes.get(index) as {sha256: string; size: number}
  const indexFile = path.join(work, `kubernetes-${index}`)
  await download(`${source}${index}`, indexFile, {...want, source: `${source}InRelease`, what: index})
  const raw = readFileSync(indexFile)
  const stanzas = parseStanzas((index.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'))
  const v = cluster.kubernetes.version
  const {chosen, missing} = choosePackages(stanzas, [
    {name: 'kubelet', versionPrefix: `${v}-`},
    {name: 'kubeadm', versionPrefix: `${v}-`},
    {name: 'kubectl', versionPrefix: `${v}-`},
    {name: 'cri-tools'},
    {name: 'kubernetes-cni'},
  ])
  if (missing.length > 0)
    throw new BundleError('NG1105', {url: source, packages: missing.map((m) => (m.versionPrefix ? `${m.name} ${v}` : m.name)).join(', ')})
  const packages: BundlePackage[] = []
  for (const c of chosen) {
    await download(`${source}${c.filename}`, path.join(dir, c.filename), {
      sha256: c.sha256,
      size: c.size,
      source: `${source}${index}`,
      what: c.filename,
    })
    packages.push({name: c.name, version: c.version, file: `${rel}/${c.filename}`, sha256: c.sha256})
  }
  await indexFlatRepository(dir, key, 'nodegen bundle kubernetes')
  return {format: 'deb', source, path: rel, packages}
}

/** The packages of an OS and their dependency closure, as a flat repository signed by the bundle key. */
async function bundleOs(
  cluster: Cluster,
  o: InventoryOs,
  osMirror: string,
  tmp: string,
  work: string,
  key: SigningKey,
  kubernetes: BundleResult['kubernetes'][number],
  opts: BundleOptions,
): Promise<BundleResult['os'][number]> {
  const mirror = osMirror.replace(/\/+$/, '')
  const suite = OS_INFO[o.os as OsId].apt?.codename as string
  const keyring = opts.osKeyring ?? `/usr/share/keyrings/${OS_INFO[o.os as OsId].apt?.distro}-archive-keyring.gpg`
  try {
    statSync(keyring)
  } catch (e) {
    throw new BundleError('NG1113', {
      file: keyring,
      os: o.os,
      reason: (e as NodeJS.ErrnoException).code ?? String(e),
      fix: 'pass --os-keyring',
    })
  }
  const scratch = path.join(work, `apt-${o.os}`)
  mkdirSync(scratch, {recursive: true})
  const bundleKeyring = path.join(scratch, 'bundle.gpg')
  await dearmorKey(key.publicKey, bundleKeyring, path.join(work, 'kubernetes-gpg'))
  const sources: AptSource[] = [
    {uri: mirror, suite, components: OS_INFO[o.os as OsId].apt?.distro === 'ubuntu' ? 'main universe' : 'main', keyring},
    {uri: `file:${path.join(tmp, kubernetes.path)}/`, suite: './', keyring: bundleKeyring},
  ]
  const node = cluster.nodes.find((n) => n.os === o.os)
  if (node && cluster.runtime.type === 'containerd' && runtimeSource(cluster, node) === 'docker') {
    // Docker's containerd.io: its key as the nodes fetch it without a bundle, from the repository.
    const docker = dockerRepository(cluster, node)
    const dockerKeyring = path.join(scratch, 'docker.gpg')
    await dearmorKey(await fetchText(`${docker.url}/gpg`), dockerKeyring, path.join(work, 'kubernetes-gpg'))
    const [dsuite, ...components] = (docker.suite ?? `${suite} stable`).split(' ')
    sources.push({uri: docker.url, suite: dsuite as string, components: components.join(' '), keyring: dockerKeyring})
  }
  const requests = o.packages.map((p) => {
    const pinned = kubernetes.packages.find((k) => k.name === p.name)
    if (pinned) return `${p.name}=${pinned.version}`
    // Docker's containerd.io at the release the nodes pin (install-packages.sh asks for the same).
    if (p.name === 'containerd.io' && cluster.runtime.version) return `containerd.io=${cluster.runtime.version}-*`
    return p.name
  })
  let files: string[]
  try {
    files = await downloadClosure(scratch, sources, [...new Set(requests)])
  } catch (e) {
    throw new BundleError('NG1107', {os: o.os, mirror, reason: (e as Error).message})
  }
  const rel = `os/${o.os}`
  const dir = path.join(tmp, rel)
  mkdirSync(dir, {recursive: true})
  const fromKubernetes = new Set(kubernetes.packages.map((k) => path.basename(k.file)))
  for (const f of files) if (!fromKubernetes.has(path.basename(f))) copyFileSync(f, path.join(dir, path.basename(f)))
  await indexFlatRepository(dir, key, `nodegen bundle ${o.os}`)
  const packages = parseStanzas(readFileSync(path.join(dir, 'Packages'), 'utf8')).map((s) => ({
    name: s.Package ?? '',
    version: s.Version ?? '',
    file: `${rel}/${(s.Filename ?? '').replace(/^\.\//, '')}`,
    sha256: s.SHA256 ?? '',
  }))
  return {os: o.os, mirror, packages}
}

/**
 * Flatcar's Kubernetes sysext image of the profile's version into sysext/, checked against
 * spec.kubernetes.sysextSha512 when the profile pins it; its SHA-512 goes into manifest.json either
 * way, the value for that pin.
 */
async function bundleSysext(cluster: Cluster, tmp: string, opts: BundleOptions): Promise<BundleResult['sysext'][number]> {
  const {name, sha512} = sysextImage(cluster)
  const url = `${sysextSource(cluster, opts.sysextRepository)}/${name}`
  const file = `sysext/${name}`
  const got = await download(
    url,
    path.join(tmp, file),
    undefined,
    sha512 ? {sha512, source: 'spec.kubernetes.sysextSha512', what: name} : undefined,
  )
  return {file, source: url, sha256: got.sha256, sha512: got.sha512}
}

/** The name of the first Secret among a manifest's documents, if it holds one. */
export function manifestSecret(text: string): string | undefined {
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length > 0) continue
    const v = doc.toJS({maxAliasCount: 100}) as {kind?: unknown; metadata?: {name?: unknown}} | null
    if (v && typeof v === 'object' && v.kind === 'Secret') return typeof v.metadata?.name === 'string' ? v.metadata.name : 'unnamed'
  }
  return undefined
}

/**
 * The CNI manifest: the profile's manifestFile as it is, or the manifestUrl's, checked against its
 * pin. A manifest holding a Secret stays out (NG1118): the bundle is served to anyone on the
 * provisioning network, while the nodes apply the copy their seed carries.
 */
async function bundleCni(cluster: Cluster, profilePath: string, tmp: string, notice: (what: string) => void): Promise<BundleResult['cni']> {
  const cni = cluster.networking.cni
  if (cni.type === 'none') return []
  const dir = path.join(tmp, 'cni')
  mkdirSync(dir, {recursive: true})
  const keep = (file: string, source: string): boolean => {
    const secret = manifestSecret(readFileSync(path.join(tmp, file), 'utf8'))
    if (secret === undefined) return true
    rmSync(path.join(tmp, file), {force: true})
    notice(`${bundleMessage('NG1118', {file: source, name: secret})} (NG1118)`)
    return false
  }
  if (cni.manifestFile !== undefined) {
    const src = path.resolve(path.dirname(profilePath), cni.manifestFile)
    const file = `cni/${path.basename(src)}`
    copyFileSync(src, path.join(tmp, file))
    if (!keep(file, cni.manifestFile)) return []
    return [{file, sha256: sha256Hex(readFileSync(path.join(tmp, file))), source: cni.manifestFile}]
  }
  if (cni.manifestUrl === undefined) return []
  const name = path.basename(new URL(cni.manifestUrl).pathname).replace(/[^A-Za-z0-9._-]+/g, '_') || 'manifest.yaml'
  const file = `cni/${name}`
  const got = await download(
    cni.manifestUrl,
    path.join(tmp, file),
    cni.manifestSha256 ? {sha256: cni.manifestSha256, source: 'spec.networking.cni.manifestSha256', what: 'the CNI manifest'} : undefined,
  )
  if (!keep(file, cni.manifestUrl)) return []
  return [{file, sha256: got.sha256, source: cni.manifestUrl}]
}

/** The files of a built bundle, for tests and listings: every path under it, sorted. */
export function bundleFiles(dir: string): string[] {
  return (readdirSync(dir, {recursive: true}) as string[]).filter((f) => statSync(path.join(dir, f)).isFile()).sort()
}
