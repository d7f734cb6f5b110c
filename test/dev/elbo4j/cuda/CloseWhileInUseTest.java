package dev.elbo4j.cuda;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Probes for the two ways a Java caller could crash the JVM through elbo4j, each run many times (and again under
 * the AddressSanitizer emulator with {@code mvn -Pasan verify}): closing a buffer while another thread launches a
 * kernel on it or copies into it (the closed-check and the enqueue were not atomic: a SIGSEGV in the kernel, a
 * heap-use-after-free under ASan), and a raw launch given a number where the kernel takes a device pointer. Each
 * must end in a Java exception or a completed call, never in a crash.
 */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class CloseWhileInUseTest {
    /** Rounds of each race: enough to land the close inside the launch's check-to-enqueue window many times. */
    private static final int ROUNDS = 300;
    /**
     * 256 KiB: above the mmap threshold the pom sets for the test JVM, so the plain emulator's freed memory is
     * unmapped at once and a use after free faults instead of writing stale heap.
     */
    private static final long FLOATS = 1L << 16;
    /** The elements each launch writes: few, so launches are quick and many race each close. */
    private static final long WRITTEN = 1024;

    private final CudaContext cuda;
    private final CudaFunction fill;
    private final long seed = Seeds.next();

    CloseWhileInUseTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fill = cuda.kernels().function("elbo4j_fill_f32", POINTER, FLOAT, LONG);
    }

    @Test
    void closingABufferWhileAnotherThreadLaunchesOnItNeverCrashes() throws InterruptedException {
        race(buffer -> fill.launch(null, 4, 256, buffer, 1f, WRITTEN));
    }

    @Test
    void closingABufferWhileAnotherThreadLaunchesOnAViewOfItNeverCrashes() throws InterruptedException {
        race(buffer -> fill.launch(null, 4, 256, buffer.sliceFloats(WRITTEN, WRITTEN), 1f, WRITTEN));
    }

    @Test
    void closingABufferWhileAnotherThreadCopiesAndFillsItNeverCrashes() throws InterruptedException {
        float[] values = new float[(int) WRITTEN];
        race(buffer -> {
            buffer.sliceFloats(0, WRITTEN).copyFrom(values);
            buffer.sliceFloats(WRITTEN, WRITTEN).fillFloats(2f);
            buffer.sliceFloats(0, WRITTEN).copyTo(values);
        });
    }

    /**
     * One round: a second thread uses the buffer in a loop while this one closes it after a random pause. The user
     * must stop with "is closed" (an IllegalStateException), having completed every call before it.
     */
    private void race(Consumer<DeviceBuffer> use) throws InterruptedException {
        Random random = new Random(seed);
        int refusedAfterClose = 0;
        for (int round = 0; round < ROUNDS; round++) {
            DeviceBuffer buffer = cuda.allocateFloats(FLOATS);
            CountDownLatch started = new CountDownLatch(1);
            AtomicReference<Throwable> ended = new AtomicReference<>();
            Thread user = Thread.ofPlatform().start(() -> {
                try {
                    while (true) {
                        use.accept(buffer);
                        started.countDown();
                    }
                } catch (Throwable e) {
                    ended.set(e);
                    started.countDown();
                }
            });
            started.await();
            if (random.nextBoolean()) {
                Thread.onSpinWait();
            } else {
                Thread.sleep(0, random.nextInt(50_000));
            }
            buffer.close();
            user.join();
            Throwable thrown = ended.get();
            if (!(thrown instanceof IllegalStateException closed) || !closed.getMessage().contains("closed")) {
                fail("round " + round + " (seed " + seed + "): the user thread ended with " + thrown
                        + " instead of an IllegalStateException for the closed buffer", thrown);
            }
            refusedAfterClose++;
        }
        assertEquals(ROUNDS, refusedAfterClose);
    }

    @Test
    void aNumberWhereTheKernelTakesAPointerIsRefusedNotDereferenced() {
        try (DeviceBuffer out = cuda.allocateFloats(WRITTEN)) {
            for (int round = 0; round < ROUNDS; round++) {
                // Before the declared parameters, a Long of a pointer's size was accepted and written to by the kernel.
                long address = round == 0 ? out.address() : 0x1000L * round;
                IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                        () -> fill.launch(null, 1, 256, address, 1f, WRITTEN));
                assertTrue(refused.getMessage().contains("declared POINTER")
                        && refused.getMessage().contains("never from a number"), refused.getMessage());
            }
        }
    }

    @Test
    void aModuleClosedWhileAnotherThreadLaunchesFromItNeverCrashes() throws InterruptedException {
        try (CudaContext context = CudaRuntime.get().openContext(0);
             DeviceBuffer ownOut = context.allocateFloats(WRITTEN)) {
            for (int round = 0; round < ROUNDS / 10; round++) {
                CudaModule module = context.kernels();
                CudaFunction function = module.function("elbo4j_fill_f32", POINTER, FLOAT, LONG);
                AtomicReference<Throwable> ended = new AtomicReference<>();
                CountDownLatch started = new CountDownLatch(1);
                Thread user = Thread.ofPlatform().start(() -> {
                    try {
                        while (true) {
                            function.launch(null, 4, 256, ownOut, 1f, WRITTEN);
                            started.countDown();
                        }
                    } catch (Throwable e) {
                        ended.set(e);
                        started.countDown();
                    }
                });
                started.await();
                module.close();
                user.join();
                assertTrue(ended.get() instanceof IllegalStateException, "round " + round + ": " + ended.get());
            }
        }
    }
}
