/**
 * The bootstrap program on a Flatcar node's plan, run for real in a temporary root with the
 * recording stand-ins: it runs from /opt/nodegen, plans no firewall, SELinux or package step (no
 * dnf, apt-get, firewall-cmd or setenforce call), and the packages phase checks the kubernetes
 * sysext instead: without kubeadm/kubelet on PATH, or with a kubeadm of another version, it fails
 * at that phase with a reason that names the cause. With an air-gap bundle its images phase runs
 * bundle.sh from /opt/nodegen, as every other OS runs it from /usr/local/lib/nodegen.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {chmodSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {materialise, readCallLog, standinBin} from '../../support/bootstrap-harness.js'
import {PROFILES_DIR} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-flatcar-boot-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function runFrom(root: string, program: string, env: Record<string, string>): Promise<{code: number; output: string}> {
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(root, program)], {
      env: {...process.env, NODEGEN_ROOT: root, NODEGEN_CONSOLE: '/dev/null', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code: code ?? -1, output})
    })
  })
}

async function flatcarWorker(name: string, kubeadm: string | undefined, profile = path.join(PROFILES_DIR, 'flatcar.yaml')) {
  const r = await renderProfile(profile)
  const plan = r.nodes.find((n) => n.plan.role === 'worker')?.plan
  assert.ok(plan)
  const dir = path.join(tmp, name)
  const root = materialise(plan, dir)
  // A short overall deadline: the worker then gives up waiting for an endpoint that never comes.
  const params = path.join(root, 'etc/nodegen/bootstrap.env')
  writeFileSync(params, readFileSync(params, 'utf8').replace(/^TIMEOUT_SECONDS=.*$/m, 'TIMEOUT_SECONDS=2'))
  const bin = standinBin(dir)
  unlinkSync(path.join(bin, 'kubeadm'))
  if (kubeadm !== undefined) {
    for (const [cmd, body] of [
      ['kubeadm', `#!/bin/sh\n[ "$1 $2 $3" = "version -o short" ] && echo ${kubeadm} && exit 0\nexit 1\n`],
      ['kubelet', '#!/bin/sh\nexit 0\n'],
    ] as const) {
      writeFileSync(path.join(bin, cmd), body)
      chmodSync(path.join(bin, cmd), 0o755)
    }
  }
  const log = path.join(dir, 'calls.log')
  const program = plan.files.find((f) => f.path.endsWith('/bootstrap.sh'))?.path
  assert.equal(program, '/opt/nodegen/bootstrap.sh', 'Flatcar programs live in /opt (read-only /usr)')
  assert.ok(!plan.files.some((f) => f.path.startsWith('/usr/')), 'nothing planned under /usr')
  const run = await runFrom(root, program, {
    PATH: `${bin}:/usr/bin:/bin`,
    NODEGEN_TEST_LOG: log,
    NODEGEN_TEST_FAKE: 'https://127.0.0.1:1',
    NODEGEN_BACKOFF_START: '0',
    NODEGEN_POLL_INTERVAL: '0',
  })
  return {run, calls: readCallLog(log).map((c) => c.call)}
}

describe('bootstrap on Flatcar', () => {
  it('skips firewall, SELinux and packages, and fails at packages when the sysext is not merged', async () => {
    const {run, calls} = await flatcarWorker('unmerged', undefined)
    assert.equal(run.code, 1, run.output)
    assert.match(run.output, /phase prepare: done/)
    assert.match(run.output, /failed at packages: kubeadm\/kubelet are not on PATH: the kubernetes sysext is not merged/)
    for (const c of calls) assert.doesNotMatch(c, /^(dnf|apt-get|apt-mark|firewall-cmd|setenforce|getenforce) /, c)
    assert.ok(calls.includes('systemctl daemon-reload'), 'units of the merged sysext are loaded before kubelet is enabled')
  })

  it('refuses a sysext whose kubeadm is another version than the profile asks for', async () => {
    const {run} = await flatcarWorker('wrong-version', 'v1.33.0')
    assert.equal(run.code, 1, run.output)
    assert.match(run.output, /failed at packages: the kubernetes sysext has kubeadm v1\.33\.0 but the profile asks for 1\.34\.2/)
  })

  it('with the right sysext the packages phase passes and kubelet is enabled', async () => {
    const {run, calls} = await flatcarWorker('merged', 'v1.34.2')
    assert.match(run.output, /phase packages: done/, run.output)
    assert.match(run.output, /no firewall step planned for flatcar/)
    assert.match(run.output, /phase firewall: done/)
    for (const c of calls) assert.doesNotMatch(c, /^firewall-cmd /, c)
    assert.ok(calls.includes('systemctl enable --no-reload kubelet'), calls.join('\n'))
    assert.ok(calls.includes('systemctl restart containerd'))
    assert.match(run.output, /failed at role: timed out waiting for API endpoint/)
  })

  it('air-gapped with a bundle, the images phase imports through /opt/nodegen/bundle.sh', async () => {
    const profile = path.join(tmp, 'flatcar-airgap.yaml')
    writeFileSync(
      profile,
      readFileSync(path.join(PROFILES_DIR, 'flatcar.yaml'), 'utf8')
        .replace(/^ {6}type: flannel$/m, '      type: flannel\n      manifestUrl: http://127.0.0.1:1/b/cni/kube-flannel.yml')
        .replace(/^spec:$/m, 'spec:\n  airgap:\n    bundle: http://127.0.0.1:1/b/'),
    )
    const {run} = await flatcarWorker('airgap', 'v1.34.2', profile)
    assert.match(run.output, /phase packages: done/, run.output)
    // Nothing answers at the bundle's URL: bundle.sh, found where the plan put it, says so.
    assert.match(
      run.output,
      /bundle: (cannot download http:\/\/127\.0\.0\.1:1\/b\/SHA256SUMS|ctr \(containerd's client\) is not installed)/,
    )
    assert.match(run.output, /failed at images: the air-gap bundle's images could not be imported/)
  })
})
