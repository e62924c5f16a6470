/**
 * The node's air-gap bundle client, assets/bootstrap/bundle.sh, for real: real curl against a bundle
 * served over HTTP on 127.0.0.1 by this process, and real containerd (Debian's, started privately
 * with the config.toml nodegen writes to nodes, so the CRI plugin is on as on a node) through real
 * ctr. The image archives are OCI image layouts made here by hand, in the format of
 * scripts/build-kube-images.sh. Every file is checked against SHA256SUMS, SHA256SUMS against the pin;
 * images are imported into the k8s.io namespace, a worker's skipped, and a second run imports none.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it, type TestContext} from 'node:test'
import {gzipSync} from 'node:zlib'
import {buildOsFiles} from '../../../src/plan/os/index.js'
import {encodeParams, type Params} from '../../../src/plan/params.js'
import {type Containerd, startContainerd} from '../../support/containerd.js'
import {type ServedDirectory, serveDirectory} from '../../support/net.js'
import {loadCluster, PROFILES_DIR, REPO_ROOT} from '../../support/profiles.js'
import {requireRoot, requireTool, run, runAsync} from '../../support/tools.js'

const SCRIPT = path.join(REPO_ROOT, 'assets/bootstrap/bundle.sh')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-bundle-'))
const www = path.join(tmp, 'www')
let served: ServedDirectory | undefined
/** Every path the server was asked for, in order. */
const requested = (): string[] => served?.requests ?? []
let base = ''
let containerd: Containerd | undefined

before(async () => {
  mkdirSync(www)
  served = await serveDirectory(www)
  base = served.url
})

after(async () => {
  await containerd?.stop()
  await served?.close()
  rmSync(tmp, {recursive: true, force: true})
})

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

interface Bundle {
  url: string
  /** SHA-256 of its SHA256SUMS: the profile's spec.airgap.sha256. */
  pin: string
  dir: string
}

/**
 * Writes a bundle under www/NAME/: `files` by path, and SHA256SUMS listing `listed` (default: every
 * file) as sha256sum writes it. `after` replaces files once SHA256SUMS is written (a damaged copy).
 */
function writeBundle(
  name: string,
  files: Record<string, Buffer | string>,
  opts: {listed?: string[]; after?: Record<string, Buffer | string>} = {},
): Bundle {
  const dir = path.join(www, name)
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), {recursive: true})
    writeFileSync(path.join(dir, rel), body)
  }
  const sums = (opts.listed ?? Object.keys(files)).map((rel) => `${sha256(files[rel] ?? '')}  ${rel}\n`).join('')
  writeFileSync(path.join(dir, 'SHA256SUMS'), sums)
  for (const [rel, body] of Object.entries(opts.after ?? {})) writeFileSync(path.join(dir, rel), body)
  return {url: `${base}/${name}/`, pin: sha256(sums), dir}
}

/** A node's parameter file, as nodegen encodes bootstrap.env. */
function paramsFile(params: Params): string {
  const dir = mkdtempSync(path.join(tmp, 'params-'))
  const file = path.join(dir, 'bootstrap.env')
  writeFileSync(file, encodeParams(params, '# bootstrap.env of a test node'))
  return file
}

/** A fresh NODEGEN_ROOT: bundle.sh keeps its work directory (and SHA256SUMS) under it. */
function nodeRoot(): string {
  return mkdtempSync(path.join(tmp, 'root-'))
}

function bundleSh(params: string, root: string, ...args: string[]) {
  return runAsync('bash', [SCRIPT, params, ...args], {
    env: {...process.env, NODEGEN_ROOT: root, ...(containerd ? {CONTAINERD_ADDRESS: containerd.address} : {})},
  })
}

/** The requests made since `mark` (an index into the server's requests). */
function since(mark: number): string[] {
  return requested().slice(mark)
}

const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a real key, only bytes to check\n-----END PGP PUBLIC KEY BLOCK-----\n'
const K8S_KEY = 'pkgs.k8s.io-style Release.key\n'
const K8S_KEY_PATH = 'kubernetes/core:/stable:/v1.34/deb/Release.key'

