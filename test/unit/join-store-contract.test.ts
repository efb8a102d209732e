import { describe } from 'vitest';
import { MemoryJoinStore } from '../support/in-memory.ts';
import { joinStoreContract } from '../support/join-store-contract.ts';

describe('the in-memory JoinStore the use-case tests run on', () => {
  joinStoreContract(({ required, clock }) => new MemoryJoinStore({ required }, () => clock.now));
});
