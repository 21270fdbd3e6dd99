import type { BreakerMessage } from '../../observe/tracing.js';
import { breakerChannel } from '../../observe/tracing.js';
import { Breaker, type BreakerSettings } from './breaker.js';

/** The read and the write breaker of one node of the store (the one node of a single Redis). */
export interface NodeBreakers {
  readonly reads: Breaker;
  readonly writes: Breaker;
}

type State = 'closed' | 'open' | 'half-open';

/**
 * The breakers of every node a store spreads its keys over (`CacheStore.nodeOf`: the masters of a Redis
 * Cluster), made on first use; a store without nodes has one pair. Why per node: a dead or slow master
 * fails only the calls for its slots, and one breaker for all would skip the reads of the live masters too
 * (one of 3 masters killed: 0–3 % hits in 1-s windows with one read breaker, though 2/3 of the keys lived).
 */
export class BreakersByNode {
  private readonly byNode = new Map<string, NodeBreakers>();

  constructor(private readonly settings: BreakerSettings | null) {}

  /** The breakers of `node` ('' for a store without nodes). */
  of(node: string): NodeBreakers {
    let pair = this.byNode.get(node);
    if (!pair) {
      const announce = (breaker: 'read' | 'write') => (open: boolean) => {
        if (breakerChannel.hasSubscribers) {
          const message: BreakerMessage = { breaker, state: open ? 'open' : 'closed' };
          if (node) message.node = node;
          breakerChannel.publish(message);
        }
      };
      pair = {
        reads: new Breaker(this.settings, announce('read')),
        writes: new Breaker(this.settings, announce('write')),
      };
      this.byNode.set(node, pair);
    }
    return pair;
  }

  /** Every node's pair (the store came back: wake them all). */
  all(): IterableIterator<NodeBreakers> {
    return this.byNode.values();
  }

  /**
   * One state for all nodes, as `getCacheStats` reports it: `closed` while every node's is, `open` while
   * every node's is open (nothing is read), `half-open` in between (some nodes skipped, others served).
   */
  state(which: 'reads' | 'writes'): State {
    let open = 0;
    let closed = 0;
    let nodes = 0;
    for (const [node, pair] of this.byNode) {
      // On a store with nodes, the pair for calls about no node (announcements, reports) is not a node.
      if (node === '' && this.byNode.size > 1) continue;
      nodes++;
      const state = pair[which].state;
      if (state === 'closed') closed++;
      else if (state === 'open') open++;
    }
    if (closed === nodes) return 'closed';
    return open === nodes ? 'open' : 'half-open';
  }

  /** The nodes whose breaker of this kind is not closed, by node. */
  notClosed(which: 'reads' | 'writes'): Record<string, State> {
    const out: Record<string, State> = {};
    for (const [node, pair] of this.byNode)
      if (pair[which].state !== 'closed') out[node || 'store'] = pair[which].state;
    return out;
  }
}
