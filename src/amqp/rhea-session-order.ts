// Makes a session write its links' attach frames before any transfer. rhea's session writes
// pending transfers first and the links' attaches after, so a consumer that is given credit in
// the same batch as its attach (Proton sends attach and flow together) got its first transfers
// ahead of our attach: Proton then fails the connection ("no such handle"), as AMQP 1.0 §2.6.3
// allows; rhea clients happen to tolerate it.

interface RheaEndpointState {
  need_open(): boolean;
}

interface RheaLink {
  readonly state: RheaEndpointState;
  readonly local: { readonly attach: unknown };
}

interface RheaSession {
  readonly state: RheaEndpointState;
  readonly local: { readonly begin: unknown };
  readonly links: Record<string, RheaLink>;
  output(frame: unknown): void;
  _process(): void;
}

/** Wraps one session's _process: begin (if due), then every due attach, then rhea's own order. */
export function attachBeforeTransfers(session: object): void {
  const s = session as RheaSession;
  const original = s._process.bind(s);
  s._process = () => {
    // need_open() consumes the pending open, so rhea's pass below does not write it again.
    if (s.state.need_open()) s.output(s.local.begin);
    for (const key in s.links) {
      const link = s.links[key] as RheaLink;
      if (link.state.need_open()) s.output(link.local.attach);
    }
    original();
  };
}
