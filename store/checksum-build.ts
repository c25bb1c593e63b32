// Build flag: true in every build but the one bench/checksum-cost.ts makes to measure what
// checksums cost (it rewrites the compiled copy of this file). See checksum.ts.
export const CHECKSUMS_BUILT_IN: boolean = true;
