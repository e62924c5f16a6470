/** Loads one profile in a thread of its own (profile-file.ts): the parse's memory ends with the thread. */
import {parentPort, workerData} from 'node:worker_threads'
import type {BuildOptions} from '../profile/index.js'
import {readProfile} from './profile-file.js'

const {file, opts} = workerData as {file: string; opts: BuildOptions}
parentPort?.postMessage(readProfile(file, opts))
