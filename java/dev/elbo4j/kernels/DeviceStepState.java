package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.POINTER;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.StepStatus;

/**
 * The per-step scalars of a training run in device memory ({@code kernels/step_state.cuh}), so that a training
 * step captured once as a CUDA graph replays with each step's own values: the kernels read the step counter (the
 * Philox offset), the batch cursor and the guard's decision from here and advance them here, instead of taking them
 * by value (a graph freezes arguments). The host's view is {@link StepStatus}: {@link #write} sets every value
 * between steps (a new run, a resume, an epoch start), {@link #read} returns them after the work enqueued so far.
 *
 * <p>Who writes what during a step: {@link LossTotalsKernels} (loss, ELBO, KL, beta, epoch sums),
 * {@link GradientNormKernels} (gradient norm), {@link AdamKernels} (the guard: updates, skips, and the update's
 * scalars), {@link #advance} (step counter and cursor, last). {@link GatherKernels} and the latent kernels read the
 * step counter and the cursor; {@link LossTotalsKernels} reads the step counter too (the KL warm-up's step).
 *
 * <p>The layout is little-endian, as on every CUDA device and host: the step counter's low 32 bits, the Philox
 * offset, are its first 4 bytes ({@link #noiseOffset()}).
 */
public final class DeviceStepState implements AutoCloseable {
    static final String ADVANCE = "elbo4j_step_advance";

    /** Bytes of the device layout ({@code sizeof(Elbo4jStepState)}). */
    public static final int BYTES = 112;
    // Byte offsets of the fields, as in kernels/step_state.cuh.
    private static final int STEP = 0;
    private static final int UPDATES = 8;
    private static final int CURSOR = 16;
    private static final int SKIPPED = 24;
    private static final int SKIPPED_IN_A_ROW = 32;
    private static final int SUMMED_STEPS = 40;
    private static final int LOSS_SUM = 48;
    private static final int ELBO_SUM = 56;
    private static final int KL_SUM = 64;
    private static final int LOSS = 72;
    private static final int ELBO = 76;
    private static final int KL = 80;
    private static final int BETA = 84;
    private static final int GRADIENT_NORM = 88;
    private static final int APPLY = 92;

    private final CudaContext context;
    private final DeviceBuffer buffer;
    private final CudaFunction advance;

    private DeviceStepState(CudaContext context, DeviceBuffer buffer) {
        this.context = context;
        this.buffer = buffer;
        // (state, rows)
        this.advance = context.kernels().function(ADVANCE, POINTER, INT);
    }

    /** Allocates a state in {@code context} holding {@link StepStatus#initial()}. */
    public static DeviceStepState allocate(CudaContext context) {
        Objects.requireNonNull(context, "context");
        DeviceBuffer buffer = context.allocate(BYTES);
        try {
            DeviceStepState state = new DeviceStepState(context, buffer);
            state.write(StepStatus.initial());
            return state;
        } catch (RuntimeException e) {
            buffer.close();
            throw e;
        }
    }

    /** The context the state lives in. */
    public CudaContext context() {
        return context;
    }

    /** The whole state, {@value #BYTES} bytes: the kernels' {@code Elbo4jStepState*} argument. */
    public DeviceBuffer buffer() {
        checkOpen();
        return buffer;
    }

    /**
     * A 4-byte view of the step counter's low 32 bits, the Philox offset of the current step's noise (for kernels
     * that read their offset from device memory).
     */
    public DeviceBuffer noiseOffset() {
        checkOpen();
        return buffer.slice(STEP, Integer.BYTES);
    }

    /**
     * Sets every value (a synchronous copy on the legacy default stream: it waits for earlier work, and later work
     * sees it). The guard's decision is cleared: no update is pending.
     */
    public void write(StepStatus status) {
        Objects.requireNonNull(status, "status");
        checkOpen();
        ByteBuffer bytes = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(STEP, status.step())
                .putLong(UPDATES, status.updates())
                .putLong(CURSOR, status.cursor())
                .putLong(SKIPPED, status.skipped())
                .putLong(SKIPPED_IN_A_ROW, status.skippedInARow())
                .putLong(SUMMED_STEPS, status.summedSteps())
                .putDouble(LOSS_SUM, status.lossSum())
                .putDouble(ELBO_SUM, status.elboSum())
                .putDouble(KL_SUM, status.klSum())
                .putFloat(LOSS, status.loss())
                .putFloat(ELBO, status.elbo())
                .putFloat(KL, status.kl())
                .putFloat(BETA, status.beta())
                .putFloat(GRADIENT_NORM, status.gradientNorm())
                .putInt(APPLY, 0);
        buffer.copyFrom(bytes.array());
    }

    /** The values after all work enqueued so far (a synchronous copy: it waits for the device). */
    public StepStatus read() {
        checkOpen();
        ByteBuffer bytes = ByteBuffer.wrap(buffer.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        return new StepStatus(bytes.getLong(STEP), bytes.getLong(UPDATES), bytes.getLong(CURSOR),
                bytes.getLong(SKIPPED), bytes.getLong(SKIPPED_IN_A_ROW), bytes.getFloat(LOSS), bytes.getFloat(ELBO),
                bytes.getFloat(KL), bytes.getFloat(BETA), bytes.getFloat(GRADIENT_NORM), bytes.getDouble(LOSS_SUM),
                bytes.getDouble(ELBO_SUM), bytes.getDouble(KL_SUM), bytes.getLong(SUMMED_STEPS));
    }

    /**
     * Ends a step on the device: the step counter grows by one (the next step's noise offset) and the cursor by
     * {@code rows} (the next batch). Enqueued on {@code stream} (null: the legacy default stream).
     *
     * @param rows the batch's rows, at least 0
     */
    public void advance(CudaStream stream, int rows) {
        LaunchChecks.stream(stream, context);
        if (rows < 0) {
            throw new IllegalArgumentException("rows must be at least 0 but is " + rows);
        }
        checkOpen();
        advance.launch(stream, 1, 1, buffer, rows);
    }

    /** Checks that this state is open and belongs to {@code kernelContext} (a launcher's). */
    void checkUsableIn(CudaContext kernelContext) {
        checkOpen();
        if (context != kernelContext) {
            throw new IllegalArgumentException("the step state belongs to another context than the kernels");
        }
    }

    /** Whether {@link #close()} was called (or the context closed). */
    public boolean isClosed() {
        return buffer.isClosed();
    }

    private void checkOpen() {
        if (buffer.isClosed()) {
            throw new IllegalStateException("the step state (" + buffer + ") is closed");
        }
    }

    /** Frees the state's device memory. Idempotent. */
    @Override
    public void close() {
        buffer.close();
    }
}
