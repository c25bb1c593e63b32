// The crash-recovery suite (crash-suite.ts), part 1 of 2: the schedule check, the sabotage run, and the standalone, primary-kill and total-failure scenarios.
import { crashSuite } from './crash-suite.js';

crashSuite(1);
