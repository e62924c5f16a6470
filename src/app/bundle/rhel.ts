/**
 * The RHEL family's part of a bundle: the pinned Kubernetes packages in pkgs.k8s.io's rpm layout
 * (`kubernetes/core:/stable:/vX.Y/rpm/`) and, per EL OS, `os/<os>/` with the OS packages the
 * inventory lists and their dependency closure, both rpm-md repositories made by createrepo_c.
 *
 * The real dnf resolves and downloads everything in one transaction per OS, from a scratch
 * configuration that reads the OS mirror's BaseOS and AppStream, the upstream Kubernetes repository
 * and, for containerd.io, Docker's: dnf checks every package against its repository's checksum and
 * key as it downloads. The packages keep their upstream signatures (nothing is re-signed), so the
 * bundle ships the keys that made them: `os/<os>/Release.key` (the vendor's and Docker's, one
 * armoured block each) and the Kubernetes repository's `repodata/repomd.xml.key`; rpmkeys then
 * checks every package again against exactly the keys shipped for its repository, so a node with
 * gpgcheck=1 and only those keys accepts all of them. The repositories' metadata is not signed:
 * as on EL's own repositories, dnf's gpgcheck covers the packages, and SHA256SUMS the keys.
 */
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import type {InventoryOs} from '../../plan/inventory.js'
import {dockerRepository} from '../../plan/os/index.js'
import {dockerRepositoryBase, runtimeSource} from '../../plan/params.js'
import type {Cluster} from '../../profile/index.js'
import {checkRpmSignatures, DnfFailed, downloadRpmClosure, fetchText, indexRpmRepository, type RpmSource, sha256Hex} from './adapters.js'
import {BundleError} from './errors.js'
import {dnfFailure, dnfRefusal, EL_MIRROR_REPOSITORIES, EL_RELEASES, parseRpmFileName, unmatchedRequests} from './rpm.js'

export interface RpmPackage {
  name: string
  version: string
  file: string
  sha256: string
}

/** An armoured public key and where it came from (a file, a URL). */
interface Key {
  from: string
  text: string
}

const ARMOUR = '-----BEGIN PGP PUBLIC KEY BLOCK-----'

