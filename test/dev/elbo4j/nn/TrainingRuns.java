package dev.elbo4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.elbo4j.data.Idx;
import dev.elbo4j.reference.TestRandom;

/** What the training tests of every backend share: random data, a whole run's result, and the guard's check. */
public final class TrainingRuns {

    private TrainingRuns() {
    }

    /** Random 8-bit images of {@code side} x {@code side} pixels. */
    public static Idx.Images randomImages(TestRandom random, int count, int side) {
        return new Idx.Images(count, side, side, random.pixels(count * side * side));
    }

    /** Parameters, both moments and the step state after training. */
    public record Run(float[] parameters, float[] firstMoments, float[] secondMoments, StepStatus status) {
    }

    /** Trains a fresh {@code spec} model on {@code backend} for {@code epochs} epochs. */
    public static Run train(Backend backend, VaeSpec spec, Idx.Images images, TrainingOptions options, int epochs) {
        try (Vae vae = Vae.create(spec, backend); Trainer trainer = Trainer.create(vae, images, options)) {
            trainer.train(epochs, new TrainingListener() {
            });
            TrainingState state = trainer.state();
            return new Run(vae.parameters(), state.firstMoments(), state.secondMoments(), state.status());
        }
    }

    /** The same bits in the parameters and both moments (NaN payloads included), and the same step state. */
    public static void assertSameBits(String what, Run expected, Run actual) {
        assertArrayEquals(bits(expected.parameters()), bits(actual.parameters()), what + ": parameters");
        assertArrayEquals(bits(expected.firstMoments()), bits(actual.firstMoments()), what + ": first moments");
        assertArrayEquals(bits(expected.secondMoments()), bits(actual.secondMoments()), what + ": second moments");
        assertEquals(expected.status(), actual.status(), what + ": step state");
    }

    /** The raw bits of each float. */
    public static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }

    /**
     * The non-finite guard on {@code backend}: after an epoch of training (batches of 8), a NaN planted in element
     * {@code element} of parameter tensor {@code tensor} makes every later step non-finite; the guard skips each,
     * leaving the parameters, the moments and the update count untouched while the step counter advances, and
     * training stops after {@code maxSkippedInARow} such steps with a {@link TrainingDivergedException}.
     */
    public static void assertGuardSkipsEveryStep(Backend backend, VaeSpec spec, Idx.Images images, String tensor,
                                                 int element, int maxSkippedInARow) {
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(8).withProgressEvery(1)
                .withMaxSkippedInARow(maxSkippedInARow);
        try (Vae vae = Vae.create(spec, backend); Trainer trainer = Trainer.create(vae, images, options)) {
            trainer.train(1, new TrainingListener() {
            });
            float[] poisoned = vae.parameters();
            poisoned[(int) vae.layout().tensors().get(tensor).offset() + element] = Float.NaN;
            vae.setParameters(poisoned);
            TrainingState before = trainer.state();
            // Every epoch has a step at least, so these epochs hold more steps than the guard allows.
            TrainingDivergedException diverged = assertThrows(TrainingDivergedException.class,
                    () -> trainer.train(2 + maxSkippedInARow, new TrainingListener() {
                    }));
            assertTrue(diverged.getMessage().contains(maxSkippedInARow + " steps in a row"), diverged.getMessage());
            assertArrayEquals(bits(poisoned), bits(vae.parameters()), "parameters");
            TrainingState after = trainer.state();
            assertArrayEquals(bits(before.firstMoments()), bits(after.firstMoments()), "first moments");
            assertArrayEquals(bits(before.secondMoments()), bits(after.secondMoments()), "second moments");
            assertEquals(before.status().updates(), after.status().updates(), "updates");
            assertEquals(maxSkippedInARow, after.status().skipped(), "skipped");
            assertEquals(before.status().step() + maxSkippedInARow, after.status().step(), "steps");
        }
    }
}
