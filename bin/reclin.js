#!/usr/bin/env node
// The `reclin` command: a thin launcher over the compiled CLI in dist/ (built by `npm install` / `npm run build:ts`).
'use strict';
const { main } = require('../dist/cli/main.js');
main(process.argv).then((code) => {
  process.exitCode = code;
});
