/** Node images with Packer: templates generated from the planner, the runner, the recorded artifacts. */
export * from './errors.js'
export * from './generate.js'
export * from './machine-readable.js'
export * from './os.js'
export * from './packer-version.js'
export * from './records.js'
export * from './runner.js'
