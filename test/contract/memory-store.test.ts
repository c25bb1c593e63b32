// The store contract run against the simulator's memory store, twice: with every commit durable
// at once, and with durability lagging until flush() (what the simulator's disk model does).
import { MemoryDisk, openMemoryStore, type MemoryStore, type MemoryStoreOptions } from '../../store/index.js';
import { runStoreContract, type StoreHandle } from './store-contract.js';

for (const autoFlush of [true, false]) {
  runStoreContract(`memory (autoFlush ${autoFlush})`, {
    async create(options = {}): Promise<StoreHandle> {
      const disk = new MemoryDisk();
      const storeOptions: MemoryStoreOptions = { autoFlush, ...(options.logMaxBytes ? { logMaxBytes: options.logMaxBytes } : {}), ...(options.undo ? { undo: true } : {}) };
      let store: MemoryStore = openMemoryStore(disk, storeOptions);
      // With autoFlush off nothing would ever become durable on its own: flush on a timer, as
      // the simulator's disk model does on simulated time.
      const flusher = autoFlush ? null : setInterval(() => store.flush(), 1);
      return {
        get store() {
          return store;
        },
        async reopen() {
          await store.close();
          store = openMemoryStore(disk, storeOptions);
          return store;
        },
        failNextCommit: (code) => store.failNextCommit(code),
        async damageBody(messageId) {
          store.damageMessage(messageId);
          await store.close();
          store = openMemoryStore(disk, storeOptions);
          return store;
        },
        async crash() {
          store.crash();
          store = openMemoryStore(disk, storeOptions);
          return store;
        },
        async cleanup() {
          if (flusher) clearInterval(flusher);
          await store.close();
        },
      };
    },
  });
}
