/**
 * The connection's state machine, as a pure transition function so that every edge is written
 * down and tested:
 *
 * ```text
 * Disconnected --connect--> Connecting --opened--> Connected
 * Connecting   --lost-----> Reconnecting           (the first connect also retries)
 * Connected    --lost-----> Reconnecting --opened--> Connected
 * Reconnecting --lost-----> Reconnecting           (another attempt failed; wait and retry)
 * any          --stop-----> Disconnected
 * ```
 */
export type ConnectionState = "Disconnected" | "Connecting" | "Connected" | "Reconnecting";
export type ConnectionEvent = "connect" | "opened" | "lost" | "stop";
/** The next state, or `undefined` when the event is not valid in `state` (it is then ignored). */
export declare function transition(state: ConnectionState, event: ConnectionEvent): ConnectionState | undefined;
