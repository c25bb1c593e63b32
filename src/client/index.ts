// The client's public surface: connect(url, options) -> Connection; sender/receiver from it.
export { connect, Connection, type ConnectionStats, type ReceiverOptions, type SenderOptions } from './connection.js';
export { Sender, outcomeOf, type SendOutcome, type SenderStats } from './sender.js';
export { Receiver, type Delivery, type ReceiverStats } from './receiver.js';
export { ClientError, type AmqpCondition, type ClientErrorCode } from './errors.js';
export { parseAddress, terminusFor, nodeProperties, type NodeOptions, type ParsedAddress, type Terminus } from './address.js';
export { parseConnectionOptions, failoverPolicy, type ClientEvent, type ConnectOptions, type ReconnectOptions } from './options.js';
export { parseMap, MapSyntaxError, type MapObject, type MapValue } from './map-syntax.js';
