// The history checker lives in tools/lib/history-checker.ts (qpid-check-history uses it); the
// crash suite imports it from here as before.
export * from '../../../tools/lib/history-checker.js';
