#!/usr/bin/env node
// Writes docs/cli.md from the CLI's flag tables (build first: npx tsc -p tsconfig.json).
const fs = require('node:fs');
const path = require('node:path');
const { cliReferenceMarkdown } = require('../dist/src/cli/docs');

const out = path.join(__dirname, '..', 'docs', 'cli.md');
cliReferenceMarkdown().then((text) => {
  fs.writeFileSync(`${out}.tmp`, text);
  fs.renameSync(`${out}.tmp`, out);
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
});
