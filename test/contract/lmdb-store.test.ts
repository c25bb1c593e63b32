// The store contract run against the LMDB store on real files (fsync on). Crashes of this store
// are tested with real processes killed -9 (test/store/crash.test.ts), full disks on a real
// small filesystem (test/store/full-disk.test.ts).
import { openLmdbStore, type LmdbStore } from '../../store/index.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';
import { withRawTables } from '../store/children.js';
import { runStoreContract, type StoreHandle } from './store-contract.js';

runStoreContract('lmdb', {
  async create(options = {}): Promise<StoreHandle> {
    const dataDir = makeTmpDir('lmdb-contract');
    const open = (): LmdbStore => openLmdbStore({ dataDir, sync: 'fsync', ...(options.logMaxBytes ? { logMaxBytes: options.logMaxBytes } : {}), ...(options.undo ? { undo: true } : {}) });
    let store = open();
    return {
      get store() {
        return store;
      },
      async reopen() {
        await store.close();
        store = open();
        return store;
      },
      async damageBody(messageId) {
        await store.close();
        await withRawTables(dataDir, (t) => {
          const row = Buffer.from(t.get('messages', messageId)!);
          row[row.length - 1] ^= 0x20; // the body's last byte
          t.put('messages', messageId, row);
        });
        store = open();
        return store;
      },
      async cleanup() {
        await store.close();
        removeTmpDir(dataDir);
      },
    };
  },
});
