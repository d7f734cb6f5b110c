package dev.elbo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.reference.TestRandom;

/** The device step state's layout: what the host writes it reads back, and {@link DeviceStepState#advance}. */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class DeviceStepStateTest {
    private final CudaContext cuda;

    DeviceStepStateTest(CudaContext cuda) {
        this.cuda = cuda;
    }

    private static StepStatus randomStatus(TestRandom random) {
        return new StepStatus(random.nextLong() >>> 2, random.nextLong() >>> 2, random.nextLong() >>> 2,
                random.nextInt(1000), random.nextInt(1000), (float) random.gaussian(), (float) random.gaussian(),
                (float) random.gaussian(), (float) random.uniform(0, 1), (float) random.uniform(0, 10),
                random.gaussian(), random.gaussian(), random.gaussian(), random.nextInt(100_000));
    }

    @Test
    void aWrittenStatusReadsBackUnchanged(TestRandom random) {
        try (DeviceStepState state = DeviceStepState.allocate(cuda)) {
            assertEquals(StepStatus.initial(), state.read(), "a new state");
            for (int i = 0; i < 5; i++) {
                StepStatus status = randomStatus(random);
                state.write(status);
                assertEquals(status, state.read());
            }
        }
    }

    @Test
    void advanceMovesTheStepByOneAndTheCursorByTheRows(TestRandom random) {
        try (DeviceStepState state = DeviceStepState.allocate(cuda)) {
            StepStatus status = randomStatus(random);
            state.write(status);
            int rows = 1 + random.nextInt(4096);
            state.advance(null, rows);
            state.advance(null, rows);
            StepStatus after = state.read();
            StepStatus expected = new StepStatus(status.step() + 2, status.updates(), status.cursor() + 2L * rows,
                    status.skipped(), status.skippedInARow(), status.loss(), status.elbo(), status.kl(), status.beta(),
                    status.gradientNorm(), status.lossSum(), status.elboSum(), status.klSum(), status.summedSteps());
            assertEquals(expected, after, "step + 2, cursor + 2 rows, everything else unchanged");
            assertThrows(IllegalArgumentException.class, () -> state.advance(null, -1));
        }
    }
}
