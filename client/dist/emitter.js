/** A small typed event emitter: `on` returns the function that unsubscribes. */
export class Emitter {
    listeners = new Map();
    on(type, listener) {
        let set = this.listeners.get(type);
        if (set === undefined) {
            set = new Set();
            this.listeners.set(type, set);
        }
        set.add(listener);
        return () => {
            set.delete(listener);
        };
    }
    emit(type, payload) {
        const set = this.listeners.get(type);
        if (set === undefined)
            return;
        for (const listener of [...set]) {
            try {
                listener(payload);
            }
            catch (error) {
                // One listener's bug must not stop the others or the client's own bookkeeping.
                queueMicrotask(() => {
                    throw error;
                });
            }
        }
    }
}
