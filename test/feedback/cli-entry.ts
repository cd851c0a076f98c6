// Runs the t2i-align CLI from source (tests spawn it as a child process: `node --import tsx cli-entry.ts serve ...`).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
