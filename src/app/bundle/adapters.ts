/**
 * Everything `nodegen bundle` does outside the process, in one place: HTTP downloads, skopeo for the
 * images, gpg for the signing key and repository signatures, apt-get for the Debian packages'
 * dependency closure and apt-ftparchive for their indexes, dnf for the RHEL family's closure (it
 * checks each package's signature as it downloads), rpmkeys to check them again against the keys
 * the bundle ships, createrepo_c for the rpm indexes. Tools come from Debian's packages and are
 * found on PATH. No secret is ever on a command line: the signing key stays in its GNUPGHOME (0700,
 * files 0600 as gpg writes them), registry credentials in skopeo's --authfile.
 */
import {spawn, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {BundleError} from './errors.js'

/** The Debian package each tool comes from, and why the bundle needs it (NG1101). */
const TOOLS: Readonly<Record<string, {package: string; why: string}>> = Object.freeze({
  skopeo: {package: 'skopeo', why: 'to copy the images into OCI archives'},
  gpg: {package: 'gpg', why: 'to sign its repositories'},
  gpgv: {package: 'gpgv', why: "to check the upstream repositories' signatures"},
  'apt-get': {package: 'apt', why: "to resolve the OS packages' dependencies"},
  'apt-ftparchive': {package: 'apt-utils', why: 'to index its repositories (Packages, Release)'},
  tar: {package: 'tar', why: 'to pack the image archives'},
  dnf: {package: 'dnf', why: "to resolve the RHEL family's packages and check their signatures"},
  rpmkeys: {package: 'rpm', why: "to check the rpm packages' signatures against the keys the bundle ships"},
  createrepo_c: {package: 'createrepo-c', why: 'to index its rpm repositories'},
})

/** The absolute path of a tool on PATH, or NG1101. */
export function tool(name: keyof typeof TOOLS): string {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], {encoding: 'utf8'})
  const found = r.status === 0 ? r.stdout.trim() : ''
  if (found) return found
  const t = TOOLS[name] as {package: string; why: string}
  throw new BundleError('NG1101', {tool: name, why: t.why, package: t.package})
}

export interface RunResult {
  status: number
  stdout: string
  stderr: string
}

/** Runs a tool without a shell, without blocking the event loop (a progress bar keeps drawing). */
export function runTool(
  cmd: string,
  args: string[],
  opts: {env?: NodeJS.ProcessEnv; cwd?: string; stdout?: string} = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd})
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (status) => {
      const stdout = Buffer.concat(out)
      if (opts.stdout) writeFileSync(opts.stdout, stdout)
      resolve({status: status ?? -1, stdout: opts.stdout ? '' : stdout.toString(), stderr})
    })
  })
}

/** The last lines of a tool's error output, for a message. */
export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' / ') || 'no output'
}

export const sha256Hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

/**
 * Downloads `url` to `dest` (written as `dest.part`, renamed when whole), returning its SHA-256,
 * SHA-512 and size. With `want` (SHA-256 and size) or `want512` (SHA-512), a file that differs is
 * removed and refused (NG1104).
 */
