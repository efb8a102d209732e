import { describe, expect, it } from 'vitest';
import type { Log } from '../../shared/logger.ts';
import {
  applyContract,
  type ContractRules,
  declaredNames,
  FieldSightings,
} from '../../shared/sources/contract.ts';
import { parseSourceDefinitions, type SourceDefinition } from '../../shared/sources/definition.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import { fetchSource } from '../../shared/use-cases/fetch-source.ts';
import { aCustomer } from '../support/factories.ts';
import { MemorySinks, MemorySourceReader, memoryLog } from '../support/in-memory.ts';

const rules = (contract: ContractRules['contract']): ContractRules => ({
  contract,
  id: { path: 'id' },
  required: [{ path: 'name', type: 'string' }],
  fields: [
    { path: 'price', type: 'number' },
    { path: 'address.city', type: 'string' },
  ],
  change: { path: 'updatedAt' },
});

/** The CRM with a contract and one declared optional field. */
function crmWith(contract: string): SourceDefinition {
  const [source] = parseSourceDefinitions([
    { ...SOURCES.crm, contract, fields: [{ path: 'phone', type: 'string' }] },
  ]);
  if (!source) throw new Error('no source');
  return source;
}

/** One fetch run of `source` over pages of customers; the sinks, the log and the summary. */
async function fetchPages(source: SourceDefinition, pages: object[][], sightings?: FieldSightings) {
  const sinks = new MemorySinks();
  const log = memoryLog();
  const reader = new MemorySourceReader(source, 2, (url) => {
    const page = Number(url.searchParams.get('page'));
    return JSON.stringify({
      items: pages[page - 1] ?? [],
      nextPage: page < pages.length ? page + 1 : null,
    });
  });
  const summary = await fetchSource({
    source,
    topic: 't',
    endpoint: 'http://crm.test/customers',
    reader,
    publisher: sinks,
    quarantine: sinks,
    log: log as unknown as Log,
    correlationId: 'run-1',
    pageSize: 2,
    maxPages: 10,
    maxRecordBytes: 10_000,
    sightings,
  });
  const published = (sinks.published.get('t') ?? []).map((m) => JSON.parse(m.value as string));
  return { summary, sinks, log, published };
}

describe('schema contracts (pure)', () => {
  it('declares the top-level names of the id, required, optional and change paths', () => {
    expect([...declaredNames(rules('evolve'))].sort()).toEqual([
      'address',
      'id',
      'name',
      'price',
      'updatedAt',
    ]);
  });

  it('evolve passes a record whole and lists its undeclared fields', () => {
    const record = { id: '1', name: 'A', phone: '5', price: 'ten' };
    const check = applyContract(rules('evolve'), record);
    expect(check).toEqual({ ok: true, record, undeclared: ['phone'], discarded: [] });
    if (check.ok) expect(check.record).toBe(record);
  });

  it('freeze refuses an undeclared field and a retyped declared one, naming both', () => {
    const check = applyContract(rules('freeze'), {
      id: '1',
      name: 'A',
      phone: '5',
      vip: true,
      price: 'ten',
      address: { city: 7 },
    });
    expect(check).toEqual({
      ok: false,
      reason:
        'contract freeze: undeclared fields phone, vip; price: declared must be a number, got "ten"; address.city: declared must be a string, got number 7',
    });
  });

  it('freeze accepts a record of declared fields only, optional ones absent or null', () => {
    const record = { id: '1', name: 'A', price: null, updatedAt: null };
    expect(applyContract(rules('freeze'), record)).toMatchObject({ ok: true, record });
    expect(applyContract(rules('freeze'), { id: '1', name: 'A', price: 2.5 })).toMatchObject({
      ok: true,
    });
  });

  it('discard_row refuses the same rows as freeze, its own name in the reason', () => {
    expect(applyContract(rules('discard_row'), { id: '1', name: 'A', phone: '5' })).toEqual({
      ok: false,
      reason: 'contract discard_row: undeclared field phone',
    });
  });

  it('discard_value removes undeclared and retyped values from a copy, not from the input', () => {
    const record = { id: '1', name: 'A', phone: '5', price: 'ten', address: { city: 7, zip: 'z' } };
    const input = structuredClone(record);
    const check = applyContract(rules('discard_value'), input);
    expect(check).toEqual({
      ok: true,
      record: { id: '1', name: 'A', address: { zip: 'z' } },
      undeclared: ['phone'],
      discarded: ['phone', 'price', 'address.city'],
    });
    expect(input).toEqual(record);
  });

  it('reports each field once per sightings object, per source', () => {
    const sightings = new FieldSightings();
    expect(sightings.firstSightings('crm', ['a', 'b'])).toEqual(['a', 'b']);
    expect(sightings.firstSightings('crm', ['b', 'c', 'c'])).toEqual(['c']);
    expect(sightings.firstSightings('erp', ['a'])).toEqual(['a']);
  });
});

