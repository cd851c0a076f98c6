// Runs the t2i-align CLI from source (`node --import tsx test/world/cli-entry.ts world ...`).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
