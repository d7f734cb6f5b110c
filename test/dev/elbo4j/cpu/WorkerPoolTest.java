package dev.elbo4j.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;

/**
 * The pool runs every item of every task exactly once and returns only when all are done, also when tasks of
 * different sizes and chunkings follow each other as fast as they can. (A worker waking late for one task once could
 * claim a chunk with the next task's count and let {@code run} return early, which made a training run differ in
 * its last bits about one time in ten; that race needs a worker descheduled at one instant, and this test does not
 * reproduce it on demand: it checks the bookkeeping that the fix in {@link WorkerPool} keeps.)
 */
class WorkerPoolTest {

    /** Counts how often each item ran; a second run of an item, or a missing one, is seen after {@code run}. */
    private static final class Counting extends WorkerPool.RangeTask {
        final int[] counts;

        Counting(int items) {
            counts = new int[items];
        }

        @Override
        void run(int from, int to, int worker) {
            for (int i = from; i < to; i++) {
                counts[i]++;
            }
        }
    }

    @Test
    void everyItemRunsExactlyOnceBeforeRunReturns() {
        try (WorkerPool pool = new WorkerPool(3)) {
            Counting small = new Counting(6);
            Counting large = new Counting(1000);
            for (int round = 1; round <= 20_000; round++) {
                Counting task = round % 3 == 0 ? small : large;
                int chunk = task == small ? 1 : 1 + round % 97;
                pool.run(task, task.counts.length, chunk, Long.MAX_VALUE);
                int expected = task == small ? round / 3 : round - round / 3;
                for (int i = 0; i < task.counts.length; i++) {
                    if (task.counts[i] != expected) {
                        fail("round " + round + ": item " + i + " ran " + task.counts[i] + " times, not " + expected);
                    }
                }
            }
            assertEquals(20_000 / 3, small.counts[0]);
        }
    }
}
