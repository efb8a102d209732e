import type {
  DeadLetter,
  DeadLetterSink,
  Publisher,
  QuarantineEntry,
  QuarantineSink,
} from '../ports.ts';

/** Raw inputs longer than this are cut in quarantine (with their full length noted). */
const MAX_QUARANTINE_RAW_CHARS = 512_000;

/** Quarantine on a Kafka topic: one message per entry, keyed by the record id when known. */
export class TopicQuarantineSink implements QuarantineSink {
  constructor(
    private readonly publisher: Publisher,
    private readonly topic: string,
  ) {}

  async quarantine(entries: QuarantineEntry[]): Promise<void> {
    await this.publisher.publish(
      this.topic,
      entries.map((entry) => ({
        key: entry.id ?? null,
        value: JSON.stringify({
          ...entry,
          raw: truncateRaw(entry.raw),
          quarantinedAt: new Date().toISOString(),
        }),
        headers: { reason: entry.reason.slice(0, 200), stage: entry.stage },
      })),
    );
  }
}

/** Dead letters on a Kafka topic (the local runtime's stand-in for the SQS queue). */
export class TopicDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly publisher: Publisher,
    private readonly topic: string,
  ) {}

  async send(letters: DeadLetter[]): Promise<void> {
    await this.publisher.publish(
      this.topic,
      letters.map((letter) => ({
        key: letter.payload.id ?? null,
        value: JSON.stringify(letter),
        headers: { reason: letter.reason.slice(0, 200), hash: letter.hash },
      })),
    );
  }
}

function truncateRaw(raw: string): string {
  if (raw.length <= MAX_QUARANTINE_RAW_CHARS) return raw;
  return `${raw.slice(0, MAX_QUARANTINE_RAW_CHARS)}…[truncated, ${raw.length} chars in all]`;
}
