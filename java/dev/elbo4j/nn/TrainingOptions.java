package dev.elbo4j.nn;

import java.util.Objects;

/**
 * How a {@link Trainer} runs: batch size, optimizer, the non-finite guard and how often it reports.
 *
 * @param batchSize          B, rows per step; an epoch is {@code floor(N / B)} steps (the remainder of the shuffled
 *                           order is left for that epoch, so every step has the same shape)
 * @param adam               the optimizer's settings
 * @param maxSkippedInARow   training stops with {@link TrainingDivergedException} once this many steps in a row had
 *                           a non-finite loss or gradient norm
 * @param progressEverySteps the trainer reads the step state and calls
 *                           {@link TrainingListener#onProgress} every this many steps (and at an epoch's end); the
 *                           guard's count is checked then too
 */
public record TrainingOptions(int batchSize, AdamSettings adam, int maxSkippedInARow, int progressEverySteps) {

    /** Checks every value. */
    public TrainingOptions {
        if (batchSize < 1) {
            throw new IllegalArgumentException("the batch size must be at least 1 but is " + batchSize);
        }
        Objects.requireNonNull(adam, "adam");
        if (maxSkippedInARow < 1) {
            throw new IllegalArgumentException("maxSkippedInARow must be at least 1 but is " + maxSkippedInARow);
        }
        if (progressEverySteps < 1) {
            throw new IllegalArgumentException("progressEverySteps must be at least 1 but is " + progressEverySteps);
        }
    }

    /** The PyTorch example's: batch 128, Adam 1e-3; stop after 20 non-finite steps in a row; report every 25 steps. */
    public static TrainingOptions defaults() {
        return new TrainingOptions(128, AdamSettings.defaults(), 20, 25);
    }

    /** These options with batch size {@code batchSize}. */
    public TrainingOptions withBatchSize(int batchSize) {
        return new TrainingOptions(batchSize, adam, maxSkippedInARow, progressEverySteps);
    }

    /** These options with the optimizer's settings {@code adam}. */
    public TrainingOptions withAdam(AdamSettings adam) {
        return new TrainingOptions(batchSize, adam, maxSkippedInARow, progressEverySteps);
    }

    /** These options reporting every {@code steps} steps. */
    public TrainingOptions withProgressEvery(int steps) {
        return new TrainingOptions(batchSize, adam, maxSkippedInARow, steps);
    }

    /** These options stopping after {@code steps} non-finite steps in a row. */
    public TrainingOptions withMaxSkippedInARow(int steps) {
        return new TrainingOptions(batchSize, adam, steps, progressEverySteps);
    }
}
