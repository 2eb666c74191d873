/** A small typed event emitter: `on` returns the function that unsubscribes. */
export declare class Emitter<Events extends object> {
    private readonly listeners;
    on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): () => void;
    emit<K extends keyof Events>(type: K, payload: Events[K]): void;
}
