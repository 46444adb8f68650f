import nodemailer from 'nodemailer';
import type { NodemailerError } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { DomainError } from '../errors/domain-error.ts';

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

/** What a template renders: everything about a message except who receives it. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
  attachments?: readonly MailAttachment[];
}

export interface MailMessage extends MailContent {
  /** A single recipient address. */
  to: string;
  /**
   * Chosen by the caller and stable across retries (e.g. `${workflowId}/invoice-issued`):
   * it becomes the Message-ID, so a resent message can be recognised as the same one.
   */
  idempotencyKey: string;
}

export interface Mailer {
  /** @throws MailDeliveryError; `retryable` tells whether sending again may succeed. */
  send(message: MailMessage): Promise<{ messageId: string }>;
}

export interface SmtpMailer extends Mailer {
  close(): void;
}

export interface SmtpMailerOptions {
  /** e.g. `smtp://user:pass@host:587` or `smtps://host:465`. */
  smtpUrl: string;
  /** e.g. `Membership <no-reply@example.org>`; its domain is the Message-ID's right-hand side. */
  from: string;
  timeoutMs?: number;
  /** Connections kept open at most (default 5). */
  maxConnections?: number;
  /** An open connection unused this long is closed (default 2 s). */
  idleTimeoutMs?: number;
}

export type MailDeliveryErrorCode = 'MAIL_REJECTED' | 'MAIL_NOT_DELIVERED';

/**
 * `MAIL_REJECTED` (not retryable): the server refused this message or recipient for good
 * (5xx other than 503). `MAIL_NOT_DELIVERED` (retryable): everything else, including a
 * server that is down, slow, answers 4xx, or refuses our credentials.
 */
export class MailDeliveryError extends DomainError {
  override readonly name = 'MailDeliveryError';
  declare readonly code: MailDeliveryErrorCode;
  readonly responseCode: number | undefined;

  constructor(message: string, retryable: boolean, responseCode: number | undefined, cause: unknown) {
    super(retryable ? 'MAIL_NOT_DELIVERED' : 'MAIL_REJECTED', message, { cause });
    this.responseCode = responseCode;
  }
}

/**
 * The Message-ID for an idempotency key: characters outside RFC 5322 atext are
 * percent-encoded, so distinct keys give distinct ids.
 * @throws TypeError when the key is empty.
 */
export function messageIdFor(idempotencyKey: string, domain: string): string {
  if (idempotencyKey.length === 0) throw new TypeError('idempotencyKey must not be empty');
  const local = encodeURIComponent(idempotencyKey).replace(
    /[^A-Za-z0-9%_-]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
  return `<${local}@${domain}>`;
}

/** @throws TypeError when `from` holds no address with a domain. */
export function senderDomain(from: string): string {
  const [first] = addressparser(from, { flatten: true });
  const domain = first?.address.split('@')[1];
  if (!domain) throw new TypeError(`Sender address has no domain: ${from}`);
  return domain;
}

/** Maps whatever nodemailer threw to a MailDeliveryError. */
export function classifySendError(err: unknown): MailDeliveryError {
  const error = (err ?? {}) as Partial<NodemailerError>;
  const responseCode = typeof error.responseCode === 'number' ? error.responseCode : undefined;
  const permanentReply =
    error.permanent ?? (responseCode !== undefined && responseCode >= 500 && responseCode !== 503);
  const noRecipient = error.code === 'EENVELOPE' && responseCode === undefined;
  const rejected = (permanentReply && error.code !== 'EAUTH') || noRecipient;
  const step = error.command ? ` at ${error.command}` : '';
  const message = rejected
    ? `Mail rejected${step}${responseCode ? ` with ${responseCode}` : ''}`
    : `Mail not delivered${step}: ${error.originalCode ?? error.code ?? (responseCode ? String(responseCode) : 'unknown error')}`;
  return new MailDeliveryError(message, !rejected, responseCode, err);
}

/**
 * A Mailer over SMTP. Connections are pooled: a burst of messages (many lifecycles reaching
 * the same step) reuses a few open connections instead of a connect, greeting and EHLO per
 * message, and a connection idle for `idleTimeoutMs` is closed. Each message is still sent,
 * and fails or succeeds, on its own.
 * @throws TypeError when `from` has no domain.
 */
export function createSmtpMailer(options: SmtpMailerOptions): SmtpMailer {
  const domain = senderDomain(options.from);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const transport = nodemailer.createTransport({
    url: options.smtpUrl,
    pool: true,
    maxConnections: options.maxConnections ?? 5,
    idleTimeout: options.idleTimeoutMs ?? 2_000,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs * 4,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    async send(message) {
      const messageId = messageIdFor(message.idempotencyKey, domain);
      try {
        await transport.sendMail({
          from: options.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
          messageId,
          attachments: (message.attachments ?? []).map((attachment) => ({
            filename: attachment.filename,
            contentType: attachment.contentType,
            content: Buffer.from(attachment.content),
          })),
        });
      } catch (err) {
        throw classifySendError(err);
      }
      return { messageId };
    },
    close() {
      transport.close();
    },
  };
}
