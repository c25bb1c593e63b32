// The history format lives in tools/lib/history.ts (qpid-send/qpid-receive --history write it,
// qpid-check-history reads it); the crash suite imports it from here as before.
export * from '../../../tools/lib/history.js';
