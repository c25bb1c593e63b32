// qpidd's ACL (--acl-file): the parser follows qpid-cpp's src/qpid/acl/AclReader.cpp (its
// grammar, its checks and its habit of reporting every bad line, by number), and the evaluator
// decides one request at a time: the first rule that matches wins, and when none does, the
// file's own default (its last `acl allow|deny all all`) decides, or deny when it has none.
// Pure: text in, rules out; (rules, request) in, decision out.

export const ACL_PERMISSIONS = ['allow', 'allow-log', 'deny', 'deny-log'] as const;
export const ACL_ACTIONS = ['access', 'create', 'delete', 'bind', 'unbind', 'publish', 'consume', 'purge', 'update', 'move', 'redirect'] as const;
export const ACL_OBJECTS = ['broker', 'connection', 'queue', 'exchange', 'link', 'method', 'query'] as const;
export const ACL_PROPERTIES = ['name', 'durable', 'autodelete', 'exclusive', 'type', 'alternate', 'routingkey', 'queuename', 'schemapackage', 'schemaclass', 'host'] as const;

export type AclPermission = (typeof ACL_PERMISSIONS)[number];
export type AclAction = (typeof ACL_ACTIONS)[number];
export type AclObject = (typeof ACL_OBJECTS)[number];
export type AclProperty = (typeof ACL_PROPERTIES)[number];

export interface AclRule {
  /** Line of the file where the rule starts (1-based). */
  readonly line: number;
  readonly permission: AclPermission;
  /** Identities (user@realm) the rule applies to, groups expanded; null: all. */
  readonly users: ReadonlySet<string> | null;
  readonly action: AclAction | 'all';
  readonly object: AclObject | 'all';
  readonly properties: ReadonlyMap<AclProperty, string>;
}

export interface Acl {
  readonly rules: readonly AclRule[];
  /** The decision when no rule matches: the last `acl allow|deny all all`, else deny. */
  readonly defaultRule: { readonly permission: AclPermission; readonly line: number | null };
  /** `quota connections N name...`: most concurrent connections per identity. */
  readonly connectionQuotas: ReadonlyMap<string, number>;
}

export interface AclRequest {
  readonly user: string;
  readonly action: AclAction;
  readonly object: AclObject;
  readonly properties?: Readonly<Partial<Record<AclProperty, string>>>;
  /** Only a rule naming this action, this object and a name may allow it (promote and the
   * replication stream): neither a broad rule nor the default ever does. */
  readonly explicit?: boolean;
}

export interface AclDecision {
  readonly allowed: boolean;
  /** The deciding rule's line; null for the built-in deny (no default in the file). */
  readonly line: number | null;
  /** allow-log / deny-log: the broker logs this decision. */
  readonly log: boolean;
}

export class AclParseError extends Error {
  constructor(
    readonly file: string,
    readonly errors: readonly { readonly line: number; readonly message: string }[],
  ) {
    super(errors.map((e) => `${file}:${e.line}: ${e.message}`).join('\n'));
    this.name = 'AclParseError';
  }
}

/** qpidd reads lines into a 1024-byte buffer; longer ones are an error there too. */
const LINE_CHARS_MAX = 1024;
const RULES_MAX = 100_000;
/** qpidd's connection quotas are 16-bit. */
const QUOTA_MAX = 65_535;

const GROUP_NAME = /^[A-Za-z0-9_-]+$/;
const USER_NAME = /^[A-Za-z0-9_.@/-]+$/;

function includes<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

