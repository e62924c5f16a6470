/**
 * Debian's containerd and haproxy packages own /etc/containerd/config.toml and
 * /etc/haproxy/haproxy.cfg as conffiles, and the seed writes both before install-packages.sh runs.
 * This installs the real Debian packages with install-packages.sh's own apt-get options into a
 * Debian chroot that already holds the rendered files, stdin at EOF as under systemd, and checks
 * that apt succeeds and our files survive; and, as a control, that the same install without the
 * options fails the way a node would.
 *
 * The chroot is a minimal bookworm (debootstrap, cached under ~/.cache/nodegen-test) with the
 * packages' dependencies already in it; each install runs on an overlay of it in a private mount
 * namespace, so the cached base is never changed.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {REPO_ROOT} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {requireTool, run, SkipSignal} from '../../support/tools.js'

const CACHE = process.env.NODEGEN_TEST_CACHE ?? path.join(os.homedir(), '.cache', 'nodegen-test')
const BASE = path.join(CACHE, 'bookworm-minbase')
const DEBS = path.join(CACHE, 'bookworm-debs')
const MIRROR = process.env.NODEGEN_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian'
// What Debian's containerd and haproxy depend on beyond minbase, so the install needs no network.
const BASE_INCLUDE = 'runc,adduser,lsb-base,liblua5.3-0,libopentracing-c-wrapper0,libssl3,libpcre2-8-0'
const INSTALL_SCRIPT = path.join(REPO_ROOT, 'assets/bootstrap/install-packages.sh')

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-dpkg-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function requireRoot(t: TestContext): void {
  if (process.getuid?.() === 0) return
  if (process.env.CI) throw new Error('the dpkg conffile test needs root (chroot, mount); under CI=true that is a failure')
  t.skip('needs root (chroot, mount)')
  throw new SkipSignal('needs root')
}

function ensureBase(): void {
  if (existsSync(path.join(BASE, 'var/lib/dpkg/status'))) return
  mkdirSync(CACHE, {recursive: true})
  const work = `${BASE}.tmp`
  rmSync(work, {recursive: true, force: true})
  run('debootstrap', ['--variant=minbase', `--include=${BASE_INCLUDE}`, 'bookworm', work, MIRROR])
  renameSync(work, BASE)
}

function ensureDebs(): string[] {
  mkdirSync(DEBS, {recursive: true})
  const have = () => readdirSync(DEBS).filter((f) => f.endsWith('.deb'))
  if (!have().some((f) => f.startsWith('containerd_')) || !have().some((f) => f.startsWith('haproxy_')))
    run('apt-get', ['download', 'containerd', 'haproxy'], {cwd: DEBS})
  return have().filter((f) => f.startsWith('containerd_') || f.startsWith('haproxy_'))
}

/**
 * Runs `apt-get install [options] debs` in an overlay of the base holding `files`, stdin at EOF;
 * `options` is 'product' for install-packages.sh's APT_INSTALL_OPTS (read from the script itself)
 * or 'bare' for plain `-y`. Returns apt's exit code and output and the files as they are after.
 */
