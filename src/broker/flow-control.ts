// Producer flow control (qpidd's QueueFlowLimit, issue 14): a queue that fills past its stop
// threshold is "flow-stopped" until it drains below its resume threshold. The thresholds come
// from the qpid.flow_* declare arguments, or default to a percentage of the queue's limits
// (--default-flow-stop-threshold, --default-flow-resume-threshold). The gap between the two is
// the hysteresis that keeps a queue near its threshold from flapping.
//
// What a stopped queue does to its producers is the AMQP layer's business (it withholds link
// credit, src/amqp/producer-flow.ts); here is only the arithmetic. Pure.

export interface FlowThresholds {
  /** Stop at this many messages (null: no count threshold). */
  readonly stopCount: number | null;
  /** Resume below this many messages. */
  readonly resumeCount: number | null;
  readonly stopBytes: number | null;
  readonly resumeBytes: number | null;
}

export interface FlowDefaults {
  /** Percent of qpid.max_count / qpid.max_size at which a queue stops its producers (0: never). */
  readonly stopPercent: number;
  /** Percent at which it resumes them. */
  readonly resumePercent: number;
}

export interface FlowArguments {
  readonly maxCount: number | null;
  readonly maxSizeBytes: number | null;
  readonly flowStopCount?: number | undefined;
  readonly flowResumeCount?: number | undefined;
  readonly flowStopSize?: number | undefined;
  readonly flowResumeSize?: number | undefined;
}

export class FlowArgumentError extends Error {}

/** One dimension (count or bytes): explicit values win; otherwise percentages of the limit.
 * An explicit stop of 0 turns the dimension off, as in qpidd. */
function dimension(
  limit: number | null,
  stop: number | undefined,
  resume: number | undefined,
  defaults: FlowDefaults,
  names: { stop: string; resume: string },
): { stop: number | null; resume: number | null } {
  let stopAt: number | null;
  if (stop !== undefined) stopAt = stop === 0 ? null : stop;
  else stopAt = limit !== null && defaults.stopPercent > 0 ? Math.max(1, Math.floor((limit * defaults.stopPercent) / 100)) : null;
  if (stopAt === null) {
    if (resume !== undefined && resume > 0) throw new FlowArgumentError(`${names.resume}=${resume} is set but there is no ${names.stop}: nothing would stop the flow`);
    return { stop: null, resume: null };
  }
  let resumeAt: number;
  if (resume !== undefined) resumeAt = resume;
  else if (stop === undefined && limit !== null) resumeAt = Math.floor((limit * defaults.resumePercent) / 100);
  // An explicit stop without a resume: the default proportion of it.
  else resumeAt = defaults.stopPercent > 0 ? Math.floor((stopAt * defaults.resumePercent) / defaults.stopPercent) : stopAt;
  if (resumeAt > stopAt) throw new FlowArgumentError(`${names.resume}=${resumeAt} is above ${names.stop}=${stopAt}: the queue would stop and resume at once`);
  if (limit !== null && stopAt > limit) throw new FlowArgumentError(`${names.stop}=${stopAt} is above the queue's limit ${limit}: the limit would refuse messages before the flow stopped`);
  return { stop: stopAt, resume: resumeAt };
}

/** The thresholds of a queue, or null when it has none. Throws FlowArgumentError on arguments
 * that contradict each other. */
export function flowThresholds(args: FlowArguments, defaults: FlowDefaults): FlowThresholds | null {
  const count = dimension(args.maxCount, args.flowStopCount, args.flowResumeCount, defaults, { stop: 'qpid.flow_stop_count', resume: 'qpid.flow_resume_count' });
  const bytes = dimension(args.maxSizeBytes, args.flowStopSize, args.flowResumeSize, defaults, { stop: 'qpid.flow_stop_size', resume: 'qpid.flow_resume_size' });
  if (count.stop === null && bytes.stop === null) return null;
  return { stopCount: count.stop, resumeCount: count.resume, stopBytes: bytes.stop, resumeBytes: bytes.resume };
}

/** Whether the queue is stopped after its depth became `count` messages and `bytes` bytes:
 * it stops when either reaches its stop threshold, and resumes only when both are below their
 * resume thresholds. */
export function nextFlowStopped(stopped: boolean, count: number, bytes: number, t: FlowThresholds): boolean {
  if (!stopped) return (t.stopCount !== null && count >= t.stopCount) || (t.stopBytes !== null && bytes >= t.stopBytes);
  const countLow = t.resumeCount === null || count < t.resumeCount || (t.resumeCount === 0 && count === 0);
  const bytesLow = t.resumeBytes === null || bytes < t.resumeBytes || (t.resumeBytes === 0 && bytes === 0);
  return !(countLow && bytesLow);
}