/** A key file or URL, read and checked to be an armoured public key (NG1113 otherwise). */
export async function readKey(from: string, os: string, fix: string): Promise<Key> {
  let text: string
  if (/^https?:\/\//.test(from)) text = await fetchText(from)
  else {
    try {
      text = readFileSync(from, 'utf8')
    } catch (e) {
      throw new BundleError('NG1113', {file: from, os, reason: (e as NodeJS.ErrnoException).code ?? String(e), fix})
    }
  }
  if (!text.includes(ARMOUR))
    throw new BundleError('NG1113', {file: from, os, reason: 'it is not an ASCII-armoured OpenPGP public key', fix})
  return {from, text: text.endsWith('\n') ? text : `${text}\n`}
}

/** What one EL OS's run needs beyond the cluster: where from, with which keys, into which directories. */
export interface RhelOsJob {
  cluster: Cluster
  os: InventoryOs
  /** The OS mirror, above BaseOS/ and AppStream/ (https://repo.almalinux.org/almalinux/9). */
  mirror: string
  /** The vendor's keys (--os-gpg-key, or EL_RELEASES' default). */
  osKeys: readonly string[]
  /** The upstream Kubernetes rpm repository, ending in `/`. */
  kubernetesSource: string
  /** The bundle being built (DIR.tmp) and the scratch directory beside it. */
  tmp: string
  work: string
  /** The bundle's Kubernetes rpm repository, relative to the bundle (kubernetes/core:/stable:/v1.34/rpm). */
  kubernetesPath: string
}

/**
 * One EL OS: the closure downloaded by dnf, checked, the OS packages into os/<os>/ (indexed), the
 * Kubernetes packages into the shared Kubernetes rpm directory (indexed by {@link finishKubernetesRpm}).
 */
export async function bundleRhelOs(
  job: RhelOsJob,
): Promise<{os: string; mirror: string; packages: RpmPackage[]; kubernetes: RpmPackage[]; kubernetesKey: string}> {
  const {cluster, os: o, tmp, work} = job
  const release = EL_RELEASES[o.os]
  if (!release) throw new BundleError('NG1107', {os: o.os, mirror: job.mirror, reason: 'no EL release is known for it'})
  const scratch = path.join(work, `dnf-${o.os}`)
  const keysDir = path.join(scratch, 'keys')
  mkdirSync(keysDir, {recursive: true})
  const writeKeys = (name: string, keys: Key[]) =>
    keys.map((k, i) => {
      const f = path.join(keysDir, `${name}-${i}.asc`)
      writeFileSync(f, k.text)
      return f
    })
  const osKeys = await Promise.all(job.osKeys.map((k) => readKey(k, o.os, 'pass --os-gpg-key')))
  const k8sKeyUrl = `${job.kubernetesSource}repodata/repomd.xml.key`
  const k8sKey = await readKey(k8sKeyUrl, o.os, 'check --package-repository or spec.kubernetes.packageRepository')
  const mirror = job.mirror.replace(/\/+$/, '')
  const sources: Array<RpmSource & {keys: Key[]}> = EL_MIRROR_REPOSITORIES.map((r) => ({
    id: r.id,
    baseurl: `${mirror}/${r.path}`,
    keys: osKeys,
    keyFiles: [],
  }))
  sources.push({id: 'kubernetes', baseurl: job.kubernetesSource, keys: [k8sKey], keyFiles: []})
  const node = cluster.nodes.find((n) => n.os === o.os)
  if (node && cluster.runtime.type === 'containerd' && runtimeSource(cluster, node) === 'docker') {
    const dockerKey = await readKey(
      `${dockerRepositoryBase(cluster)}/linux/centos/gpg`,
      o.os,
      'check spec.containerRuntime.dockerRepository',
    )
    sources.push({id: 'docker', baseurl: dockerRepository(cluster, node).url, keys: [dockerKey], keyFiles: []})
  }
  for (const s of sources) s.keyFiles = writeKeys(s.id, s.keys)

  let files: Map<string, string[]>
  try {
    files = await downloadRpmClosure(scratch, sources, [...new Set(o.packages.map((p) => p.request))], release)
  } catch (e) {
    if (!(e instanceof DnfFailed)) throw e
    const kind = dnfFailure(e.output)
    if (kind === 'no-match')
      throw new BundleError('NG1114', {os: o.os, mirror, packages: unmatchedRequests(e.output).join(', ') || e.message})
    const refused = dnfRefusal(e.output)
    if (kind === 'signature') {
      const repo = sources.find((x) => x.id === refused.repository)
      throw new BundleError('NG1115', {
        file: refused.pkg ?? 'a package',
        repository: repo ? repo.baseurl : (refused.repository ?? mirror),
        os: o.os,
        keys: (repo ? repo.keys : sources.flatMap((x) => x.keys)).map((k) => k.from).join(' '),
        reason: refused.line ?? e.message,
      })
    }
    if (kind === 'checksum')
      throw new BundleError('NG1116', {what: refused.pkg ?? 'a package', mirror, os: o.os, reason: refused.line ?? e.message})
    throw new BundleError('NG1107', {os: o.os, mirror, reason: e.message})
  }

  // Every package against exactly the keys the nodes get for its repository in the bundle.
  const osFiles = sources.filter((s) => s.id !== 'kubernetes').flatMap((s) => files.get(s.id) ?? [])
  const osShipped = sources.filter((s) => s.id !== 'kubernetes').flatMap((s) => s.keys)
  const uniqueOsKeys = [...new Map(osShipped.map((k) => [k.text, k])).values()]
  const k8sFiles = files.get('kubernetes') ?? []
  for (const [list, keys, repository] of [
    [osFiles, uniqueOsKeys, `os/${o.os}`],
    [k8sFiles, [k8sKey], job.kubernetesPath],
  ] as const) {
    const bad = await checkRpmSignatures(
      list,
      writeKeys(`check-${repository.replace(/[^a-z0-9]+/gi, '-')}`, [...keys]),
      path.join(scratch, 'check'),
    )
    const first = bad[0]
    if (first)
      throw new BundleError('NG1115', {
        file: path.basename(first.file),
        repository,
        os: o.os,
        keys: keys.map((k) => k.from).join(' '),
        reason: first.reason,
      })
  }

  const rel = `os/${o.os}`
  const dir = path.join(tmp, rel)
  mkdirSync(dir, {recursive: true})
  const copied = (list: readonly string[], into: string, relDir: string): RpmPackage[] =>
    list.map((f) => {
      const base = path.basename(f)
      const dest = path.join(into, base)
      if (!existsSync(dest)) copyFileSync(f, dest)
      const p = parseRpmFileName(base)
      return {name: p?.name ?? base, version: p?.version ?? '', file: `${relDir}/${base}`, sha256: sha256Hex(readFileSync(dest))}
    })
  const packages = copied(osFiles, dir, rel)
  // The vendor's and Docker's keys, one armoured block after another: dnf imports each of them.
  writeFileSync(path.join(dir, 'Release.key'), uniqueOsKeys.map((k) => k.text).join(''))
  await indexRpmRepository(dir)
  const kdir = path.join(tmp, job.kubernetesPath)
  mkdirSync(kdir, {recursive: true})
  const kubernetes = copied(k8sFiles, kdir, job.kubernetesPath)
  return {os: o.os, mirror, packages, kubernetes, kubernetesKey: k8sKey.text}
}

/**
 * The bundle's Kubernetes rpm repository once every EL OS has added its packages: indexed, with the
 * upstream key beside its metadata as pkgs.k8s.io serves it (repodata/repomd.xml.key, the file the
 * nodes' kubernetes.repo names).
 */
export async function finishKubernetesRpm(tmp: string, kubernetesPath: string, key: string): Promise<void> {
  const dir = path.join(tmp, kubernetesPath)
  await indexRpmRepository(dir)
  writeFileSync(path.join(dir, 'repodata', 'repomd.xml.key'), key)
}
