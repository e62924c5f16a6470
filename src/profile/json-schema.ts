/** The editor schema (schema/profile.schema.json), generated from the zod schema. */
import * as z from 'zod'
import {API_VERSION, profileSchema} from './schema.js'

export function profileJsonSchema(): string {
  const schema = z.toJSONSchema(profileSchema, {io: 'input', target: 'draft-2020-12'}) as Record<string, unknown>
  const out = {
    $schema: schema.$schema,
    $id: 'https://nodegen.dev/schema/profile.schema.json',
    title: `nodegen cluster profile (${API_VERSION})`,
    description: 'Generated from src/profile/schema.ts by `npm run schema`; do not edit.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  }
  return `${JSON.stringify(out, null, 2)}\n`
}
