// Lets a peer use one link name for a sending and a receiving link at once. AMQP 1.0 §2.6.1
// names a link by its name *and* direction, and clients rely on it (Python Proton's
// BlockingConnection names a queue's sender and receiver after the queue); rhea keys a session's
// links by name alone, so the second attach found the first link and failed the connection with
// "Attach already received". This keeps the second direction under its own key.

interface RheaLink {
  name: string;
  readonly local: { readonly attach: { name: string } };
  remote: { attach?: unknown };
  is_sender(): boolean;
  on_attach(frame: unknown): void;
}

interface AttachFrame {
  readonly performative: { readonly name: string; readonly role: boolean; readonly handle: number };
}

interface RheaSession {
  readonly links: Record<string, RheaLink>;
  readonly remote: { handles: Record<number, RheaLink> };
  create_sender(name: string): RheaLink;
  create_receiver(name: string): RheaLink;
  on_attach(frame: AttachFrame): void;
  remove_link(link: RheaLink): void;
  readonly local: { handles: Record<number, RheaLink> };
}

export function allowSameNameBothWays(session: object): void {
  const s = session as RheaSession;
  // rhea forgets a link by its name: forget ours by the key it is kept under instead.
  const keys = new Map<RheaLink, string>();
  const removeLink = s.remove_link.bind(s);
  s.remove_link = (link) => {
    const key = keys.get(link);
    if (key === undefined) {
      removeLink(link);
      return;
    }
    keys.delete(link);
    const kept = s.links[link.name];
    removeLink(link);
    if (kept && kept !== link) s.links[link.name] = kept;
    delete s.links[key];
  };
  const original = s.on_attach.bind(s);
  s.on_attach = (frame) => {
    const { name, role } = frame.performative;
    // role true: the peer receives, so our end is a sender.
    const weSend = role === true;
    const existing = s.links[name];
    if (!existing || existing.is_sender() === weSend) {
      original(frame);
      return;
    }
    const key = `${name}\u0000${weSend ? 'sender' : 'receiver'}`;
    let link = s.links[key];
    if (!link) {
      link = weSend ? s.create_sender(key) : s.create_receiver(key);
      link.name = name;
      link.local.attach.name = name;
      keys.set(link, key);
    }
    s.remote.handles[frame.performative.handle] = link;
    link.on_attach(frame);
    link.remote.attach = frame.performative;
  };
}