/** Parses an ACL file's text; throws AclParseError listing every bad line. */
export function parseAcl(text: string, file: string): Acl {
  const errors: { line: number; message: string }[] = [];
  const groups = new Map<string, Set<string>>();
  const rules: AclRule[] = [];
  const connectionQuotas = new Map<string, number>();
  let continuing: string | null = null; // the group a `\` line continues
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const fail = (message: string): void => void errors.push({ line: lineNumber, message });
    if (line.length > LINE_CHARS_MAX) return fail(`line longer than ${LINE_CHARS_MAX} characters`);
    if (line.length === 0 || line.startsWith('#')) {
      // qpidd ignores blank and comment lines, even in the middle of a continued group.
      return;
    }
    const backslash = line.lastIndexOf('\\');
    const continues = backslash >= 0;
    if (continues) line = line.slice(0, backslash);
    const tokens = line.split(/[ \t\n\f\v\r]+/).filter((t) => t.length > 0);
    const group = continuing;
    continuing = null;
    if (continues && tokens.length === 0) return fail('a line with only a continuation');
    if (tokens.length === 0) return;
    if (group !== null) {
      const members = groups.get(group) as Set<string>;
      if (addMembers(tokens, group, members, groups, fail) && continues) continuing = group;
      return;
    }
    switch (tokens[0]) {
      case 'group': {
        if (tokens.length < (continues ? 2 : 3)) return fail('too few tokens for a group definition');
        const name = tokens[1] as string;
        if (!GROUP_NAME.test(name)) return fail(`group name "${name}" contains illegal characters`);
        if (groups.has(name)) return fail(`duplicate group name "${name}"`);
        const members = new Set<string>();
        groups.set(name, members);
        if (addMembers(tokens.slice(2), name, members, groups, fail) && continues) continuing = name;
        return;
      }
      case 'acl': {
        if (continues) return fail('an acl rule cannot be continued (only group lists can)');
        const rule = parseRule(tokens, lineNumber, groups, fail);
        if (rule) rules.push(rule);
        if (rules.length > RULES_MAX) return fail(`more than ${RULES_MAX} rules`);
        return;
      }
      case 'quota': {
        if (tokens.length < 3) return fail('too few tokens for a quota');
        if (tokens[1] !== 'connections' && tokens[1] !== 'queues') return fail(`quota type "${tokens[1]}" unrecognized (connections or queues)`);
        const value = tokens[2] as string;
        if (!/^\d+$/.test(value) || Number(value) > QUOTA_MAX) return fail(`${tokens[1]} quota value "${value}" is not an integer 0-${QUOTA_MAX}`);
        if (tokens[1] === 'connections') for (const name of expandNames(tokens.slice(3), groups)) connectionQuotas.set(name, Number(value));
        return;
      }
      default:
        return fail(`a line must start with "group", "acl" or "quota", not "${tokens[0]}"`);
    }
  });
  if (continuing !== null) errors.push({ line: lines.length, message: `the file ends inside the continued group "${continuing}"` });
  if (errors.length > 0) throw new AclParseError(file, errors);
  // The default is the last `acl allow|deny all all`, as qpidd's loadDecisionData finds it;
  // that rule is not also an ordinary rule (it would decide everything after it).
  let defaultIndex = -1;
  for (let i = rules.length - 1; i >= 0 && defaultIndex < 0; i--) {
    const r = rules[i] as AclRule;
    if (r.users === null && r.action === 'all' && r.object === 'all' && r.properties.size === 0) defaultIndex = i;
  }
  const defaultRule = defaultIndex < 0 ? { permission: 'deny' as const, line: null } : { permission: (rules[defaultIndex] as AclRule).permission, line: (rules[defaultIndex] as AclRule).line };
  return { rules: rules.filter((_, i) => i !== defaultIndex), defaultRule, connectionQuotas };
}

/** Group members: user names with a realm, or groups defined earlier (expanded in place). */
function addMembers(tokens: readonly string[], group: string, members: Set<string>, groups: ReadonlyMap<string, ReadonlySet<string>>, fail: (m: string) => void): boolean {
  for (const token of tokens) {
    if (GROUP_NAME.test(token)) {
      if (token === group) continue; // qpidd ignores a group naming itself
      const sub = groups.get(token);
      if (!sub) {
        fail(`sub-group "${token}" is not defined yet (a user name needs its realm: ${token}@QPID)`);
        return false;
      }
      for (const m of sub) members.add(m);
      continue;
    }
    const at = token.indexOf('@');
    if (at < 0 || at === token.length - 1) {
      fail(`user name "${token}" must contain a realm`);
      return false;
    }
    if (!USER_NAME.test(token)) {
      fail(`user name "${token}" contains illegal characters`);
      return false;
    }
    members.add(token);
  }
  return true;
}

function expandNames(names: readonly string[], groups: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  return names.flatMap((n) => [...(groups.get(n) ?? [n])]);
}

