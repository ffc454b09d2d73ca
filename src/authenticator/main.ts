#!/usr/bin/env node
import { runAuthenticator } from './program.js';

// The process entry point of countersign-authenticator: the only place that hands process streams and environment to the code.
process.exitCode = await runAuthenticator(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
