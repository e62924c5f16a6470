/** calendar.json appears whole or not at all: a writer dying mid-write leaves no empty calendar behind. */
import assert from 'node:assert/strict'
import {promises as fsp, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, it, mock} from 'node:test'
import {loadOrCreateCalendar} from '../../../src/pki/index.js'
import {fixturePkiContext} from '../../support/pki-fixture.js'

describe('calendar.json is written atomically', () => {
  it('a write that dies after the file was created leaves no calendar, and the next run creates a whole one', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-cal-atomic-'))
    try {
      const realOpen = fsp.open
      const m = mock.method(fsp, 'open', async (...args: Parameters<typeof fsp.open>) => {
        const h = await realOpen(...args)
        // as if the process were killed between creating the file and writing it
        h.writeFile = async () => {
          throw new Error('killed')
        }
        return h
      })
      await assert.rejects(loadOrCreateCalendar(dir, fixturePkiContext()))
      m.mock.restore()
      assert.deepEqual(
        readdirSync(dir).filter((f) => !f.startsWith('.')),
        [],
      )
      const c = await loadOrCreateCalendar(dir, fixturePkiContext())
      assert.match(c.secret, /^[0-9a-f]{64}$/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
