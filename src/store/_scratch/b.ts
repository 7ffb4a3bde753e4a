import { DataSource } from 'typeorm';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';

async function mk(dir: string) {
  const pglite = await PGlite.create({ dataDir: dir });
  const ds = new DataSource({ type: 'postgres', poolSize: 1, extra: { ...createPgConfig(pglite), idleTimeoutMillis: 0 } });
  await ds.initialize();
  return { ds, pglite };
}
const t0 = Date.now();
const { ds: a, pglite: pa } = await mk('memory://');
console.log('open ms', Date.now() - t0);
await a.query('create table t (x int, b bytea, j jsonb, big bigint, ts timestamptz default now())');
const { ds: b, pglite: pb } = await mk('memory://');
try { console.log('b sees a table:', await b.query('select * from t')); } catch (e) { console.log('b separate:', (e as Error).message); }
const qr1 = a.createQueryRunner();
await qr1.connect();
await qr1.startTransaction();
await qr1.query('insert into t(x) values (1)');
const p = a.query('insert into t(x) values (2)');
await qr1.rollbackTransaction();
await qr1.release();
await p;
console.log('rows:', await a.query('select x from t'));
await a.query('insert into t(x,b,j,big) values ($1,$2,$3,$4)', [3, Buffer.from('hi'), { k: 'v' }, '9007199254740993']);
console.log(await a.query('select * from t where x=3'));
console.log(await a.query('delete from t where x = any($1)', [[1,2,3]]));
try { await a.query('select nope'); } catch (e: any) { console.log('err', e.message, e.driverError?.code); }
console.log(await a.query('select 1 as one'));
await a.destroy(); await pa.close();
console.log('b after a.destroy:', await b.query('select 1 as ok'));
await b.destroy(); await pb.close();
console.log('total ms', Date.now() - t0);
