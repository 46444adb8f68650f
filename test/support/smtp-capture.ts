import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './servers.ts';

/** A real SMTP server inside the test process that keeps every message it receives. */
export interface SmtpCapture {
  url: string;
  messages: ParsedMail[];
  /** When each of `messages` was accepted (ms since the epoch), in the same order. */
  acceptedAt: number[];
  /**
   * Connections a client dropped inside a mail transaction, before its message was accepted (reset
   * or broken pipe): what a sender SIGKILLed during a send leaves behind. It retries the message.
   */
  droppedConnections: Error[];
  /** Resolves once `count` messages matching `predicate` have arrived. */
  waitFor(predicate: (mail: ParsedMail) => boolean, count?: number, timeoutMs?: number): Promise<ParsedMail[]>;
  stop(): Promise<void>;
}

export async function startSmtpCapture(port?: number): Promise<SmtpCapture> {
  const messages: ParsedMail[] = [];
  const acceptedAt: number[] = [];
  const droppedConnections: Error[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push(mail);
          acceptedAt.push(Date.now());
          callback();
        })
        .catch(callback);
    },
  });
  const listenPort = port ?? (await freePort());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // smtp-server re-emits a client connection's socket error on the server when it happens inside
  // a mail transaction (after MAIL FROM): a worker killed mid-send resets its connection, and with
  // no listener that 'error' event would be an uncaught exception in the test process. Such an
  // error carries the client's address; anything else is the server's own failure and stays loud.
  server.on('error', (err: Error & { remoteAddress?: string }) => {
    if (err.remoteAddress === undefined) throw err;
    droppedConnections.push(err);
  });
  return {
    url: `smtp://127.0.0.1:${listenPort}`,
    messages,
    acceptedAt,
    droppedConnections,
    async waitFor(predicate, count = 1, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.filter(predicate);
        if (found.length >= count) return found;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} message(s); have ${messages.length}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
