/**
 * The WebSocket the client holds: the part of the platform's `WebSocket` it uses (so tests and
 * other runtimes can hand it their own), and the socket of one connection attempt.
 */
/** `WebSocket.OPEN`. */
export const OPEN = 1;