export async function download(
  url: string,
  dest: string,
  want?: {sha256: string; size?: number; source: string; what: string},
  want512?: {sha512: string; source: string; what: string},
): Promise<{sha256: string; sha512: string; size: number}> {
  let res: Response
  try {
    res = await fetch(url, {redirect: 'follow'})
  } catch (e) {
    throw new BundleError('NG1103', {url, reason: String((e as Error & {cause?: Error}).cause?.message ?? (e as Error).message)})
  }
  if (!res.ok || !res.body) throw new BundleError('NG1103', {url, reason: `HTTP ${res.status} ${res.statusText}`})
  mkdirSync(path.dirname(dest), {recursive: true})
  const hash = createHash('sha256')
  const hash512 = createHash('sha512')
  let size = 0
  const part = `${dest}.part`
  const counted = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)
  counted.on('data', (chunk: Buffer) => {
    hash.update(chunk)
    hash512.update(chunk)
    size += chunk.length
  })
  try {
    await pipeline(counted, createWriteStream(part))
  } catch (e) {
    rmSync(part, {force: true})
    throw new BundleError('NG1103', {url, reason: (e as Error).message})
  }
  const have = hash.digest('hex')
  const have512 = hash512.digest('hex')
  if (want && (have !== want.sha256 || (want.size !== undefined && want.size >= 0 && size !== want.size))) {
    rmSync(part, {force: true})
    throw new BundleError('NG1104', {
      what: want.what,
      url,
      algorithm: 'SHA-256',
      have: `${have} (${size} bytes)`,
      source: want.source,
      want: `${want.sha256}${want.size !== undefined ? ` (${want.size} bytes)` : ''}`,
    })
  }
  if (want512 && have512 !== want512.sha512.toLowerCase()) {
    rmSync(part, {force: true})
    throw new BundleError('NG1104', {
      what: want512.what,
      url,
      algorithm: 'SHA-512',
      have: have512,
      source: want512.source,
      want: want512.sha512,
    })
  }
  renameSync(part, dest)
  return {sha256: have, sha512: have512, size}
}

/** Fetches a small text (an index, a key) into memory. */
export async function fetchText(url: string): Promise<string> {
  let res: Response
  try {
    res = await fetch(url, {redirect: 'follow'})
  } catch (e) {
    throw new BundleError('NG1103', {url, reason: String((e as Error & {cause?: Error}).cause?.message ?? (e as Error).message)})
  }
  if (!res.ok) throw new BundleError('NG1103', {url, reason: `HTTP ${res.status} ${res.statusText}`})
  return await res.text()
}

// ---- images: skopeo ----

export interface CopyImageOptions {
  /** Registries (host[:port]) reached over plain HTTP or with an unverified certificate: local test registries. */
  insecureRegistries: readonly string[]
  /** skopeo's --authfile (a containers-auth.json): credentials never go on a command line. */
  authFile?: string
}

/**
 * Copies one image, linux/amd64, from its registry into an OCI image layout directory, naming it
 * `ref` in the layout's index. skopeo (1.9, Debian 12) records the full reference it is given in
 * `org.opencontainers.image.ref.name`, which Debian's containerd 1.6 imports under that name (tried);
 * but the OCI spec means that annotation for a tag alone, and containerd's importer reads the full
 * name from `io.containerd.image.name` first, so the index is given that annotation too and the
 * name does not depend on either tool's reading of the spec. Returns the image manifest's digest.
 */
export async function copyImage(ref: string, layout: string, opts: CopyImageOptions): Promise<string> {
  const skopeo = tool('skopeo')
  const host = ref.split('/')[0] ?? ''
  const insecure = ref.includes('/') && opts.insecureRegistries.includes(host)
  const args = [
    'copy',
    '--quiet',
    '--retry-times',
    '3',
    '--override-os',
    'linux',
    '--override-arch',
    'amd64',
    ...(insecure ? ['--src-tls-verify=false'] : []),
    ...(opts.authFile ? ['--authfile', opts.authFile] : []),
    `docker://${ref}`,
    `oci:${layout}:${ref}`,
  ]
  const r = await runTool(skopeo, args)
  if (r.status !== 0) throw new BundleError('NG1102', {image: ref, reason: lastLines(r.stderr)})
  const indexPath = path.join(layout, 'index.json')
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as {manifests?: Array<{digest: string; annotations?: Record<string, string>}>}
  const entry = index.manifests?.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref) ?? index.manifests?.[0]
  if (!entry) throw new BundleError('NG1102', {image: ref, reason: 'skopeo wrote an OCI layout without a manifest'})
  entry.annotations = {...entry.annotations, 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': ref}
  writeFileSync(indexPath, `${JSON.stringify(index)}\n`)
  return entry.digest
}

