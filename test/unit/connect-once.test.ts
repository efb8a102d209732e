import { describe, expect, it } from 'vitest';
import { connectOnce } from '../../shared/connect-once.ts';

/** A connect function that counts its attempts and fails the ones `failing` names (1-based). */
function connector(failing: number[] = []) {
  let attempts = 0;
  return {
    connect: async () => {
      const attempt = ++attempts;
      await new Promise((resolve) => setImmediate(resolve));
      if (failing.includes(attempt)) throw new Error(`attempt ${attempt} refused`);
      return { attempt };
    },
    attempts: () => attempts,
  };
}

describe('connectOnce: connect on first use, forget a failure', () => {
  it('makes one attempt for concurrent first callers and reuses the connection while warm', async () => {
    const { connect, attempts } = connector();
    const connection = connectOnce(connect);
    const [a, b] = await Promise.all([connection.get(), connection.get()]);
    expect(a).toBe(b);
    expect(await connection.get()).toBe(a);
    expect(attempts()).toBe(1);
  });

  it('forgets a failed attempt: every caller of it sees the error, the next call connects again', async () => {
    const { connect, attempts } = connector([1]);
    const connection = connectOnce(connect);
    const first = await Promise.allSettled([connection.get(), connection.get()]);
    expect(first.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await connection.settled()).toBeUndefined();
    expect(await connection.get()).toEqual({ attempt: 2 });
    expect(attempts()).toBe(2);
  });

  it('connects again after forget (a closed connection is not handed out)', async () => {
    const { connect } = connector();
    const connection = connectOnce(connect);
    expect(await connection.settled()).toBeUndefined();
    const first = await connection.get();
    expect(await connection.settled()).toBe(first);
    connection.forget();
    expect(await connection.settled()).toBeUndefined();
    expect(await connection.get()).toEqual({ attempt: 2 });
  });
});
