export { BrokerError, type BrokerErrorCode } from '../core/errors.js';