describe('bundle.sh fetch: every file checked against SHA256SUMS, SHA256SUMS against the pin', () => {
  it('fetches a listed file under the pin, replacing DEST; SHA256SUMS kept in a 0700 work dir under NODEGEN_ROOT', async (t) => {
    requireTool(t, 'curl')
    const b = writeBundle('ok', {'Release.key': KEY, [K8S_KEY_PATH]: K8S_KEY, 'os/debian-12/Release.key': KEY})
    const root = nodeRoot()
    const params = paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: b.pin})
    const dest = path.join(root, 'nodegen-bundle.asc')
    writeFileSync(dest, 'an older key\n')
    const r = await bundleSh(params, root, 'fetch', 'Release.key', dest)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(readFileSync(dest, 'utf8'), KEY)
    const work = path.join(root, 'var/lib/nodegen/bundle')
    assert.equal(statSync(work).mode & 0o777, 0o700)
    assert.equal(readFileSync(path.join(work, 'SHA256SUMS'), 'utf8'), readFileSync(path.join(b.dir, 'SHA256SUMS'), 'utf8'))
    assert.deepEqual(
      readdirSync(root).filter((f) => f.endsWith('.part')),
      [],
    )
    // pkgs.k8s.io's path, colons and all, as install-packages.sh asks for the Kubernetes key.
    const k = path.join(root, 'kubernetes-apt-keyring.asc')
    const mark = requested().length
    const r2 = await bundleSh(params, root, 'fetch', K8S_KEY_PATH, k)
    assert.equal(r2.status, 0, r2.stderr)
    assert.equal(readFileSync(k, 'utf8'), K8S_KEY)
    assert.deepEqual(since(mark), [`/ok/${K8S_KEY_PATH}`], 'SHA256SUMS is read once per boot, then kept')
  })

  it('reads sha256sum -b lines ("*path") as well', async (t) => {
    requireTool(t, 'curl')
    const b = writeBundle('binary-mode', {'Release.key': KEY})
    writeFileSync(path.join(b.dir, 'SHA256SUMS'), `${sha256(KEY)} *Release.key\n`)
    const root = nodeRoot()
    const dest = path.join(root, 'k.asc')
    const r = await bundleSh(paramsFile({BUNDLE_URL: b.url}), root, 'fetch', 'Release.key', dest)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(readFileSync(dest, 'utf8'), KEY)
  })

  it('refuses a bundle whose SHA256SUMS is not the pinned one, naming both hashes, before using anything', async (t) => {
    requireTool(t, 'curl')
    const b = writeBundle('other', {'Release.key': KEY})
    const pin = sha256('the SHA256SUMS the profile was written for\n')
    const root = nodeRoot()
    const dest = path.join(root, 'k.asc')
    const mark = requested().length
    const r = await bundleSh(paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: pin}), root, 'fetch', 'Release.key', dest)
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      r.stderr,
      new RegExp(
        `^bundle: the bundle's SHA256SUMS has SHA-256 ${b.pin}, but spec\\.airgap\\.sha256 is ${pin}: this is not the bundle the profile names$`,
        'm',
      ),
    )
    assert.equal(existsSync(dest), false, 'nothing is written to DEST')
    assert.equal(existsSync(path.join(root, 'var/lib/nodegen/bundle/SHA256SUMS')), false, 'the unpinned SHA256SUMS is not kept')
    assert.deepEqual(since(mark), ['/other/SHA256SUMS'], 'no file is downloaded from a bundle that is not the pinned one')
  })

  it('refuses a file whose SHA-256 differs from SHA256SUMS, and leaves DEST as it was', async (t) => {
    requireTool(t, 'curl')
    const damaged = `${KEY}appended by a broken mirror\n`
    const b = writeBundle('damaged', {'Release.key': KEY}, {after: {'Release.key': damaged}})
    const root = nodeRoot()
    const params = paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: b.pin})
    for (const existing of [undefined, 'the key already there\n']) {
      const dest = path.join(mkdtempSync(path.join(root, 'd-')), 'k.asc')
      if (existing !== undefined) writeFileSync(dest, existing)
      const r = await bundleSh(params, root, 'fetch', 'Release.key', dest)
      assert.equal(r.status, 1, r.stderr)
      assert.match(
        r.stderr,
        new RegExp(`^bundle: Release\\.key from the bundle has SHA-256 ${sha256(damaged)}, SHA256SUMS says ${sha256(KEY)}$`, 'm'),
      )
      assert.equal(existing === undefined ? existsSync(dest) : readFileSync(dest, 'utf8'), existing ?? false)
      assert.deepEqual(readdirSync(path.dirname(dest)), existing === undefined ? [] : ['k.asc'], 'no partial download is left')
    }
  })

  it('refuses a path SHA256SUMS does not list, without downloading it', async (t) => {
    requireTool(t, 'curl')
    const b = writeBundle('unlisted', {'Release.key': KEY, 'extra.txt': 'served, never listed\n'}, {listed: ['Release.key']})
    const root = nodeRoot()
    const params = paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: b.pin})
    for (const rel of ['extra.txt', 'os/../Release.key', 'Release']) {
      const dest = path.join(root, 'out.txt')
      const mark = requested().length
      const r = await bundleSh(params, root, 'fetch', rel, dest)
      assert.equal(r.status, 1, r.stderr)
      assert.match(
        r.stderr,
        new RegExp(`^bundle: the bundle's SHA256SUMS does not list ${rel.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'),
      )
      assert.equal(existsSync(dest), false)
      assert.ok(!since(mark).some((u) => u !== '/unlisted/SHA256SUMS'), `${rel}: asked for ${since(mark).join(', ')}`)
    }
  })

  it('says which URL it cannot download when the bundle server is down', {timeout: 120_000}, async (t) => {
    requireTool(t, 'curl')
    // A port that was just free: nothing listens there.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as AddressInfo).port
    await new Promise((r) => probe.close(r))
    const root = nodeRoot()
    const dest = path.join(root, 'k.asc')
    const url = `http://127.0.0.1:${port}/bundle/`
    // curl retries a refused connection five times (1+2+4+8+16 s) before it gives up.
    const r = await bundleSh(paramsFile({BUNDLE_URL: url}), root, 'fetch', 'Release.key', dest)
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`^bundle: cannot download ${url.replace(/[./]/g, '\\$&')}SHA256SUMS$`, 'm'))
    assert.equal(existsSync(dest), false)
  })
})

