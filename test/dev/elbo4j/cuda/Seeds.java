package dev.elbo4j.cuda;

/**
 * Seeds for random test data: fresh per run (System.nanoTime()) unless {@code -Delbo4j.test.seed=N} replays
 * a failure. Tests put the seed in every failure message.
 */
final class Seeds {
    private Seeds() {
    }

    static long next() {
        String fixed = System.getProperty("elbo4j.test.seed", "").strip();
        return fixed.isEmpty() ? System.nanoTime() : Long.parseLong(fixed);
    }
}
