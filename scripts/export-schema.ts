// Writes schema/profile.schema.json from the zod schema; test/unit/profile/schema-export.test.ts fails when it is stale.
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {profileJsonSchema} from '../src/profile/json-schema.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const out = path.join(root, 'schema', 'profile.schema.json')
mkdirSync(path.dirname(out), {recursive: true})
writeFileSync(out, profileJsonSchema())
console.log(`wrote ${path.relative(root, out)}`)
