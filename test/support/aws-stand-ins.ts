import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A message the SQS stand-in accepted. */
export type QueuedMessage = { queueUrl: string; messageId: string; body: string };

/**
 * A local stand-in for the two AWS APIs our functions call at run time, speaking their JSON
 * protocols as the AWS SDK v3 sends them: Secrets Manager GetSecretValue and SQS
 * SendMessage/SendMessageBatch. Point a function at it with AWS_ENDPOINT_URL_SECRETS_MANAGER
 * and AWS_ENDPOINT_URL_SQS. It is what a bundle talks to in the artifact tests, where no AWS
 * account exists; it checks nothing about credentials.
 */
export class AwsStandIn {
  url = '';
  readonly secrets = new Map<string, string>();
  readonly messages: QueuedMessage[] = [];
  /** Every call, as `Service.Operation` (for assertions on what a function asked for). */
  readonly calls: string[] = [];
  #server: Server = createServer((req, res) => void this.#handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (typeof address !== 'object' || !address) throw new Error('stand-in has no address');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    this.calls.push(target);
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<
      string,
      unknown
    >;
    const reply = (status: number, body: unknown, type: string) =>
      res.writeHead(status, { 'content-type': type }).end(JSON.stringify(body));
    switch (target) {
      case 'secretsmanager.GetSecretValue': {
        const id = String(input.SecretId);
        const value = this.secrets.get(id);
        if (value === undefined) {
          reply(
            400,
            {
              __type: 'ResourceNotFoundException',
              message: "Secrets Manager can't find the specified secret.",
            },
            'application/x-amz-json-1.1',
          );
          return;
        }
        reply(
          200,
          { ARN: id, Name: id, SecretString: value, VersionId: randomUUID(), CreatedDate: 0 },
          'application/x-amz-json-1.1',
        );
        return;
      }
      case 'AmazonSQS.SendMessage': {
        const body = String(input.MessageBody);
        const messageId = this.#enqueue(String(input.QueueUrl), body);
        reply(
          200,
          { MessageId: messageId, MD5OfMessageBody: md5(body) },
          'application/x-amz-json-1.0',
        );
        return;
      }
      case 'AmazonSQS.SendMessageBatch': {
        const entries = (input.Entries ?? []) as { Id: string; MessageBody: string }[];
        const successful = entries.map((entry) => ({
          Id: entry.Id,
          MessageId: this.#enqueue(String(input.QueueUrl), entry.MessageBody),
          MD5OfMessageBody: md5(entry.MessageBody),
        }));
        reply(200, { Successful: successful, Failed: [] }, 'application/x-amz-json-1.0');
        return;
      }
      default:
        reply(400, { __type: 'UnknownOperationException', message: target }, 'application/json');
    }
  }

  #enqueue(queueUrl: string, body: string): string {
    const messageId = randomUUID();
    this.messages.push({ queueUrl, messageId, body });
    return messageId;
  }
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