describe('schema contracts in a fetch run', () => {
  it('the default contract is evolve and takes an optional field list', () => {
    expect(SOURCES.crm).toMatchObject({ contract: 'evolve', fields: [] });
    expect(() => crmWith('strict')).toThrow(/source "crm": contract /);
  });

  it('evolve publishes every field and logs a new field once per run, not per record', async () => {
    const { summary, log, published } = await fetchPages(crmWith('evolve'), [
      [aCustomer('1', { vip: true }), aCustomer('2', { vip: false })],
      [aCustomer('3', { vip: true, tier: 'gold' })],
    ]);
    expect(published.map((r) => r.vip)).toEqual([true, false, true]);
    expect(summary).toMatchObject({ published: 3, quarantined: 0, newFields: ['vip', 'tier'] });
    const seen = log.lines.filter((line) => line.message === 'new field seen');
    expect(seen.map((line) => [line.level, line.attributes.field, line.attributes.id])).toEqual([
      ['warn', 'vip', '1'],
      ['warn', 'tier', '3'],
    ]);
  });

  it('evolve reports a field again only to a new container: sightings outlive one run', async () => {
    const sightings = new FieldSightings();
    const pages = [[aCustomer('1', { vip: true })]];
    const first = await fetchPages(crmWith('evolve'), pages, sightings);
    const second = await fetchPages(crmWith('evolve'), pages, sightings);
    const fresh = await fetchPages(crmWith('evolve'), pages, new FieldSightings());
    expect([first, second, fresh].map((run) => run.summary.newFields)).toEqual([
      ['vip'],
      [],
      ['vip'],
    ]);
  });

  it('freeze quarantines a record with an undeclared field, naming it, logged as an error', async () => {
    const { summary, sinks, log, published } = await fetchPages(crmWith('freeze'), [
      [aCustomer('1', { phone: '5' }), aCustomer('2', { vip: true })],
    ]);
    expect(published.map((r) => r.id)).toEqual(['1']);
    expect(summary).toMatchObject({ published: 1, quarantined: 1 });
    expect(sinks.quarantined).toEqual([
      expect.objectContaining({
        stage: 'fetch',
        source: 'crm',
        id: '2',
        reason: 'contract freeze: undeclared field vip',
        raw: JSON.stringify(aCustomer('2', { vip: true })),
      }),
    ]);
    const line = log.lines.find((l) => l.message === 'record quarantined');
    expect(line?.level).toBe('error');
  });

  it('freeze quarantines a declared field whose type changed', async () => {
    const { sinks } = await fetchPages(crmWith('freeze'), [[aCustomer('1', { phone: 5 })]]);
    expect(sinks.quarantined[0]?.reason).toBe(
      'contract freeze: phone: declared must be a string, got number 5',
    );
  });

  it('discard_row sends the row to quarantine with its reason, logged as a warning', async () => {
    const { summary, sinks, log } = await fetchPages(crmWith('discard_row'), [
      [aCustomer('1', { vip: true })],
    ]);
    expect(summary).toMatchObject({ published: 0, quarantined: 1 });
    expect(sinks.quarantined[0]?.reason).toBe('contract discard_row: undeclared field vip');
    expect(log.lines.find((l) => l.message === 'record quarantined')?.level).toBe('warn');
  });

  it('discard_value publishes the record without the undeclared values and counts them', async () => {
    const { summary, published, log } = await fetchPages(crmWith('discard_value'), [
      [aCustomer('1', { vip: true, phone: '5' }), aCustomer('2', { vip: false })],
    ]);
    expect(published).toEqual([aCustomer('1', { phone: '5' }), aCustomer('2')]);
    expect(summary).toMatchObject({ published: 2, quarantined: 0, discardedValues: 2 });
    const lines = log.lines.filter((l) => l.message === 'undeclared value discarded');
    expect(lines.map((l) => l.attributes.field)).toEqual(['vip']);
  });
});
