package dev.elbo4j.cli;

/** How an interrupt (Ctrl-C, or a polite kill) reaches a running command. */
@FunctionalInterface
interface Interrupts {

    /**
     * Arranges for {@code onInterrupt} to run, on another thread, when the process is interrupted, until the
     * returned registration is closed. {@code onInterrupt} may block: the process waits for it before exiting.
     */
    Registration register(Runnable onInterrupt);

    /** An arrangement of {@link #register} to undo. */
    @FunctionalInterface
    interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    /** Never delivers an interrupt (for runs driven from code). */
    static Interrupts ignoring() {
        return onInterrupt -> () -> { };
    }

    /**
     * Through a JVM shutdown hook: SIGINT (Ctrl-C), SIGTERM and SIGHUP start the JVM's shutdown, which runs the
     * hook and waits for it; the process then exits with 128 + the signal (130 for Ctrl-C).
     */
    static Interrupts shutdownHook() {
        return onInterrupt -> {
            Thread hook = new Thread(onInterrupt, "elbo4j-interrupt");
            Runtime.getRuntime().addShutdownHook(hook);
            return () -> {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shutdownUnderWay) {
                    // The hook is running or has run: there is nothing left to undo.
                }
            };
        };
    }
}
