/**
 * Fake upstreams for the air-gap bundle tests, made with the real tools: Debian's docker-registry on
 * 127.0.0.1 (plain HTTP, storage under a test directory), OCI image layouts made by hand, and rpm
 * packages built with rpmbuild, signed with rpmsign by a throwaway gpg key and indexed by
 * createrepo_c, as EL mirrors, pkgs.k8s.io and Docker's repository serve them.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import type {TestContext} from 'node:test'
import {gzipSync} from 'node:zlib'
import {requireTool, run} from './tools.js'

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

export async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as AddressInfo).port
  await new Promise((r) => probe.close(r))
  return port
}

export interface Registry {
  host: string
  stop(): Promise<void>
}

/** Debian's docker-registry on 127.0.0.1, plain HTTP, storage under `dir`; its configuration from a file. */
export async function startRegistry(t: TestContext, dir: string): Promise<Registry> {
  const bin = requireTool(t, 'docker-registry')
  const port = await freePort()
  mkdirSync(dir, {recursive: true})
  const config = path.join(dir, 'config.yml')
  writeFileSync(
    config,
    `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:${port}}\n`,
  )
  const log: string[] = []
  const registry: ChildProcess = spawn(bin, ['serve', config], {stdio: ['ignore', 'ignore', 'pipe']})
  registry.stderr?.on('data', (d: Buffer) => log.push(d.toString()))
  const stop = async () => {
    if (registry.exitCode !== null) return
    const exited = new Promise((r) => registry.once('exit', r))
    registry.kill('SIGTERM')
    await exited
  }
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`)
      if (r.ok) return {host: `127.0.0.1:${port}`, stop}
    } catch {
      // not listening yet
    }
    if (registry.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 100))
  }
  await stop()
  throw new Error(`docker-registry did not answer:\n${log.join('').slice(-2000)}`)
}

/** An OCI image layout made by hand under `tmp`: one gzip layer holding one file, its config and manifest. */
export function ociLayout(tmp: string, name: string, content: string): string {
  const d = mkdtempSync(path.join(tmp, 'oci-'))
  const rootfs = path.join(d, 'rootfs')
  mkdirSync(rootfs)
  writeFileSync(path.join(rootfs, `${name}.txt`), content)
  const tarArgs = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0']
  const layerTar = run('tar', [...tarArgs, '-C', rootfs, '-cf', '-', '.']).stdoutBuf
  const layer = gzipSync(layerTar)
  const layout = path.join(d, 'layout')
  const blobs = path.join(layout, 'blobs', 'sha256')
  mkdirSync(blobs, {recursive: true})
  const blob = (b: Buffer | string) => {
    const h = sha256(b)
    writeFileSync(path.join(blobs, h), b)
    return {digest: `sha256:${h}`, size: Buffer.byteLength(b)}
  }
  const l = blob(layer)
  const config = blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {Entrypoint: [`/${name}.txt`]},
      rootfs: {type: 'layers', diff_ids: [`sha256:${sha256(layerTar)}`]},
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
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({schemaVersion: 2, manifests: [{mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest}]}),
  )
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  return layout
}

/** Pushes a tiny image made here to the registry under each reference (plain HTTP). */
export function pushImages(tmp: string, refs: readonly string[]): void {
  for (const ref of refs) {
    const layout = ociLayout(tmp, ref.split('/').pop()?.split(':')[0] ?? 'x', `the ${ref} image\n`)
    run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}`, `docker://${ref}`])
  }
}

/** A throwaway signing key in its own GNUPGHOME: RSA, which every rpm reads. */
export interface GpgKey {
  home: string
  /** The user id rpmsign's %_gpg_name selects. */
  uid: string
  /** ASCII-armoured public key. */
  publicKey: string
}

export function makeGpgKey(dir: string, name: string): GpgKey {
  const home = path.join(dir, `gnupg-${name}`)
  mkdirSync(home, {recursive: true, mode: 0o700})
  const env = {...process.env, GNUPGHOME: home}
  const uid = `${name} test key <${name}@test.invalid>`
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', uid, 'rsa2048', 'sign', 'never'], {env})
  const publicKey = run('gpg', ['--batch', '--armor', '--export'], {env}).stdout
  return {home, uid, publicKey}
}

/** Stops the gpg-agent a key's GNUPGHOME started. */
export function releaseGpgKey(key: GpgKey): void {
  run('gpgconf', ['--kill', 'gpg-agent'], {env: {...process.env, GNUPGHOME: key.home}, allowFail: true})
}

export interface FakeRpm {
  name: string
  version: string
  release: string
  requires?: string[]
  provides?: string[]
}

/**
 * Builds an empty x86_64 package with rpmbuild into `dir` (no files, no scriptlets, so
 * dnf installs it into any installroot), signed by `key` unless it is undefined. Returns its path.
 */
export function buildRpm(work: string, dir: string, p: FakeRpm, key: GpgKey | undefined): string {
  const top = mkdtempSync(path.join(work, 'rpmbuild-'))
  const spec = path.join(top, `${p.name}.spec`)
  writeFileSync(
    spec,
    [
      `Name: ${p.name}`,
      `Version: ${p.version}`,
      `Release: ${p.release}`,
      `Summary: fake ${p.name} for the bundle tests`,
      'License: none',
      'BuildArch: x86_64',
      ...(p.requires ?? []).map((r) => `Requires: ${r}`),
      ...(p.provides ?? []).map((r) => `Provides: ${r}`),
      '%description',
      `fake ${p.name}`,
      '%files',
      '',
    ].join('\n'),
  )
  run('rpmbuild', ['--quiet', '--define', `_topdir ${top}`, '-bb', spec])
  const name = `${p.name}-${p.version}-${p.release}.x86_64.rpm`
  mkdirSync(dir, {recursive: true})
  const file = path.join(dir, name)
  renameSync(path.join(top, 'RPMS', 'x86_64', name), file)
  rmSync(top, {recursive: true, force: true})
  if (key) signRpms([file], key)
  return file
}

/** rpmsign --addsign with the key, gpg found as `gpg` (Debian's rpm looks for gpg2). */
export function signRpms(files: readonly string[], key: GpgKey): void {
  if (files.length === 0) return
  run('rpmsign', ['--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${key.uid}`, '--addsign', ...files], {
    env: {...process.env, GNUPGHOME: key.home},
    input: '',
  })
}

/** createrepo_c over a directory of rpm files (repodata/ beside them). */
export function createRepo(dir: string): void {
  run('createrepo_c', ['--quiet', '--no-database', dir])
}

/** The rpm files of a directory, sorted. */
export function rpmFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.rpm'))
    .sort()
}
