// Writes packer/ from profiles/quickstart.yaml through the image generator (the same code
// `nodegen image build` runs); test/unit/image/packer-drift.test.ts fails when packer/ is stale.
import path from 'node:path'
import {PACKER_DIR, packerTree, writePackerTree} from '../src/app/image.js'
import {QUICKSTART_PROFILE, readProfile} from '../src/app/profile-file.js'
import {CURRENT_FEATURES} from '../src/image/index.js'

const loaded = readProfile(QUICKSTART_PROFILE)
if (!loaded.cluster) throw new Error(`${QUICKSTART_PROFILE} does not load`)
const r = writePackerTree(PACKER_DIR, packerTree(loaded.cluster, CURRENT_FEATURES))
console.log(`wrote ${r.files} files into ${path.relative(process.cwd(), r.dir) || '.'}`)
