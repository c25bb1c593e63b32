// Bounds the machine can honour (issue 19: every option has one). Why each, in sentences:
// - A DNS name is at most 253 characters (RFC 1035 §2.3.4); a path at most PATH_MAX (4096 with
//   its NUL) on Linux, or every open of it fails.
// - The broker's name goes into every log line and every replication join: a 5 MB name was
//   copied into each. 255 bytes is what a host name label set allows, and plenty.
// - The LMDB map is reserved as virtual address space when the store opens: lmdb-js crashed the
//   process (SIGSEGV) at 64 TiB on x86-64, whose user space is 128 TiB. 16 TiB leaves room for
//   the rest of the process; the disk and `ulimit -v` are checked at startup (host-limits.ts).
export const HOST_NAME_BYTES_MAX = 253;
export const PATH_BYTES_MAX = 4095;
export const URL_BYTES_MAX = 4096;
export const BROKER_NAME_BYTES_MAX = 255;
export const USER_NAME_BYTES_MAX = 255;
export const PASSWORD_BYTES_MAX = 1024;
export const STORE_MAP_SIZE_BYTES_MAX = 16 * 1024 ** 4;
/** Heartbeats and link checks more frequent than this cannot be kept under load: a 1 ms
 * heartbeat dropped every backup at once, and nothing worked. */
export const INTERVAL_MS_MIN = 100;
// Linux's default ceiling on open files per process (fs.nr_open): more connections than that
// can never be open.
export const CONNECTIONS_MAX = 1024 * 1024;
// Each unsettled delivery, and each whole message, is held in memory.
export const UNSETTLED_MAX = 1_000_000;
export const MESSAGE_BYTES_MAX = 1024 ** 3;
// A connection buffers a whole frame before it is decoded.
export const FRAME_BYTES_MAX = 16 * 1024 ** 2;
