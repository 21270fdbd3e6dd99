/** Circuit breaker settings, resolved. */
export interface BreakerSettings {
  failures: number;
  cooldownMs: number;
}

/**
 * One circuit breaker: `failures` consecutive failures open it; while open, calls are skipped; after
 * `cooldownMs` one call is let through as a probe (the others still skip), whose success closes it and
 * whose failure re-opens it. `wake()` lets the next call probe at once (the store came back). With no
 * settings (`breaker: false`) it never opens.
 */
export class Breaker {
  private consecutiveFailures = 0;
  private openedAt = 0;
  private open = false;
  private probing = false;

  /** `onChange(open)`: called when the breaker opens (`true`) or closes (`false`). */
  constructor(
    private readonly settings: BreakerSettings | null,
    private readonly onChange: (open: boolean) => void = () => {},
  ) {}

  get state(): 'closed' | 'open' | 'half-open' {
    if (!this.open) return 'closed';
    return this.probing || Date.now() - this.openedAt >= (this.settings?.cooldownMs ?? 0) ? 'half-open' : 'open';
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Whether a call may go: `go`, `probe` (the one call let through while open), or `skip`. */
  admit(): 'go' | 'probe' | 'skip' {
    if (!this.open) return 'go';
    if (this.probing || !this.settings || Date.now() - this.openedAt < this.settings.cooldownMs) return 'skip';
    this.probing = true;
    return 'probe';
  }

  /** A probe that was let through but not made (the store was not ready): another call may probe. */
  unprobe(): void {
    this.probing = false;
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    this.probing = false;
    if (this.open) {
      this.open = false;
      this.onChange(false);
    }
  }

  /** A failure; `counts: false` for one that says nothing about the store's health (it is not counted). */
  failed(probe: boolean, counts = true): void {
    if (!this.settings) return;
    if (probe) {
      this.probing = false;
      this.openedAt = Date.now();
      return; // it was open, and stays open
    }
    if (!counts) return;
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= this.settings.failures && !this.open) {
      this.open = true;
      this.probing = false;
      this.openedAt = Date.now();
      this.onChange(true);
    }
  }

  /** The store came back (ready again after a reconnect): the next call probes at once. */
  wake(): void {
    if (this.open && !this.probing) this.openedAt = Number.NEGATIVE_INFINITY;
  }
}
