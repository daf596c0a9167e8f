import { createMemoryStore } from './memory-store.ts';
import { runStoreContract } from './store.testkit.ts';

runStoreContract('memory', async () => createMemoryStore());
