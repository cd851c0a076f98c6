// Runs the t2i-align CLI from source (the method tests spawn it: `node --import tsx cli-entry.ts feedback build ...`).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
