/**
 * The control planes' token timer keeps every secret off command lines (readable by any local user
 * in /proc): no calendar secret in openssl's arguments, no token in `kubeadm token create`'s. Every
 * execve of a `sync` run is traced with strace; the token goes to the cluster as a bootstrap-token
 * Secret through `kubectl apply -f -` on stdin, which is also what makes concurrent control planes
 * registering the same window's token harmless.
 */
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {parseAllDocuments} from 'yaml'
import {readProgram} from '../../../src/app/assets.js'
import {deriveWindowToken, windowOf} from '../../../src/pki/index.js'
import {compactShell} from '../../../src/plan/files.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

const SOURCE = path.join(REPO_ROOT, 'assets/bootstrap/token-calendar.sh')
/** The script as control planes get it: compacted like every bootstrap script in a seed. */
const SCRIPT = path.join(mkdtempSync(path.join(os.tmpdir(), 'ng-cal-script-')), 'token-calendar.sh')
writeFileSync(SCRIPT, compactShell(readProgram(path.dirname(SOURCE), path.basename(SOURCE))))
after(() => rmSync(path.dirname(SCRIPT), {recursive: true, force: true}))
const SECRET = 'c0ffee'.repeat(11).slice(0, 64)
const DAY = 86400

/** kubeadm and kubectl stand-ins: `token list` shows what `apply` stored; `apply -f -` keeps stdin. */
const STUB = `#!/usr/bin/env bash
set -u
d=$STUB_DIR
case "$(basename "$0") \${1-} \${2-}" in
  "kubeadm token list")
    echo "TOKEN TTL EXPIRES USAGES DESCRIPTION EXTRA GROUPS"
    for f in "$d"/applied-*; do [ -e "$f" ] && sed -n 's/^ *token-id: *"\\{0,1\\}\\([a-z0-9]*\\).*/\\1.xxxxxxxxxxxxxxxx 1h/p' "$f"; done
    ;;
  kubectl*)
    case " $* " in *" apply -f - "*) cat >"$d/applied-$$-$RANDOM" ;; esac ;;
esac
exit 0
`

describe('token calendar: no secret on a command line', () => {
  it('sync registers the windows as bootstrap-token Secrets on stdin; no execve carries the calendar secret or a token', (t) => {
    const strace = requireTool(t, 'strace')
    requireTool(t, 'sha256sum')
    const root = mkdtempSync(path.join(os.tmpdir(), 'ng-cal-argv-'))
    try {
      mkdirSync(path.join(root, 'etc/nodegen'), {recursive: true})
      mkdirSync(path.join(root, 'etc/kubernetes'), {recursive: true})
      writeFileSync(path.join(root, 'etc/kubernetes/admin.conf'), '')
      writeFileSync(path.join(root, 'etc/nodegen/calendar.env'), `CALENDAR_SECRET=${SECRET}\nWINDOW_SECONDS=${DAY}\nWINDOWS_AHEAD=1\n`)
      const bin = path.join(root, 'bin')
      const stubs = path.join(root, 'stubs')
      mkdirSync(bin)
      mkdirSync(stubs)
      for (const n of ['kubeadm', 'kubectl']) {
        writeFileSync(path.join(bin, n), STUB)
        chmodSync(path.join(bin, n), 0o755)
      }
      const now = (windowOf(Math.floor(Date.now() / 1000), DAY) + 5) * DAY + 600
      const trace = path.join(root, 'trace')
      const env = {...process.env, PATH: `${bin}:${process.env.PATH}`, NODEGEN_ROOT: root, NODEGEN_NOW: String(now), STUB_DIR: stubs}
      // two control planes' timers at once: both may register the same windows
      const r = run(
        strace,
        ['-f', '-qq', '-e', 'trace=execve', '-s', '65536', '-o', trace, 'bash', '-c', `bash ${SCRIPT} sync & bash ${SCRIPT} sync; wait`],
        {env},
      )
      assert.equal(r.status ?? 0, 0, r.stderr)
      const execs = readFileSync(trace, 'utf8')
      const w = windowOf(now, DAY)
      const tokens = [w, w + 1].map((x) => deriveWindowToken(SECRET, x, DAY))
      assert.ok(execs.includes('execve('), 'strace saw no execve')
      assert.ok(!execs.includes(SECRET), 'the calendar secret is on a command line')
      for (const tk of tokens) assert.ok(!execs.includes(tk.tokenSecret), `token ${tk.tokenId}'s secret is on a command line`)
      assert.doesNotMatch(execs, /token", "create"/)
      const applied = readdirSync(stubs).map((f) => readFileSync(path.join(stubs, f), 'utf8'))
      assert.ok(applied.length >= 2)
      const secrets = applied.flatMap((a) => parseAllDocuments(a).map((d) => d.toJS()))
      for (const tk of tokens) {
        const s = secrets.find((x) => x.metadata.name === `bootstrap-token-${tk.tokenId}`)
        assert.ok(s, `no Secret for window ${tk.window}`)
        assert.equal(s.apiVersion, 'v1')
        assert.equal(s.kind, 'Secret')
        assert.equal(s.metadata.namespace, 'kube-system')
        assert.equal(s.type, 'bootstrap.kubernetes.io/token')
        assert.equal(s.stringData['token-id'], tk.tokenId)
        assert.equal(s.stringData['token-secret'], tk.tokenSecret)
        assert.equal(s.stringData['usage-bootstrap-authentication'], 'true')
        assert.equal(s.stringData['usage-bootstrap-signing'], 'true')
        assert.equal(s.stringData['auth-extra-groups'], 'system:bootstrappers:kubeadm:default-node-token')
        assert.equal(Date.parse(s.stringData.expiration), tk.end * 1000)
      }
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(tokens.map((x) => x.tokenSecret).join('|')))
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })

  it('passes shellcheck', (t) => {
    const sc = requireTool(t, 'shellcheck')
    const r = run(sc, ['-x', SOURCE, path.join(REPO_ROOT, 'assets/bootstrap/fetch-secrets.sh')])
    assert.equal(r.status ?? 0, 0, r.stdout + r.stderr)
  })
})