/**
 * An OCI image layout archive made by hand, as scripts/build-kube-images.sh's oci_image writes
 * them: one gzip layer holding one file, the image config, the manifest, and an index whose entry
 * names the image in io.containerd.image.name and org.opencontainers.image.ref.name.
 * Returns the archive's bytes and the manifest's digest.
 */
function ociArchive(ref: string, fileName: string, fileContent: string): {tar: Buffer; manifest: string} {
  const d = mkdtempSync(path.join(tmp, 'oci-'))
  const rootfs = path.join(d, 'rootfs')
  mkdirSync(rootfs)
  writeFileSync(path.join(rootfs, fileName), fileContent)
  const layerTar = run('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '-C',
    rootfs,
    '-cf',
    '-',
    '.',
  ]).stdoutBuf
  const layer = gzipSync(layerTar)
  const blobs = path.join(d, 'layout', 'blobs', 'sha256')
  mkdirSync(blobs, {recursive: true})
  const blob = (b: Buffer | string): {digest: string; size: number} => {
    const h = sha256(b)
    writeFileSync(path.join(blobs, h), b)
    return {digest: `sha256:${h}`, size: Buffer.byteLength(b)}
  }
  const l = blob(layer)
  const config = blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {Env: ['PATH=/usr/bin:/bin'], Entrypoint: [`/${fileName}`], WorkingDir: '/'},
      rootfs: {type: 'layers', diff_ids: [`sha256:${sha256(layerTar)}`]},
      history: [{created_by: 'nodegen test/integration/bootstrap/bundle.test.ts'}],
    }),
  )
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...config},
      layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l}],
    }),
  )
  const layout = path.join(d, 'layout')
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: {architecture: 'amd64', os: 'linux'},
          annotations: {'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': ref},
        },
      ],
    }),
  )
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  const tar = run('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '-C',
    layout,
    '-cf',
    '-',
    'oci-layout',
    'index.json',
    'blobs',
  ]).stdoutBuf
  return {tar, manifest: manifest.digest}
}

