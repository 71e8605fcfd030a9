#!/usr/bin/env node
// read_authres.js — the Node readers of tests/e2e/test_forged_verdicts.py: how Node code
// reads the Authentication-Results fields of delivered mail. For each FILE argument (a
// delivered message, as Postfix wrote it to a Maildir) it prints one JSON object
//   {"file": FILE, "readers": {"<reader>": ["<value as that reader hands it out>", ...]}}
// per line; the Python test takes the authserv-id out of each value and compares it.
// Readers:
//   mailparser          simpleParser(...).headers.get('authentication-results'): mailparser
//                       unfolds and trims the value and leaves encoded-words as sent
//   mailparser-decoded  those values through libmime.decodeWords, as mailparser decodes a
//                       Subject (a consumer that wants readable text)
//   raw-trim            the raw value after the colon (simpleParser's headerLines; the same
//                       octets JMAP's `headers` property gives), .trim()med: what the AAMP
//                       Node SDK does with every header (larksuite/aamp,
//                       packages/sdks/nodejs/src/jmap-push.ts: `h.value.trim()`); the SDK
//                       itself reads headers from JMAP, not through mailparser
// Dependencies: tests/node/package-lock.json (scripts/install-deps runs `npm ci`).
// One process per call; reads only the files it is given.
'use strict';

const fs = require('fs');
const libmime = require('libmime');
const { simpleParser } = require('mailparser');

const NAME = 'authentication-results';

function asList(value) {
  return [].concat(value === undefined ? [] : value).map(String);
}

// "Authentication-Results: v..." -> " v..." (folding kept), as UTF-8 text.
function rawValue(line) {
  const text = Buffer.from(line, 'binary').toString('utf8');
  return text.slice(text.indexOf(':') + 1);
}

async function read(file) {
  const parsed = await simpleParser(fs.readFileSync(file));
  const values = asList(parsed.headers.get(NAME));
  const raw = (parsed.headerLines || []).filter((h) => h.key === NAME).map((h) => rawValue(h.line));
  return {
    file,
    readers: {
      mailparser: values,
      'mailparser-decoded': values.map((v) => libmime.decodeWords(v)),
      'raw-trim': raw.map((v) => v.trim()),
    },
  };
}

async function main(files) {
  for (const file of files) process.stdout.write(JSON.stringify(await read(file)) + '\n');
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`read_authres: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