/** Packs an OCI layout directory into the tar `ctr images import` reads, reproducibly. */
export async function packLayout(layout: string, archive: string): Promise<void> {
  const tar = tool('tar')
  const r = await runTool(tar, [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '-C',
    layout,
    '-cf',
    archive,
    'oci-layout',
    'index.json',
    'blobs',
  ])
  if (r.status !== 0) throw new BundleError('NG1112', {dir: path.dirname(archive), reason: lastLines(r.stderr)})
}

// ---- gpg: the bundle signing key ----

/** The bundle signing key: a GNUPGHOME in the profile's state directory. */
export interface SigningKey {
  home: string
  /** The public key, ASCII-armoured: every repository's Release.key. */
  publicKey: string
}

/**
 * The bundle's signing key, made on first use in `<state>/bundle-gnupg/` (0700; gpg writes the
 * secret key 0600) and reused, so every bundle of a cluster is signed by the same key. It has no
 * passphrase: it signs unattended, and its protection is the state directory's.
 */
export async function signingKey(stateDir: string, cluster: string): Promise<SigningKey> {
  const gpg = tool('gpg')
  const home = path.join(stateDir, 'bundle-gnupg')
  mkdirSync(home, {recursive: true, mode: 0o700})
  chmodSync(home, 0o700)
  const env = {...process.env, GNUPGHOME: home}
  const uid = `nodegen bundle signing key (${cluster})`
  const fail = (reason: string) => new BundleError('NG1109', {dir: home, reason})
  const list = await runTool(gpg, ['--batch', '--with-colons', '--list-secret-keys'], {env})
  if (!list.stdout.includes('\nsec:') && !list.stdout.startsWith('sec:')) {
    const made = await runTool(gpg, ['--batch', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], {env})
    if (made.status !== 0) throw fail(lastLines(made.stderr))
  }
  // Owner-only, whatever the umask gpg ran under: the secret key and everything beside it.
  for (const e of readdirSync(home, {recursive: true, withFileTypes: true})) {
    if (e.isSocket()) continue
    chmodSync(path.join(e.parentPath, e.name), e.isDirectory() ? 0o700 : 0o600)
  }
  const pub = await runTool(gpg, ['--batch', '--armor', '--export'], {env})
  if (pub.status !== 0 || !pub.stdout.includes('BEGIN PGP PUBLIC KEY BLOCK')) throw fail(lastLines(pub.stderr))
  return {home, publicKey: pub.stdout}
}

/** Stops the gpg-agent gpg started for the key's GNUPGHOME (it would otherwise outlive the command). */
export async function releaseKey(key: SigningKey): Promise<void> {
  const r = spawnSync('sh', ['-c', 'command -v gpgconf'], {encoding: 'utf8'})
  if (r.status === 0) await runTool(r.stdout.trim(), ['--kill', 'gpg-agent'], {env: {...process.env, GNUPGHOME: key.home}})
}

/** Clear-signs `dir/Release` into `dir/InRelease` and detach-signs it into `dir/Release.gpg`. */
export async function signRelease(key: SigningKey, dir: string): Promise<void> {
  const gpg = tool('gpg')
  const env = {...process.env, GNUPGHOME: key.home}
  for (const [flag, out] of [
    ['--clearsign', 'InRelease'],
    ['--detach-sign', 'Release.gpg'],
  ] as const) {
    const r = await runTool(gpg, ['--batch', '--yes', '--armor', flag, '-o', path.join(dir, out), path.join(dir, 'Release')], {env})
    if (r.status !== 0) throw new BundleError('NG1109', {dir: key.home, reason: lastLines(r.stderr)})
  }
}

/**
 * Checks an InRelease against an armoured public key with gpgv, in a scratch keyring under `scratch`.
 * Throws NG1111 when the signature does not verify.
 */