const REPO = 'registry.lan:5000/k8s'
const IMAGES: Array<[string, string]> = [
  [`${REPO}/pause:3.10.1`, 'pause.tar'],
  [`${REPO}/kube-proxy:v1.34.2`, 'kube-proxy.tar'],
  [`${REPO}/kube-apiserver:v1.34.2`, 'kube-apiserver.tar'],
]
/** What nodegen gives a worker (BUNDLE_IMAGES_SKIP): the control plane's images, by name, no tag. */
const WORKER_SKIP = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'].map((c) => `${REPO}/${c}`).join(' ')

/** nodegen's config.toml for a containerd node: the CRI plugin on, as on every node. */
function nodegenContainerdConfig(): string {
  const cluster = loadCluster(
    path.join(PROFILES_DIR, 'airgap-inline.yaml'),
    `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: island}
spec:
  kubernetes: {version: 1.34.2, imageRepository: ${REPO}}
  os: debian-12
  networking: {cni: {type: flannel, manifestUrl: http://10.30.0.1/kube-flannel.yml}}
  containerRuntime: {type: containerd, source: distribution}
  airgap: {bundle: http://10.30.0.1/bundle/}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`,
  )
  const node = cluster.nodes[0]
  assert.ok(node)
  const f = buildOsFiles(cluster, node).find((x) => x.path === '/etc/containerd/config.toml')
  assert.ok(f, 'nodegen writes /etc/containerd/config.toml')
  assert.match(f.content, /^\[plugins\."io\.containerd\.grpc\.v1\.cri"\]$/m)
  return f.content
}

async function ensureContainerd(t: TestContext): Promise<Containerd> {
  requireRoot(t, 'containerd mounts its snapshots')
  containerd ??= await startContainerd(t, mkdtempSync(path.join(tmp, 'containerd-')), {config: nodegenContainerdConfig()})
  return containerd
}

function listed(c: Containerd): string[] {
  return c.ctr(['-n', 'k8s.io', 'images', 'ls', '-q']).stdout.trim().split('\n').filter(Boolean)
}

