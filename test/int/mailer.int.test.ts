import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createSmtpMailer, MailDeliveryError, messageIdFor, type SmtpMailer } from '../../src/mail/mailer.ts';
import { membershipActivated } from '../../src/mail/templates.ts';

const FROM = 'Membership <no-reply@membership.local>';
const received: string[] = [];
let connections = 0;

function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onConnect(_session, callback) {
    connections++;
    callback();
  },
  onRcptTo(address, _session, callback) {
    if (address.address.startsWith('nobody@')) return callback(smtpError(550, 'No such user here'));
    if (address.address.startsWith('busy@')) return callback(smtpError(451, 'Try again later'));
    return callback();
  },
  onData(stream, _session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      received.push(Buffer.concat(chunks).toString('latin1'));
      callback();
    });
  },
});

let mailer: SmtpMailer;

async function unusedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The header block, unfolded. */
function headers(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n(?=[ \t])/g, '');
}

function attachmentBody(raw: string, filename: string): Buffer {
  const part = raw.split('\r\n--').find((candidate) => candidate.includes(`filename=${filename}`));
  if (!part) throw new Error(`No part with filename ${filename}`);
  return Buffer.from(part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\s+/g, ''), 'base64');
}

function activation(to: string, idempotencyKey: string, content = randomBytes(2048)) {
  const mail = membershipActivated({
    recipientName: 'Sita Sharma',
    partyName: 'Test Party',
    memberNumber: 'TP-000042',
    idCard: { filename: 'member-card.pdf', contentType: 'application/pdf', content },
  });
  return { ...mail, to, idempotencyKey };
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as net.AddressInfo;
  mailer = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: FROM, timeoutMs: 5_000 });
});

afterAll(async () => {
  mailer.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received.length = 0;
});

describe('SMTP mailer', () => {
  it('delivers the message with its attachment under the Message-ID derived from the idempotency key', async () => {
    const pdf = randomBytes(4096);
    const key = 'member-lifecycle:tenant-1/member-7:activated';

    const result = await mailer.send(activation('sita@example.org', key, pdf));

    expect(result.messageId).toBe(messageIdFor(key, 'membership.local'));
    expect(received).toHaveLength(1);
    const raw = received[0] ?? '';
    expect(headers(raw)).toContain(`Message-ID: ${result.messageId}`);
    expect(headers(raw)).toContain('Subject: Welcome to Test Party: your membership is active');
    expect(attachmentBody(raw, 'member-card.pdf').equals(pdf)).toBe(true);
  });

  it('gives a retried send the same Message-ID', async () => {
    const first = await mailer.send(activation('sita@example.org', 'wf-1/approved'));
    const second = await mailer.send(activation('sita@example.org', 'wf-1/approved'));

    expect(second.messageId).toBe(first.messageId);
    const ids = received.map((raw) => /^Message-ID: (.*)$/m.exec(headers(raw))?.[1]);
    expect(ids).toEqual([first.messageId, first.messageId]);
  });

  it('sends a burst of messages over one pooled connection, each under its own Message-ID', async () => {
    const pooled = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${(server.server.address() as net.AddressInfo).port}`, from: FROM, timeoutMs: 5_000, maxConnections: 1 });
    const before = connections;
    try {
      const ids = [];
      for (const step of ['approved', 'invoice', 'activated']) ids.push((await pooled.send(activation('sita@example.org', `wf-pool/${step}`))).messageId);
      expect(connections - before).toBe(1);
      expect(received.map((raw) => /^Message-ID: (.*)$/m.exec(headers(raw))?.[1])).toEqual(ids);
    } finally {
      pooled.close();
    }
  });

  it('keeps a line break in a value from adding a header', async () => {
    const mail = membershipActivated({
      recipientName: 'Sita',
      partyName: 'Test Party\r\nBcc: attacker@example.org',
      memberNumber: 'TP-1',
      idCard: { filename: 'member-card.pdf', contentType: 'application/pdf', content: new Uint8Array(8) },
    });

    await mailer.send({ ...mail, to: 'sita@example.org', idempotencyKey: 'wf-2/activated' });

    expect(headers(received[0] ?? '')).not.toMatch(/^Bcc:/im);
  });

  it('reports a 550 recipient rejection as permanent', async () => {
    const sending = mailer.send(activation('nobody@example.org', 'wf-3/activated'));

    await expect(sending).rejects.toThrow(MailDeliveryError);
    await expect(sending).rejects.toMatchObject({ code: 'MAIL_REJECTED', retryable: false, responseCode: 550 });
    expect(received).toHaveLength(0);
  });

  it('reports a 451 as retryable', async () => {
    await expect(mailer.send(activation('busy@example.org', 'wf-4/activated'))).rejects.toMatchObject({
      code: 'MAIL_NOT_DELIVERED',
      retryable: true,
      responseCode: 451,
    });
  });

  it('reports a refused connection as retryable', async () => {
    const down = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${await unusedPort()}`, from: FROM, timeoutMs: 5_000 });
    const sending = down.send(activation('sita@example.org', 'wf-5/activated'));

    await expect(sending).rejects.toThrow(MailDeliveryError);
    await expect(sending).rejects.toMatchObject({ code: 'MAIL_NOT_DELIVERED', retryable: true, responseCode: undefined });
    await expect(sending).rejects.toThrow(/ECONNREFUSED/);
    down.close();
  });
});

describe('messageIdFor', () => {
  it('encodes characters that may not appear in a Message-ID, keeping distinct keys distinct', () => {
    expect(messageIdFor('wf-1/step a', 'example.org')).toBe('<wf-1%2Fstep%20a@example.org>');
    expect(messageIdFor('a.b', 'example.org')).not.toBe(messageIdFor('a%2Eb', 'example.org'));
    expect(() => messageIdFor('', 'example.org')).toThrow(TypeError);
  });
});
