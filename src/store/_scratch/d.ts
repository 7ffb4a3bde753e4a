import { PGlite } from '@electric-sql/pglite';
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync } from 'node:fs';
const dir = mkdtempSync('/tmp/pgl-') + '/data';
mkdirSync(dir); writeFileSync(dir + '/ponte.lock', '123');
const a = await PGlite.create({ dataDir: dir });
console.log((await a.query('select 1 as x')).rows, readdirSync(dir).length);
await a.close();
const b = await PGlite.create({ dataDir: dir });
console.log((await b.query('select version()')).rows); await b.close();
