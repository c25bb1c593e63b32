// SQL LIKE matching: `%` is any run of characters, `_` is one character, the escape character
// makes the next one literal. Matched by the classic two-pointer wildcard walk, which takes
// O(pattern × value) steps at worst: a regular expression built from the pattern could backtrack
// exponentially on a hostile pattern such as '%a%a%a%a%a%b'.

type PatternItem = { readonly kind: 'any' } | { readonly kind: 'one' } | { readonly kind: 'char'; readonly char: string };

export interface LikePattern {
  readonly items: readonly PatternItem[];
}

export function compileLike(pattern: string, escape: string | null): LikePattern {
  const items: PatternItem[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (escape !== null && c === escape && i + 1 < chars.length) {
      items.push({ kind: 'char', char: chars[++i] as string });
    } else if (c === '%') {
      // Consecutive '%' match what one does.
      if (items[items.length - 1]?.kind !== 'any') items.push({ kind: 'any' });
    } else if (c === '_') {
      items.push({ kind: 'one' });
    } else {
      items.push({ kind: 'char', char: c });
    }
  }
  return { items };
}

const SURROGATE = /[\uD800-\uDFFF]/;

export function matchLike(pattern: LikePattern, value: string): boolean {
  // `_` is one character, not one UTF-16 unit: split into code points only when needed.
  const chars: readonly string[] | string = SURROGATE.test(value) ? [...value] : value;
  const items = pattern.items;
  let v = 0;
  let p = 0;
  let starP = -1;
  let starV = 0;
  while (v < chars.length) {
    const item = items[p];
    if (item !== undefined && (item.kind === 'one' || (item.kind === 'char' && item.char === chars[v]))) {
      v++;
      p++;
    } else if (item !== undefined && item.kind === 'any') {
      starP = p++;
      starV = v;
    } else if (starP !== -1) {
      p = starP + 1;
      v = ++starV;
    } else {
      return false;
    }
  }
  while (items[p]?.kind === 'any') p++;
  return p === items.length;
}