export async function verifyInRelease(inRelease: string, armoredKey: string, scratch: string, url: string, keyUrl: string): Promise<void> {
  const gpg = tool('gpg')
  const gpgv = tool('gpgv')
  mkdirSync(scratch, {recursive: true, mode: 0o700})
  writeFileSync(path.join(scratch, 'key.asc'), armoredKey)
  writeFileSync(path.join(scratch, 'InRelease'), inRelease)
  const keyring = path.join(scratch, 'key.gpg')
  const dearmor = await runTool(gpg, ['--batch', '--yes', '--dearmor', '-o', keyring, path.join(scratch, 'key.asc')], {
    env: {...process.env, GNUPGHOME: scratch},
  })
  if (dearmor.status !== 0) throw new BundleError('NG1111', {url, key: keyUrl, reason: lastLines(dearmor.stderr)})
  const r = await runTool(gpgv, ['--keyring', keyring, path.join(scratch, 'InRelease')])
  if (r.status !== 0) throw new BundleError('NG1111', {url, key: keyUrl, reason: lastLines(r.stderr)})
}

/** Dearmours an ASCII-armoured key into a binary keyring apt's signed-by reads. */
export async function dearmorKey(armored: string, dest: string, scratch: string): Promise<void> {
  const gpg = tool('gpg')
  writeFileSync(`${dest}.asc`, armored)
  const r = await runTool(gpg, ['--batch', '--yes', '--dearmor', '-o', dest, `${dest}.asc`], {env: {...process.env, GNUPGHOME: scratch}})
  rmSync(`${dest}.asc`, {force: true})
  if (r.status !== 0) throw new BundleError('NG1109', {dir: scratch, reason: lastLines(r.stderr)})
}

// ---- apt: indexes and the dependency closure ----

/**
 * Writes a flat repository's indexes in `dir` (Packages, Packages.gz, Release) over the .deb files
 * under it, with apt-ftparchive, and signs the Release with the bundle key.
 */
export async function indexFlatRepository(dir: string, key: SigningKey, origin: string): Promise<void> {
  const ftp = tool('apt-ftparchive')
  const pk = await runTool(ftp, ['packages', '.'], {cwd: dir, stdout: path.join(dir, 'Packages')})
  if (pk.status !== 0) throw new BundleError('NG1112', {dir, reason: lastLines(pk.stderr)})
  const {gzipSync} = await import('node:zlib')
  writeFileSync(path.join(dir, 'Packages.gz'), gzipSync(readFileSync(path.join(dir, 'Packages')), {level: 9}))
  const opts = [`Origin=${origin}`, `Label=${origin}`, 'Architectures=amd64 all'].flatMap((o) => ['-o', `APT::FTPArchive::Release::${o}`])
  const rel = await runTool(ftp, [...opts, 'release', '.'], {cwd: dir})
  if (rel.status !== 0) throw new BundleError('NG1112', {dir, reason: lastLines(rel.stderr)})
  writeFileSync(path.join(dir, 'Release'), rel.stdout)
  await signRelease(key, dir)
  writeFileSync(path.join(dir, 'Release.key'), key.publicKey)
}

/** One source of the scratch apt configuration: a line of sources.list with its keyring. */
export interface AptSource {
  /** `deb [signed-by=…] URL SUITE COMPONENT` or a flat `URL ./`, without the `deb` and options. */
  uri: string
  suite: string
  components?: string
  keyring: string
}

/**
 * The dependency closure of `packages` (apt-get's requests: `name` or `name=version`), downloaded by
 * apt-get install --download-only in a scratch apt configuration that reads only `sources` and an
 * empty dpkg status, so every dependency down to libc is included: the node's apt reads no other
 * repository. Returns the .deb files apt downloaded.
 */