function parseRule(tokens: readonly string[], line: number, groups: ReadonlyMap<string, ReadonlySet<string>>, fail: (m: string) => void): AclRule | null {
  if (tokens.length < 4) return fail('too few tokens for an acl rule (acl PERMISSION NAME ACTION [OBJECT [PROPERTY=VALUE ...]])'), null;
  const [, permission, name, action, object, ...props] = tokens as [string, string, string, string, string | undefined, ...string[]];
  if (!includes(ACL_PERMISSIONS, permission)) return fail(`unknown ACL permission "${permission}" (${ACL_PERMISSIONS.join(', ')})`), null;
  if (action !== 'all' && !includes(ACL_ACTIONS, action)) return fail(`unknown action "${action}" (${ACL_ACTIONS.join(', ')} or all)`), null;
  if (action === 'all' && name === 'all' && tokens.length > 4) return fail('tokens found after action "all"'), null;
  if (object !== undefined && object !== 'all' && !includes(ACL_OBJECTS, object)) return fail(`unknown object "${object}" (${ACL_OBJECTS.join(', ')} or all)`), null;
  const properties = new Map<AclProperty, string>();
  for (const pair of props) {
    const eq = pair.indexOf('=');
    if (eq < 0 || eq === pair.length - 1) return fail(`badly formed property "${pair}" (must be name=value)`), null;
    const key = pair.slice(0, eq);
    if (!includes(ACL_PROPERTIES, key)) return fail(`unknown property "${key}" (${ACL_PROPERTIES.join(', ')})`), null;
    properties.set(key, pair.slice(eq + 1));
  }
  const users = name === 'all' ? null : new Set(groups.get(name) ?? [name]);
  return { line, permission, users, action: action as AclAction | 'all', object: (object ?? 'all') as AclObject | 'all', properties };
}

/** qpidd's substitutions in rule values: ${user}, ${domain}, ${userdomain} (with @ and . as _). */
function substitute(value: string, user: string): string {
  if (!value.includes('${')) return value;
  const at = user.lastIndexOf('@');
  const local = at < 0 ? user : user.slice(0, at);
  const domain = at < 0 ? '' : user.slice(at + 1);
  const underscored = (s: string): string => s.replace(/[@.]/g, '_');
  return value.replaceAll('${userdomain}', underscored(user)).replaceAll('${user}', underscored(local)).replaceAll('${domain}', underscored(domain));
}

/** A topic pattern as the topic exchange matches it: `*` one word, `#` zero or more. */
export function topicMatches(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const k = key.split('.');
  const memo = new Map<string, boolean>();
  const at = (i: number, j: number): boolean => {
    const id = `${i},${j}`;
    const known = memo.get(id);
    if (known !== undefined) return known;
    let result: boolean;
    if (i === p.length) result = j === k.length;
    else if (p[i] === '#') result = at(i + 1, j) || (j < k.length && at(i, j + 1));
    else result = j < k.length && (p[i] === '*' || p[i] === k[j]) && at(i + 1, j + 1);
    memo.set(id, result);
    return result;
  };
  return at(0, 0);
}

function valueMatches(property: AclProperty, pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (property === 'routingkey') return topicMatches(pattern, value);
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

function ruleMatches(rule: AclRule, request: AclRequest): boolean {
  if (rule.users !== null && !rule.users.has(request.user)) return false;
  if (rule.action !== 'all' && rule.action !== request.action) return false;
  if (rule.object !== 'all' && rule.object !== request.object) return false;
  for (const [property, pattern] of rule.properties) {
    // A rule about a property the request does not have does not apply to it.
    const value = request.properties?.[property];
    if (value === undefined || !valueMatches(property, substitute(pattern, request.user), value)) return false;
  }
  return true;
}

/** The rule of `acl` that decides `request`. */
export function decide(acl: Acl, request: AclRequest): AclDecision {
  for (const rule of acl.rules) {
    if (!ruleMatches(rule, request)) continue;
    const allows = rule.permission.startsWith('allow');
    if (allows && request.explicit && (rule.action === 'all' || rule.object === 'all' || !rule.properties.has('name'))) continue;
    return { allowed: allows, line: rule.line, log: rule.permission.endsWith('-log') };
  }
  const fallback = acl.defaultRule;
  const allows = fallback.permission.startsWith('allow') && !request.explicit;
  return { allowed: allows, line: fallback.line, log: fallback.permission.endsWith('-log') };
}
