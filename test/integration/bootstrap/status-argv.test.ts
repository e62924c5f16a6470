/**
 * A node's status reports carry its status token in the URL (`nodegen serve`'s `/t/<token>/`); the
 * bootstrap program's post_status hands that URL to the real curl on stdin, so no process's
 * arguments (readable by any local user in /proc) show it. The function is taken from
 * bootstrap.sh as shipped, traced with strace, and posts to a server on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {REPO_ROOT} from '../../support/profiles.js'
import {requireTool} from '../../support/tools.js'

const TOKEN = 'f00dfeed'.repeat(8)

/** The text of one shell function of bootstrap.sh, from its `name() {` line to its closing `}`. */
function shellFunction(script: string, name: string): string {
  const start = script.indexOf(`\n${name}() {\n`)
  assert.ok(start >= 0, `bootstrap.sh has no ${name}()`)
  const end = script.indexOf('\n}\n', start)
  return script.slice(start + 1, end + 3)
}

describe('status reports keep the node token off command lines', () => {
  it('post_status sends the report to the tokened URL; no execve carries the token', async (t) => {
    const strace = requireTool(t, 'strace')
    requireTool(t, 'curl')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-status-argv-'))
    const seen: Array<{method?: string; url?: string; body: string}> = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        seen.push({method: req.method, url: req.url, body})
        res.end('ok')
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const {port} = server.address() as AddressInfo
      const bootstrap = readFileSync(path.join(REPO_ROOT, 'assets/bootstrap/bootstrap.sh'), 'utf8')
      const statusFile = path.join(dir, 'status.json')
      writeFileSync(statusFile, '{"node":"cp-1","phase":"role","state":"running"}')
      const program = path.join(dir, 'post.sh')
      writeFileSync(
        program,
        [
          'set -u',
          `STATUS_FILE=${JSON.stringify(statusFile)}`,
          'NODE=cp-1',
          `param() { [ "$1" = STATUS_URL ] && printf '%s' ${JSON.stringify(`http://127.0.0.1:${port}/t/${TOKEN}`)}; }`,
          shellFunction(bootstrap, 'post_status'),
          'post_status',
          '',
        ].join('\n'),
      )
      const trace = path.join(dir, 'trace')
      const code = await new Promise<number | null>((resolve) => {
        const p = spawn(strace, ['-f', '-s', '4096', '-e', 'trace=execve', '-o', trace, 'bash', program], {stdio: 'ignore'})
        p.on('exit', resolve)
      })
      assert.equal(code, 0)
      assert.deepEqual(seen, [{method: 'POST', url: `/t/${TOKEN}/status/cp-1`, body: readFileSync(statusFile, 'utf8')}])
      const execs = readFileSync(trace, 'utf8')
        .split('\n')
        .filter((l) => l.includes('execve('))
      assert.ok(
        execs.some((l) => l.includes('"curl"')),
        'curl was not run',
      )
      assert.deepEqual(
        execs.filter((l) => l.includes(TOKEN)),
        [],
        'the status token is in a command line',
      )
    } finally {
      server.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
