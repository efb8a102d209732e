import { describe } from 'vitest';
import { joinStoreContract } from '../support/join-store-contract.ts';
import { MemoryJoinStore } from '../support/in-memory.ts';

describe('the in-memory JoinStore the use-case tests run on', () => {
  joinStoreContract(() => new MemoryJoinStore());
});
