// The status a management answer carries for an error code, the same on both transports (the
// AMQP node's `status` application property and the HTTP status line): the code itself, stable,
// travels in the answer's body.

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  NOT_ALLOWED: 403,
  UNAUTHORIZED: 403,
  RESOURCE_LOCKED: 403,
  NOT_FOUND: 404,
  REPLICA_SOURCE_NO_QUEUE: 404,
  PRECONDITION_FAILED: 409,
  REPLICA_NOT_EMPTY: 409,
  RESPONSE_TOO_LARGE: 413,
  REPLICA_SOURCE_UNREACHABLE: 502,
};

/** 500 for a code not listed (a bug, or a store failure). */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** The answer to send instead of `body` when it is larger than any answer may be. */
export function oversizedAnswer(bytes: number, limitBytes: number): { status: number; description: string; body: { code: string } } {
  return {
    status: statusForCode('RESPONSE_TOO_LARGE'),
    description: `the answer would be ${bytes} bytes, more than the ${limitBytes} a management answer may be: listings are paged (after, limit); ask for a smaller page`,
    body: { code: 'RESPONSE_TOO_LARGE' },
  };
}