export async function downloadClosure(scratch: string, sources: readonly AptSource[], packages: readonly string[]): Promise<string[]> {
  const apt = tool('apt-get')
  for (const d of ['etc/apt.conf.d', 'etc/preferences.d', 'etc/sources.list.d', 'lists/partial', 'archives/partial'])
    mkdirSync(path.join(scratch, d), {recursive: true})
  writeFileSync(
    path.join(scratch, 'etc/sources.list'),
    sources.map((s) => `deb [signed-by=${s.keyring} arch=amd64] ${s.uri} ${s.suite}${s.components ? ` ${s.components}` : ''}\n`).join(''),
  )
  writeFileSync(path.join(scratch, 'status'), '')
  const opts = [
    `Dir::Etc=${scratch}/etc`,
    `Dir::Etc::sourcelist=${scratch}/etc/sources.list`,
    `Dir::Etc::sourceparts=${scratch}/etc/sources.list.d`,
    `Dir::Etc::parts=${scratch}/etc/apt.conf.d`,
    `Dir::Etc::preferencesparts=${scratch}/etc/preferences.d`,
    `Dir::State::lists=${scratch}/lists`,
    `Dir::State::status=${scratch}/status`,
    `Dir::Cache=${scratch}`,
    `Dir::Cache::archives=${scratch}/archives`,
    'APT::Architecture=amd64',
    'APT::Architectures=amd64',
    'APT::Install-Recommends=false',
    'APT::Sandbox::User=root',
    'Debug::NoLocking=true',
    'Acquire::Languages=none',
  ].flatMap((o) => ['-o', o])
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C'}
  const update = await runTool(apt, [...opts, 'update', '-q'], {env})
  if (update.status !== 0 || /^(W|E): /m.test(update.stderr)) throw new Error(lastLines(update.stderr || update.stdout, 4))
  const install = await runTool(apt, [...opts, 'install', '-q', '-y', '--download-only', '--no-install-recommends', ...packages], {env})
  if (install.status !== 0) throw new Error(lastLines(install.stderr || install.stdout, 4))
  const archives = path.join(scratch, 'archives')
  return existsSync(archives)
    ? readdirSync(archives)
        .filter((f) => f.endsWith('.deb'))
        .sort()
        .map((f) => path.join(archives, f))
    : []
}

// ---- dnf, rpmkeys and createrepo_c: the RHEL family ----

/** One repository of the scratch dnf configuration, with the keys its packages are signed by. */
export interface RpmSource {
  /** dnf's repository id: the packages it downloads land in the cache directory named after it. */
  id: string
  /** Its URL; `$releasever` and `$basearch` are dnf's, as in the nodes' repository files. */
  baseurl: string
  /** Files of ASCII-armoured public keys (gpgkey=file://…): dnf refuses a package none of them signed. */
  keyFiles: readonly string[]
}

/** dnf's failure, with its last lines. */
export class DnfFailed extends Error {
  constructor(readonly output: string) {
    super(lastLines(output, 4))
    this.name = 'DnfFailed'
  }
}

/**
 * The dependency closure of `packages` (dnf's requests: `name` or `name-version`), downloaded by
 * dnf install --downloadonly into an empty installroot with a scratch configuration that reads only
 * `sources`, so every dependency down to glibc is included. dnf checks each package against its
 * repository's metadata (checksum) and key (gpgcheck=1) as it downloads, and fails when one does not
 * verify. Returns the downloaded files per repository id.
 */
