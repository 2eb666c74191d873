/**
 * The WebSocket the client holds: the part of the platform's `WebSocket` it uses (so tests and
 * other runtimes can hand it their own), and the socket of one connection attempt.
 */
/** The part of the platform's `WebSocket` the client uses. */
export interface WebSocketLike {
    readonly readyState: number;
    onopen: ((event: unknown) => void) | null;
    onclose: ((event: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
    send(data: string): void;
    close(code?: number, reason?: string): void;
}
export type WebSocketFactory = new (url: string, protocols?: string | string[]) => WebSocketLike;
/** `WebSocket.OPEN`. */
export declare const OPEN = 1;
/** The socket of one connection attempt; `epoch` tells its events from a later attempt's. */
export interface Socket {
    ws: WebSocketLike;
    epoch: number;
}
