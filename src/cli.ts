/**
 * The CLI's entry (bin/run.js): oclif's execute, from the same @oclif/core the commands extend. In
 * the built package it is bundled with oclif into the chunk the commands share (scripts/bundle.mjs).
 */
export {execute} from '@oclif/core'