export async function downloadRpmClosure(
  scratch: string,
  sources: readonly RpmSource[],
  packages: readonly string[],
  release: {releasever: string; platform: string},
): Promise<Map<string, string[]>> {
  const dnf = tool('dnf')
  const repos = path.join(scratch, 'repos')
  const cache = path.join(scratch, 'cache')
  const root = path.join(scratch, 'root')
  for (const d of [repos, cache, root]) mkdirSync(d, {recursive: true})
  writeFileSync(
    path.join(repos, 'bundle.repo'),
    sources
      .map(
        (s) =>
          `[${s.id}]\nname=${s.id}\nbaseurl=${s.baseurl}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=0\ngpgkey=${s.keyFiles.map((k) => `file://${k}`).join(' ')}\n`,
      )
      .join('\n'),
  )
  const conf = path.join(scratch, 'dnf.conf')
  writeFileSync(
    conf,
    `[main]\ngpgcheck=1\nkeepcache=1\ninstall_weak_deps=0\nbest=1\nskip_if_unavailable=0\nplugins=0\nreposdir=${repos}\ncachedir=${cache}\nmodule_platform_id=${release.platform}\n`,
  )
  const args = [
    '-y',
    '--config',
    conf,
    '--installroot',
    root,
    '--releasever',
    release.releasever,
    '--forcearch',
    'x86_64',
    `--setopt=reposdir=${repos}`,
    `--setopt=cachedir=${cache}`,
    `--setopt=varsdir=${path.join(scratch, 'vars')}`,
    '--downloadonly',
    'install',
    ...packages,
  ]
  const r = await runTool(dnf, args, {env: {...process.env, LC_ALL: 'C.UTF-8'}})
  if (r.status !== 0) throw new DnfFailed(`${r.stdout}\n${r.stderr}`)
  // dnf keeps each repository's packages in <cachedir>/<id>-<hash>/packages/.
  const out = new Map<string, string[]>()
  for (const d of readdirSync(cache, {withFileTypes: true})) {
    if (!d.isDirectory()) continue
    const source = sources.find((s) => d.name.startsWith(`${s.id}-`))
    const pk = path.join(cache, d.name, 'packages')
    if (!source || !existsSync(pk)) continue
    const files = readdirSync(pk)
      .filter((f) => f.endsWith('.rpm'))
      .sort()
      .map((f) => path.join(pk, f))
    out.set(source.id, [...(out.get(source.id) ?? []), ...files])
  }
  return out
}

/**
 * Checks rpm packages' signatures with rpmkeys against exactly `keyFiles` (imported into a scratch
 * rpm database), requiring a signature (`%_pkgverify_level signature`): an unsigned package fails as
 * a wrongly signed one does. Returns the files that do not verify, with rpmkeys' word for each.
 */
export async function checkRpmSignatures(
  files: readonly string[],
  keyFiles: readonly string[],
  scratch: string,
): Promise<Array<{file: string; reason: string}>> {
  const rpmkeys = tool('rpmkeys')
  const db = path.join(scratch, 'rpmdb')
  rmSync(db, {recursive: true, force: true})
  mkdirSync(db, {recursive: true})
  const base = ['--dbpath', db, '--define', '_pkgverify_level signature']
  for (const k of keyFiles) {
    const r = await runTool(rpmkeys, [...base, '--import', k])
    if (r.status !== 0)
      return files.map((file) => ({file, reason: `the key ${path.basename(k)} cannot be imported: ${lastLines(r.stderr)}`}))
  }
  if (files.length === 0) return []
  const r = await runTool(rpmkeys, [...base, '--checksig', ...files])
  const bad: Array<{file: string; reason: string}> = []
  for (const f of files) {
    const line = r.stdout.split('\n').find((l) => l.startsWith(`${f}:`))
    if (!line || !/: digests signatures OK$/.test(line.trim()))
      bad.push({file: f, reason: line?.slice(f.length + 1).trim() || lastLines(r.stderr)})
  }
  return bad
}

/** Writes an rpm-md repository's metadata (repodata/) over the rpm files in `dir`, with createrepo_c. */
export async function indexRpmRepository(dir: string): Promise<void> {
  const createrepo = tool('createrepo_c')
  const r = await runTool(createrepo, ['--quiet', '--no-database', '--general-compress-type=gz', dir])
  if (r.status !== 0) throw new BundleError('NG1112', {dir, reason: lastLines(r.stderr)})
}
