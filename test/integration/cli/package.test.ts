/**
 * nodegen as a new user gets it: `npm pack` of the project, the tarball installed into an empty
 * prefix (as a project dependency, and with `npm install -g --prefix`), and the README's main
 * command run from the installed package in an empty directory. Checks the output, that the
 * bundled profile's state lands in the working directory and that nothing is written inside the
 * installed package.
 *
 * The project is packed from a copy of the working tree (its node_modules linked), so packing
 * neither rebuilds the working copy's dist/ nor races other tests. Dependencies come from the
 * registry through npm's cache (--prefer-offline).
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {REPO_ROOT} from '../../support/profiles.js'
import {run} from '../../support/tools.js'

const NODES = ['kube-alma-m-01', 'kube-alma-m-02', 'kube-alma-m-03', 'kube-alma-n-01', 'kube-alma-n-02']
const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string}).version

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-package-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

/**
 * The environment npm runs in: the caller's, without the npm_* variables an outer `npm test` sets
 * (a package's local prefix among them), but keeping the cache and registry.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig'])
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') || keep.has(k.toLowerCase())))
}

function npm(args: string[], cwd: string) {
  return run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {cwd, env: npmEnv()})
}

/** A new user: an empty home (no cache of nodegen's), nothing of the development checkout on PATH. */
function userEnv(extraPath?: string): NodeJS.ProcessEnv {
  const home = mkdtempSync(path.join(tmp, 'home-'))
  const env = npmEnv()
  return {
    ...env,
    HOME: home,
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    NODEGEN_PKI_PASSPHRASE: '',
    // npx reads npm's cache from $HOME/.npm unless told: keep the warm one.
    npm_config_cache: env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
    PATH: [extraPath, path.dirname(process.execPath), env.PATH].filter(Boolean).join(path.delimiter),
  }
}

