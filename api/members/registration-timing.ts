import { randomInt } from 'node:crypto';

/**
 * How long a party's applications took to answer, so that a refused one (its phone or email is a
 * member's) is answered in the time a recorded one would have taken. A refused application costs
 * one insert, a recorded one the member row, its chained event and its projection: several
 * milliseconds more, enough for an anonymous caller comparing answer times to tell that a contact
 * belongs to a member. A refused answer is held until the time at the same rank among the party's
 * recent recorded answers as its own time has among recent refused ones (quantile matching: the
 * two answer times then follow the same distribution); before any refusal is known, until a
 * recorded time drawn at random. A recorded application, the usual case, waits for nothing.
 */
export class RegistrationAnswerTimes {
  readonly #recorded = new Map<string, number[]>();
  readonly #refused = new Map<string, number[]>();
  readonly #size: number;

  /** @param size how many of a party's last answers of each kind are kept. */
  constructor(size = 64) {
    this.#size = size;
  }

  #keep(kind: Map<string, number[]>, partyId: string, ms: number): void {
    const times = kind.get(partyId) ?? [];
    if (times.length >= this.#size) times.shift();
    times.push(ms);
    kind.set(partyId, times);
  }

  /** A recorded application of the party took this long to answer. */
  recorded(partyId: string, ms: number): void {
    this.#keep(this.#recorded, partyId, ms);
  }

  /**
   * How much longer a refused application of the party, done in `ms`, waits before it is
   * answered (0 before any recorded one); its own time is kept for the next.
   */
  refusedWait(partyId: string, ms: number): number {
    const recorded = [...(this.#recorded.get(partyId) ?? [])].sort((a, b) => a - b);
    const refused = this.#refused.get(partyId) ?? [];
    this.#keep(this.#refused, partyId, ms);
    if (recorded.length === 0) return 0;
    // Its rank among the refused (ties and the gaps between ranks broken at random), as a quantile in (0, 1).
    const below = refused.filter((t) => t < ms).length + randomInt(refused.filter((t) => t === ms).length + 1);
    const quantile = refused.length === 0 ? Math.random() : (below + Math.random()) / (refused.length + 1);
    return Math.max(0, recorded[Math.min(recorded.length - 1, Math.floor(quantile * recorded.length))]! - ms);
  }
}
