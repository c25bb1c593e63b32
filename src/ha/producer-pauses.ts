// Several reasons may each pause every producer of a primary (the catch-up governor reserving
// capacity for a backup, an expired serving lease): producers resume only when none is left, so
// that one reason lifting never hands credit back while another still holds.

export type PauseSource = 'catch-up' | 'lease';

export class ProducerPauses {
  private readonly reasons = new Map<PauseSource, string>();

  /** `pause` is the broker's Broker.pauseProducers: one combined reason, or null to resume. */
  constructor(private readonly pause: (reason: string | null) => void) {}

  set(source: PauseSource, reason: string | null): void {
    if (reason === null) this.reasons.delete(source);
    else this.reasons.set(source, reason);
    this.pause(this.reasons.size === 0 ? null : [...this.reasons.values()].join('; '));
  }
}
