#!/usr/bin/env node
// Validates an OpenAPI document with @readme/openapi-parser: the OpenAPI 3.0
// JSON Schema, every $ref resolved, and its checks the schema cannot make
// (unique operationIds, path parameters declared, required and present in
// the path, no duplicate parameters). One more check of the spec's own that
// the parser leaves out: no two templated paths that differ only in their
// variable names.
//
//   node validate_openapi.js FILE
//
// Exits 0 when valid, 1 with the validator's message when not, 2 on misuse.
'use strict';

const fs = require('fs');
const { validate, compileErrors } = require('@readme/openapi-parser');

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main() {
  const file = process.argv[2];
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node validate_openapi.js FILE\n');
    process.exit(2);
  }
  let document;
  try {
    document = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`${file}: not a JSON file: ${e.message}`);
  }
  if (typeof document.openapi !== 'string' || !document.openapi.startsWith('3.0.')) {
    fail(`${file}: not an OpenAPI 3.0 document (openapi: ${JSON.stringify(document.openapi)})`);
  }

  // validate() dereferences in place: give it a copy.
  const result = await validate(structuredClone(document));
  if (!result.valid) {
    fail(`${file}: invalid OpenAPI document\n${compileErrors(result)}`);
  }
  if (result.warnings && result.warnings.length > 0) {
    fail(`${file}: OpenAPI warnings\n${compileErrors(result)}`);
  }

  const shapes = new Map();
  for (const path of Object.keys(document.paths || {})) {
    const shape = path.replace(/\{[^}]*\}/g, '{}');
    if (shapes.has(shape)) {
      fail(`${file}: paths ${shapes.get(shape)} and ${path} differ only in ` +
           'their variable names (OpenAPI 3.0: they MUST NOT both exist)');
    }
    shapes.set(shape, path);
  }

  const operations = Object.values(document.paths || {})
    .reduce((n, item) => n + Object.keys(item).length, 0);
  process.stdout.write(`${file}: valid OpenAPI ${document.openapi}, ` +
                       `${Object.keys(document.paths || {}).length} paths, ` +
                       `${operations} operations\n`);
}

main().catch((e) => fail(`${process.argv[2]}: ${e && e.stack ? e.stack : e}`));
