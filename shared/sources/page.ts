import { readPath } from '../domain/records.ts';
import { PipelineError } from '../errors.ts';
import type { SourceDefinition } from './definition.ts';

/** One page of a source listing, as the pipeline needs it. */
export type SourcePage = {
  /** The records of the page, exactly as the source sent them. */
  items: unknown[];
  /** The URL of the next page, or null when this is the last page. */
  next: string | null;
  /** The total number of records, when the source says. */
  total?: number;
  /** The sync token the page carries, for a source that declares `syncToken`. */
  syncToken?: string;
};

/** A page answer: the URL that was asked, the body, and the `Link` header if any. */
export type PageAnswer = { url: string; body: string; link?: string | undefined };

/** The answer is not the page shape the definition declares. The message says what is wrong. */
export class PageShapeError extends PipelineError {
  override readonly name = 'PageShapeError';
}

/**
 * The URL of a run's first page: the endpoint with the paging parameters and, for an
 * incremental run, the change parameter set to `since`.
 */
export function firstPageUrl(
  source: SourceDefinition,
  endpoint: string,
  pageSize: number,
  since?: string,
  syncToken?: string,
): string {
  const url = new URL(endpoint);
  const p = source.pagination;
  if (p.style === 'page') {
    url.searchParams.set(p.pageParam, String(p.firstPage));
    url.searchParams.set(p.sizeParam, String(pageSize));
  } else if (p.style === 'offset') {
    url.searchParams.set(p.offsetParam, '0');
    url.searchParams.set(p.limitParam, String(pageSize));
  } else if ((p.style === 'cursor' || p.style === 'link') && p.sizeParam) {
    url.searchParams.set(p.sizeParam, String(pageSize));
  }
  if (since !== undefined && source.change?.param) url.searchParams.set(source.change.param, since);
  if (syncToken !== undefined && source.syncToken)
    url.searchParams.set(source.syncToken.param, syncToken);
  return url.toString();
}

/**
 * Reads a page answer in the source's declared shape. A body that is a JSON array is the records
 * themselves and, unless the source pages by count or by `Link`, the one complete page (what the
 * original APIs send). Throws PageShapeError naming what is wrong; never returns a partial page.
 */
export function parsePage(
  source: SourceDefinition,
  answer: PageAnswer,
  pageSize: number,
): SourcePage {
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch (error) {
    throw new PageShapeError(`body is not JSON (${(error as Error).message})`);
  }
  const isArray = Array.isArray(body);
  if (!isArray && (typeof body !== 'object' || body === null)) {
    throw new PageShapeError('body is neither a JSON array nor a JSON object');
  }
  let items: unknown;
  if (isArray) items = body;
  else if (source.records === undefined)
    throw new PageShapeError('body is an object, but the source declares no records path');
  else items = readPath(body, source.records);
  if (!Array.isArray(items)) {
    throw new PageShapeError(`field "${source.records}" is not an array`);
  }
  const total = source.total && !isArray ? readPath(body, source.total) : undefined;
  const token = source.syncToken && !isArray ? readPath(body, source.syncToken.path) : undefined;
  if (token !== undefined && token !== null && !['string', 'number'].includes(typeof token)) {
    throw new PageShapeError(
      `field "${source.syncToken?.path}" (the sync token) is neither a string nor null`,
    );
  }
  return {
    items,
    next: nextPageUrl(source, answer, isArray ? undefined : body, items.length, pageSize),
    ...(Number.isInteger(total) ? { total: total as number } : {}),
    ...((typeof token === 'string' && token !== '') || typeof token === 'number'
      ? { syncToken: String(token) }
      : {}),
  };
}

function nextPageUrl(
  source: SourceDefinition,
  answer: PageAnswer,
  body: unknown,
  count: number,
  pageSize: number,
): string | null {
  const p = source.pagination;
  const url = new URL(answer.url);
  switch (p.style) {
    case 'none':
      return null;
    case 'page': {
      const current = Number(url.searchParams.get(p.pageParam) ?? p.firstPage);
      let next: number | null;
      if (p.next !== undefined) {
        if (body === undefined) return null;
        const value = readPath(body, p.next) ?? null;
        if (value !== null && !(Number.isInteger(value) && (value as number) > current)) {
          throw new PageShapeError(
            `field "${p.next}" is neither null nor a page number after ${current}`,
          );
        }
        next = value as number | null;
      } else {
        // A page longer than asked means the source ignores paging: it was everything.
        next = count === pageSize ? current + 1 : null;
      }
      if (next === null) return null;
      url.searchParams.set(p.pageParam, String(next));
      return url.toString();
    }
    case 'offset': {
      if (count !== pageSize) return null;
      const offset = Number(url.searchParams.get(p.offsetParam) ?? 0);
      url.searchParams.set(p.offsetParam, String(offset + count));
      return url.toString();
    }
    case 'cursor': {
      if (body === undefined) return null;
      const token = readPath(body, p.next);
      if (token === undefined || token === null || token === '') return null;
      if (typeof token !== 'string' && typeof token !== 'number') {
        throw new PageShapeError(`field "${p.next}" is neither a string nor null`);
      }
      url.searchParams.set(p.cursorParam, String(token));
      return url.toString();
    }
    case 'link':
      return nextLink(answer.link, url);
  }
}

/**
 * The `rel="next"` target of an RFC 8288 Link header, resolved against the page URL. Refuses a
 * target on another host (or scheme): the source's credentials go with every request.
 */
export function nextLink(header: string | undefined, base: URL): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const rels = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] ?? '');
    const rel = (rels?.[1] ?? rels?.[2] ?? '').toLowerCase().split(/\s+/);
    if (!rel.includes('next')) continue;
    const target = new URL(match[1] ?? '', base);
    if (target.host !== base.host || target.protocol !== base.protocol) {
      throw new PageShapeError(
        `Link rel="next" points to ${target.protocol}//${target.host}, another host than ${base.protocol}//${base.host}; refused`,
      );
    }
    return target.toString();
  }
  return null;
}
