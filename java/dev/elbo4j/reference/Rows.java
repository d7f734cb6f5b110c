package dev.elbo4j.reference;

import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/** Runs a per-row body over all rows: in parallel when there is enough work to pay for it, else in order. */
final class Rows {

    /** Below this many elements in total, the fork-join overhead outweighs the work. */
    private static final long PARALLEL_THRESHOLD = 1 << 15;

    private Rows() {
    }

    /**
     * Calls {@code body} once for each row in [0, rows). Rows must be independent: each body writes only its
     * own row's outputs, so the result is the same in any order.
     */
    static void forEach(int rows, long elementsPerRow, IntConsumer body) {
        if (rows > 1 && rows * elementsPerRow >= PARALLEL_THRESHOLD) {
            IntStream.range(0, rows).parallel().forEach(body);
        } else {
            for (int row = 0; row < rows; row++) {
                body.accept(row);
            }
        }
    }
}
