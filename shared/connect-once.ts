/** A dependency connected on first use and shared while warm (see connectOnce). */
export type LazyConnection<T> = {
  /** The connection: the one made or being made, or a new attempt when none is. */
  get(): Promise<T>;
  /** The connection made or being made, undefined when there is none or it failed. */
  settled(): Promise<T | undefined>;
  /** Forgets the connection (after it was closed): the next `get` connects again. */
  forget(): void;
};

/**
 * Connects once, on first use, and hands every caller the same promise while it lasts (warm
 * invocations reuse it; concurrent first calls make one attempt). A failed attempt is forgotten,
 * so the next call tries again: a dependency that was down for a moment is not cached as failed
 * for the life of the container.
 */
export function connectOnce<T>(connect: () => Promise<T>): LazyConnection<T> {
  let pending: Promise<T> | undefined;
  return {
    get() {
      pending ??= connect().catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
      return pending;
    },
    async settled() {
      return pending?.catch(() => undefined);
    },
    forget() {
      pending = undefined;
    },
  };
}
