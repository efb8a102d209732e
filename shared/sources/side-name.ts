/**
 * A side's name in the payload; `:` and a leading `_` are kept for the store's own fields. Its own
 * module so that both the source definitions and the join declaration read it, neither from the
 * other.
 */
export const SIDE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,30}$/;
