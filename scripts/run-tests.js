#!/usr/bin/env node
// Runs every test/*.test.ts file with node:test (TypeScript through tsx). test/gpu/ runs only on a GPU machine
// (scripts/gpu-check.sh). Extra arguments are passed to node, e.g. `npm test -- --test-name-pattern=kda`.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const files = fs.readdirSync(path.join(root, 'test')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', f));
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...process.argv.slice(2), ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
