// Topic matching as in AMQP 0-10 and Qpid: keys and patterns are words separated by '.';
// in a pattern '*' matches exactly one word and '#' matches zero or more words.

export function topicMatches(pattern: string, key: string): boolean {
  // An empty key or pattern has no words (so '#' matches '', and '' matches only '').
  return matchWords(pattern === '' ? [] : pattern.split('.'), 0, key === '' ? [] : key.split('.'), 0);
}

function matchWords(pattern: string[], p: number, words: string[], w: number): boolean {
  while (p < pattern.length) {
    const token = pattern[p] as string;
    if (token === '#') {
      // Collapse runs of '#'; then try every possible number of words for this one.
      while (p + 1 < pattern.length && pattern[p + 1] === '#') p++;
      if (p + 1 === pattern.length) return true;
      for (let skip = w; skip <= words.length; skip++) {
        if (matchWords(pattern, p + 1, words, skip)) return true;
      }
      return false;
    }
    if (w >= words.length) return false;
    if (token !== '*' && token !== words[w]) return false;
    p++;
    w++;
  }
  return w === words.length;
}
