import type { DownstreamReading } from './downstream-lag/read.ts';

/** Behind, the pace drops to this share of itself... */
const DECREASE = 0.8;

/** ...but not under this share of what the consumers applied: that much they can take. */
const UNDER_APPLIED = 0.9;

/** The consumers are behind once their lag is this many seconds of what they apply. */
const BEHIND_SECONDS = 0.25;

/** While the consumers keep up, each reading raises the pace by this share of the ceiling. */
const RAISE = 0.05;

/** The pace never falls under this share of the ceiling: a tenant sharing the relay always moves. */
const FLOOR = 0.05;

export interface ConsumerPaceOptions {
  /** Rows a second: where the pace starts, and the most it gets (`RELAY_TENANT_RATE`). */
  ceiling: number;
  /** The fewest messages behind that count as behind, whatever the consumers' rate. */
  minBehind: number;
}

/**
 * The pace of a tenant that shares the relay with others (`createTenantPacer`): just under the
 * rate the consumers apply, read from their lag every 500 ms, never above `ceiling`
 * (`RELAY_TENANT_RATE`).
 *
 * A fixed pace cannot be right on every machine. Above what the consumers apply it does not
 * bind, and an import's rows run ahead into Kafka while every process competes for the cores;
 * far under it, the import drains slower than it could. Just under it, a quiet tenant's change
 * meets a consumer with room to spare (`consumer:bench-fairness`, docs/relay.md "Pacing"). So
 * the pace follows the consumers, additive increase and multiplicative decrease as in TCP's
 * congestion control:
 *
 * - behind: the slowest group's lag is a quarter second or more of what it applied lately
 *   (`createAppliedRate`), and at least `minBehind` messages, and no less than at the last
 *   reading. A consumer keeping up is a fifth of a second behind or less: its rounds in
 *   flight and the offsets it commits every 200 ms. The pace drops to 80 % of itself, or to
 *   90 % of what the group applied when that is more. Once the lag falls, the last cut is
 *   working and the pace holds: the lag takes a while to follow a cut, and cutting on every
 *   reading until it did took the pace to the floor;
 * - keeping up: the pace rises by a twentieth of the ceiling, back to the ceiling in ten
 *   seconds from the floor.
 *
 * The pace follows the readings whether or not a tenant is paced: an import alone, unpaced,
 * keeps the consumers behind, and the pace learns what they apply before a second tenant
 * arrives.
 */
export function createConsumerPace({ ceiling, minBehind }: ConsumerPaceOptions) {
  const floor = Math.max(1, Math.round(ceiling * FLOOR));
  let rate = ceiling;
  let lastLag = 0;
  return {
    /** Rows a second, now. */
    rate: (): number => rate,
    read({ lag, appliedPerSecond = 0 }: DownstreamReading): void {
      const falling = lag < lastLag;
      lastLag = lag;
      let next = rate;
      if (lag < Math.max(minBehind, appliedPerSecond * BEHIND_SECONDS)) next = rate + ceiling * RAISE;
      else if (!falling) next = Math.max(rate * DECREASE, appliedPerSecond * UNDER_APPLIED);
      rate = Math.round(Math.min(ceiling, Math.max(floor, next)));
    },
  };
}
