// The crash-recovery suite (crash-suite.ts), part 2 of 2: the backup-kill, primary-hang and catch-up-kill scenarios (and the long schedule's mixed runs).
import { crashSuite } from './crash-suite.js';

crashSuite(2);