describe('bundle.sh import-images: into containerd k8s.io namespace, with the CRI plugin on', {timeout: 300_000}, () => {
  let images: Bundle | undefined
  const manifests = new Map<string, string>()
  const imagesBundle = (): Bundle => {
    if (images) return images
    const files: Record<string, Buffer | string> = {}
    for (const [ref, file] of IMAGES) {
      const a = ociArchive(ref, `${file.replace('.tar', '')}.txt`, `the ${ref} image\n`)
      files[`images/${file}`] = a.tar
      manifests.set(ref, a.manifest)
    }
    files['images/images.txt'] = `# <image reference> <archive file>\n${IMAGES.map(([r, f]) => `${r} ${f}`).join('\n')}\n\n`
    images = writeBundle('images', files)
    return images
  }
  const root = nodeRoot()

  it("a worker imports every image but the control plane's, each the archive's manifest", async (t) => {
    requireTool(t, 'curl')
    const c = await ensureContainerd(t)
    const b = imagesBundle()
    const mark = requested().length
    const r = await bundleSh(paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: b.pin, BUNDLE_IMAGES_SKIP: WORKER_SKIP}), root, 'import-images')
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `bundle: imported ${REPO}/pause:3.10.1`,
      `bundle: imported ${REPO}/kube-proxy:v1.34.2`,
      'bundle: 2 image(s) imported',
    ])
    const have = listed(c)
    assert.ok(have.includes(`${REPO}/pause:3.10.1`), have.join('\n'))
    assert.ok(have.includes(`${REPO}/kube-proxy:v1.34.2`), have.join('\n'))
    assert.ok(!have.includes(`${REPO}/kube-apiserver:v1.34.2`), 'the skipped image is not imported')
    assert.ok(!since(mark).includes('/images/images/kube-apiserver.tar'), 'the skipped archive is not downloaded')
    // The CRI plugin lists each image by its ID too: the lines that once broke the script's grep.
    assert.ok(have.filter((l) => l.startsWith('sha256:')).length >= 2, `the CRI plugin is on: ${have.join(' ')}`)
    for (const ref of [`${REPO}/pause:3.10.1`, `${REPO}/kube-proxy:v1.34.2`]) {
      const line = c
        .ctr(['-n', 'k8s.io', 'images', 'ls'])
        .stdout.split('\n')
        .find((l) => l.startsWith(`${ref} `))
      assert.ok(line?.split(/\s+/).includes(manifests.get(ref) ?? '-'), `${ref} is the archive's manifest: ${line}`)
    }
    assert.deepEqual(
      readdirSync(path.join(root, 'var/lib/nodegen/bundle')).filter((f) => f.endsWith('.tar') || f.endsWith('.part')),
      [],
      'the archives are removed once imported',
    )
  })

  it('a second run imports nothing and downloads no archive, however long the image list', async (t) => {
    requireTool(t, 'curl')
    const c = await ensureContainerd(t)
    const b = imagesBundle()
    // A node lists many images after the ones it looks for: more than a pipe holds (64 KiB) here, so
    // a reader of ctr's output that stopped at the first match would leave ctr writing into a
    // closed pipe, and the pipeline failing (SIGPIPE under pipefail).
    const long = 'x'.repeat(200)
    for (let i = 0; i < 400; i++) c.ctr(['-n', 'k8s.io', 'images', 'tag', `${REPO}/pause:3.10.1`, `zz.test/${long}/filler-${i}:1`])
    assert.ok(c.ctr(['-n', 'k8s.io', 'images', 'ls', '-q']).stdout.length > 64 * 1024)
    const before = listed(c)
    const mark = requested().length
    const r = await bundleSh(paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: b.pin, BUNDLE_IMAGES_SKIP: WORKER_SKIP}), root, 'import-images')
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.equal(r.stdout.trim(), 'bundle: 0 image(s) imported')
    assert.deepEqual(
      since(mark).filter((u) => u.endsWith('.tar')),
      [],
    )
    assert.deepEqual(listed(c), before)
  })

  it('a control plane (no skip list) imports the rest', async (t) => {
    requireTool(t, 'curl')
    const c = await ensureContainerd(t)
    const b = imagesBundle()
    const r = await bundleSh(paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: b.pin}), root, 'import-images')
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.deepEqual(r.stdout.trim().split('\n'), [`bundle: imported ${REPO}/kube-apiserver:v1.34.2`, 'bundle: 1 image(s) imported'])
    assert.ok(listed(c).includes(`${REPO}/kube-apiserver:v1.34.2`))
  })

  it('refuses an images.txt entry whose archive is not a plain file name, before downloading it', async (t) => {
    requireTool(t, 'curl')
    await ensureContainerd(t)
    for (const [i, file] of ['../Release.key', 'sub/pause.tar', '/etc/passwd.tar'].entries()) {
      const b = writeBundle(`evil-${i}`, {'images/images.txt': `${REPO}/evil:1 ${file}\n`})
      const mark = requested().length
      const r = await bundleSh(paramsFile({BUNDLE_URL: b.url, BUNDLE_SHA256: b.pin}), nodeRoot(), 'import-images')
      assert.equal(r.status, 1, `${r.stdout}${r.stderr}`)
      assert.match(
        r.stderr,
        new RegExp(`^bundle: images\\.txt names an archive that is not a plain file name: ${file.replace(/[./]/g, '\\$&')}$`, 'm'),
      )
      assert.deepEqual(since(mark), [`/evil-${i}/SHA256SUMS`, `/evil-${i}/images/images.txt`])
    }
  })
})
