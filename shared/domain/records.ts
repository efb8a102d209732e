import { z } from 'zod';

/** An id as the sources send it: a non-empty string (numbers are rejected, not coerced). */
const idSchema = z.string().trim().min(1, 'id must be a non-empty string').max(128);

/** ISO-8601 timestamp of the source's last change, or null when the source does not track it. */
const updatedAtSchema = z.iso.datetime({ offset: true }).nullable().default(null);

export const customerSchema = z.object({
  id: idSchema,
  name: z.string().min(1),
  email: z.email(),
  updatedAt: updatedAtSchema,
});

export const productSchema = z.object({
  id: idSchema,
  name: z.string().min(1),
  stock: z.number().int().nonnegative(),
  updatedAt: updatedAtSchema,
});

export type Customer = z.infer<typeof customerSchema>;
export type Product = z.infer<typeof productSchema>;

/** The two sides of a join, named as they appear in the merged payload. */
export type Side = 'customer' | 'inventory';

export type SideRecord = { customer: Customer; inventory: Product };

/** What a validator says about one raw record. */
export type Validation<T> = { ok: true; record: T } | { ok: false; reason: string; id?: string };

/**
 * Validates one raw record against a schema. Never throws: an invalid record comes back with a
 * reason that names the failing fields, so it can be quarantined.
 */
export function validateRecord<T extends { id: string }>(
  schema: z.ZodType<T>,
  raw: unknown,
): Validation<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, record: parsed.data };
  const reason = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`)
    .join('; ');
  const id = rawId(raw);
  return id === undefined ? { ok: false, reason } : { ok: false, reason, id };
}

/** The id of a raw record when it is a usable string, for quarantine context. */
export function rawId(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}
