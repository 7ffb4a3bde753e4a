import { DataSource } from 'typeorm';
import { PGliteDriver } from 'typeorm-pglite';

async function mk(dir: string) {
  const ds = new DataSource({ type: 'postgres', driver: new PGliteDriver({ dataDir: dir }).driver });
  await ds.initialize();
  return ds;
}
const a = await mk('memory://');
await a.query('create table t (x int)');
const b = await mk('memory://');
try { console.log('b sees a table:', await b.query('select * from t')); } catch (e) { console.log('b separate', (e as Error).message); }
// interleave
const qr1 = a.createQueryRunner();
await qr1.connect();
await qr1.startTransaction();
await qr1.query('insert into t values (1)');
await a.query('insert into t values (2)');
await qr1.rollbackTransaction();
await qr1.release();
console.log('after rollback of tx that inserted 1, rows:', await a.query('select * from t'));
await a.destroy();
try { console.log(await b.query('select 1')); } catch (e) { console.log('b after a.destroy:', (e as Error).message); }