/** Every file under `dir` with its size and content digest: what "nothing was written" compares. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of readdirSync(dir, {recursive: true, withFileTypes: true})) {
    const p = path.join(e.parentPath, e.name)
    const rel = path.relative(dir, p)
    if (e.isDirectory()) out.set(`${rel}/`, '')
    else if (e.isFile()) out.set(rel, createHash('sha256').update(readFileSync(p)).digest('hex'))
    else out.set(rel, 'other')
  }
  return out
}

/** The checks on one installed nodegen: `render -o out` in an empty directory, --version, completion. */
function checkInstalled(label: string, packageDir: string, work: string, nodegen: (args: string[]) => ReturnType<typeof run>): void {
  const before = snapshot(packageDir)
  mkdirSync(work)

  const r = nodegen(['render', '-o', 'out'])
  assert.equal(r.status, 0, r.stderr)
  const state = path.join(work, '.nodegen', 'quickstart')
  assert.match(r.stdout, new RegExp(`created the cluster's PKI in ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `))
  for (const f of ['state.json', 'tokens.json', 'calendar.json', 'admin.conf'])
    assert.equal(statSync(path.join(state, f)).mode & 0o777, 0o600, `${label}: .nodegen/quickstart/${f}`)
  assert.ok(existsSync(path.join(state, 'pki', 'ca.key')), `${label}: the CA key is in the working directory's state`)

  const out = path.join(work, 'out')
  for (const n of NODES) {
    for (const f of ['user-data', 'meta-data', 'network-config']) assert.ok(statSync(path.join(out, n, f)).size > 0, `${label}: ${n}/${f}`)
    assert.match(readFileSync(path.join(out, n, 'user-data'), 'utf8'), /^#cloud-config\n/, `${label}: ${n}/user-data`)
    // ISO 9660: the primary volume descriptor at sector 16, `CD001`, volume id cidata (NoCloud).
    const iso = readFileSync(path.join(out, `${n}.iso`))
    assert.equal(iso.subarray(0x8001, 0x8006).toString('latin1'), 'CD001', `${label}: ${n}.iso is an ISO 9660 image`)
    assert.equal(iso.subarray(0x8028, 0x8048).toString('latin1').trim(), 'cidata', `${label}: ${n}.iso volume id`)
    assert.match(r.stdout, new RegExp(`^  out/${n}\\.iso +to  ${n} \\(`, 'm'), `${label}: the next step names ${n}.iso`)
  }
  assert.equal(statSync(path.join(out, 'admin.conf')).mode & 0o777, 0o600)
  assert.equal((JSON.parse(readFileSync(path.join(out, 'cluster.json'), 'utf8')) as {nodes: unknown[]}).nodes.length, 5)
  assert.match(r.stdout, /^Next: attach each ISO to its machine as a CD-ROM/m)
  assert.match(r.stdout, /KUBECONFIG=out\/admin\.conf kubectl get nodes/)
  assert.deepEqual(readdirSync(work).sort(), ['.nodegen', 'out'], `${label}: nothing else in the working directory`)

  const again = nodegen(['render', '-o', 'out'])
  assert.equal(again.status, 0, again.stderr)
  assert.doesNotMatch(again.stdout, /created the cluster's PKI/, `${label}: the second render reuses the state`)

  const v = nodegen(['--version'])
  assert.equal(v.status, 0, v.stderr)
  assert.match(v.stdout, new RegExp(`^nodegen/${VERSION.replace(/\./g, '\\.')} `))
  const help = nodegen(['--help'])
  assert.doesNotMatch(help.stdout, /^ {2}base\b/m, 'the abstract base command is not listed')
  const ac = nodegen(['autocomplete', '--help'])
  assert.equal(ac.status, 0, ac.stderr)
  assert.match(ac.stdout, /nodegen autocomplete \[SHELL\]/)
  const bash = nodegen(['autocomplete', 'script', 'bash'])
  assert.equal(bash.status, 0, bash.stderr)
  assert.match(bash.stdout, /NODEGEN_AC_BASH_SETUP_PATH=/)

  assert.deepEqual(snapshot(packageDir), before, `${label}: nothing was written inside the installed package`)
}

describe('the npm package, installed as a new user would', () => {
  let tarball = ''

  before(() => {
    // A copy of the working tree, with a state directory beside a bundled profile as a developer's
    // render leaves it: CA keys there must never reach the tarball.
    const src = path.join(tmp, 'src')
    const skip = new Set([
      'node_modules',
      '.git',
      'dist',
      'test',
      'bench',
      'docs',
      'out',
      'tmp',
      '.cache',
      'test-results',
      'oclif.manifest.json',
    ])
    cpSync(REPO_ROOT, src, {
      recursive: true,
      filter: (p) => {
        const rel = path.relative(REPO_ROOT, p)
        const first = rel.split(path.sep)[0] ?? ''
        return !skip.has(first) && !rel.split(path.sep).some((c) => c === '.nodegen' || c === '.nodegen-images') && !p.endsWith('.tgz')
      },
    })
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(src, 'node_modules'))
    mkdirSync(path.join(src, 'profiles', '.nodegen', 'quickstart', 'pki'), {recursive: true})
    writeFileSync(path.join(src, 'profiles', '.nodegen', 'quickstart', 'pki', 'ca.key'), 'a developer state\n')
    const packed = npm(['pack', '--json', '--pack-destination', tmp], src)
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{filename: string}>
    assert.ok(info)
    tarball = path.join(tmp, info.filename)
    // The build writes the manifest beside the dist/ it describes, in the working copy as in the package.
    assert.ok(existsSync(path.join(src, 'oclif.manifest.json')), 'the build writes oclif.manifest.json')
  })

  it('the tarball holds the code, assets, profiles and a manifest, and no state or tests', () => {
    const files = run('tar', ['-tzf', tarball]).stdout.split('\n').filter(Boolean)
    for (const f of [
      'package/bin/run.js',
      'package/dist/commands/render.js',
      'package/assets/bootstrap/bootstrap.sh',
      // The phases bootstrap.sh is made of: render inlines them from the package's assets.
      'package/assets/bootstrap/phases/5-role.sh',
      'package/assets/image/bake.sh',
      'package/profiles/quickstart.yaml',
      'package/schema/profile.schema.json',
      'package/oclif.manifest.json',
    ])
      assert.ok(files.includes(f), `${f} is in the tarball`)
    assert.deepEqual(
      files.filter((f) => /\/\.nodegen|\/test\/|\/src\/|\.tgz$/.test(f)),
      [],
    )
    const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/oclif.manifest.json']).stdout) as {
      version: string
      commands: Record<string, unknown>
    }
    assert.equal(manifest.version, VERSION)
    assert.ok(manifest.commands.render && manifest.commands['pki:init'])
    assert.deepEqual(
      Object.keys(manifest.commands).filter((id) => id === 'base' || id.split(':').some((p) => p.startsWith('_'))),
      [],
    )
  })

  it('npm install --prefix EMPTY DIR, then `npx nodegen render -o out` in an empty directory', () => {
    const prefix = path.join(tmp, 'project')
    mkdirSync(prefix)
    npm(['install', '--prefix', prefix, tarball], tmp)
    const env = userEnv()
    // A subdirectory of the project: npx finds its node_modules/.bin; --no: never fetch a package.
    const work = path.join(prefix, 'work')
    checkInstalled('local', path.join(prefix, 'node_modules', 'nodegen'), work, (args) =>
      run('npx', ['--no', '--', 'nodegen', ...args], {cwd: work, env, allowFail: true}),
    )
  })

  it('npm install -g --prefix EMPTY DIR, then `nodegen render -o out` in an empty directory', () => {
    const prefix = path.join(tmp, 'global')
    mkdirSync(prefix)
    npm(['install', '-g', '--prefix', prefix, tarball], tmp)
    const bin = path.join(prefix, 'bin')
    assert.ok(existsSync(path.join(bin, 'nodegen')))
    const env = userEnv(bin)
    checkInstalled('global', path.join(prefix, 'lib', 'node_modules', 'nodegen'), path.join(tmp, 'work'), (args) =>
      run('nodegen', args, {cwd: path.join(tmp, 'work'), env, allowFail: true}),
    )
  })
})
