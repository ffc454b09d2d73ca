#!/usr/bin/env node
import { runCli } from './program.js';

// The process entry point: the only place that hands process streams and environment to the code.
const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
process.exitCode = code;
