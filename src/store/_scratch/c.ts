import { PGlite } from '@electric-sql/pglite';
import { mkdtempSync } from 'node:fs';
const dir = mkdtempSync('/tmp/pgl-');
let t = Date.now();
const a = await PGlite.create({ dataDir: dir + '/data' });
console.log('create new dir ms', Date.now() - t);
await a.query('create table t (x int)');
t = Date.now();
try { const b = await PGlite.create({ dataDir: dir + '/data' }); console.log('second open OK?!', Date.now() - t, await b.query('select * from t')); await b.close(); } catch (e) { console.log('second open failed:', (e as Error).message); }
await a.close();
t = Date.now();
const c = await PGlite.create({ dataDir: dir + '/data' });
console.log('reopen ms', Date.now() - t, (await c.query('select count(*) from t')).rows);
await c.close();
t = Date.now();
const m = await PGlite.create({ dataDir: 'memory://' });
console.log('memory ms', Date.now() - t); await m.close();
import { readdirSync } from 'node:fs';
console.log(readdirSync(dir + '/data'));
