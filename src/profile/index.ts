/**
 * The profile's public surface. Its helpers (model.ts, net.ts, text.ts, image-mirror.ts, …) depend
 * on nothing; this barrel also evaluates the zod schema. Code a render thread runs (plan/, emit/,
 * media/, pki/) imports the helpers from their own modules, so a thread never loads zod.
 */
export * from './diagnostics.js'
export * from './image-mirror.js'
export * from './kubernetes.js'
export {LIMITS, type LoadResult, loadProfile} from './load.js'
export * from './model.js'
export * from './net.js'
export * from './repositories.js'
export * from './schema.js'
export {formatDuration, parseDuration} from './text.js'
export type {BuildOptions} from './validate.js'