function installOver(name: string, files: Record<string, string>, debs: string[], options: 'product' | 'bare') {
  const dir = path.join(tmp, name)
  for (const d of ['upper', 'work', 'root', 'out']) mkdirSync(path.join(dir, d), {recursive: true})
  const staged = path.join(dir, 'staged')
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(staged, p)), {recursive: true})
    writeFileSync(path.join(staged, p), content)
  }
  const script = `set -eu
base=$1 dir=$2 debs=$3 script=$4 options=$5
root=$dir/root
mount -t overlay overlay -o "lowerdir=$base,upperdir=$dir/upper,workdir=$dir/work" "$root"
mount -t proc proc "$root/proc"
cp -a "$dir/staged/." "$root/"
mkdir -p "$root/tmp/debs"
for f in $debs; do cp "$DEBS_DIR/$f" "$root/tmp/debs/"; done
# No daemon starts in the chroot (Debian's policy-rc.d convention).
printf '#!/bin/sh\\nexit 101\\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
if [ "$options" = product ]; then
  eval "$(grep -m1 '^APT_INSTALL_OPTS=' "$script")"
else
  APT_INSTALL_OPTS=(-y)
fi
printf '%s\\n' "\${APT_INSTALL_OPTS[@]}" >"$dir/out/options"
set +e
(cd "$root/tmp/debs" && set -- ./*.deb && chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \\
  sh -c 'cd /tmp/debs && exec apt-get install "$@"' sh "\${APT_INSTALL_OPTS[@]}" "$@" </dev/null >"$dir/out/apt.log" 2>&1)
echo $? >"$dir/out/rc"
chroot "$root" dpkg-query -W -f='\${Package} \${Status}\\n' containerd haproxy >"$dir/out/status" 2>&1 || true
for p in ${Object.keys(files).join(' ')}; do mkdir -p "$dir/out/files$(dirname "$p")"; cp "$root$p" "$dir/out/files$p" 2>/dev/null || true; done
umount "$root/proc"
umount "$root"
`
  const r = spawnSync('unshare', ['-m', 'bash', '-c', script, 'install', BASE, dir, debs.join(' '), INSTALL_SCRIPT, options], {
    encoding: 'utf8',
    env: {...process.env, DEBS_DIR: DEBS},
  })
  assert.equal(r.status, 0, `harness failed: ${r.stderr}`)
  const out = path.join(dir, 'out')
  const after: Record<string, string | undefined> = {}
  for (const p of Object.keys(files)) {
    const f = path.join(out, 'files', p)
    after[p] = existsSync(f) ? readFileSync(f, 'utf8') : undefined
  }
  return {
    rc: Number(readFileSync(path.join(out, 'rc'), 'utf8').trim()),
    log: readFileSync(path.join(out, 'apt.log'), 'utf8'),
    status: readFileSync(path.join(out, 'status'), 'utf8'),
    options: readFileSync(path.join(out, 'options'), 'utf8').trim().split('\n'),
    after,
  }
}

const PROFILE = `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: dpkg}
spec:
  kubernetes: {version: 1.34.2}
  os: debian-12
  controlPlaneEndpoint: {host: 10.10.0.100, port: 6443}
  loadBalancer: {type: keepalived-haproxy, apiServerPort: 6444}
  containerRuntime: {type: containerd, source: distribution}
  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.10.0.10/24}
    - {name: cp-1, role: control-plane, ip: 10.10.0.11/24}
    - {name: cp-2, role: control-plane, ip: 10.10.0.12/24}
`

describe("Debian's conffiles over the seed's files", () => {
  it("apt-get with install-packages.sh's options installs containerd and haproxy and keeps our config.toml and haproxy.cfg", async (t) => {
    requireRoot(t)
    for (const tool of ['debootstrap', 'apt-get', 'unshare', 'chroot', 'mount']) requireTool(t, tool)
    ensureBase()
    const debs = ensureDebs()
    assert.equal(debs.length, 2, `downloaded: ${debs.join(', ')}`)

    const profile = path.join(tmp, 'dpkg.yaml')
    writeFileSync(profile, PROFILE)
    const r = await renderProfile(profile)
    const cp = r.nodes.find((n) => n.plan.node === 'cp-0')!.plan
    const ours: Record<string, string> = {}
    for (const p of ['/etc/containerd/config.toml', '/etc/haproxy/haproxy.cfg']) {
      const f = cp.files.find((x) => x.path === p)
      assert.ok(f, `the plan of cp-0 has ${p}`)
      ours[p] = f.content
    }

    const product = installOver('product', ours, debs, 'product')
    assert.ok(product.options.includes('Dpkg::Options::=--force-confold'), product.options.join(' '))
    assert.equal(product.rc, 0, `apt-get install failed:\n${product.log}`)
    assert.match(product.status, /^containerd install ok installed$/m)
    assert.match(product.status, /^haproxy install ok installed$/m)
    for (const [p, content] of Object.entries(ours)) assert.equal(product.after[p], content, `${p} is not ours after the install`)

    // The control: without the options dpkg asks about the conffile, reads EOF and apt fails.
    const bare = installOver('bare', ours, debs, 'bare')
    assert.notEqual(bare.rc, 0, `apt-get without the dpkg options succeeded, so this test proves nothing:\n${bare.log}`)
    assert.match(bare.log, /Configuration file '\/etc\/(containerd\/config\.toml|haproxy\/haproxy\.cfg)'[\s\S]*end of file on stdin/)
  })
})
