package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.reference.Adam;
import dev.elbo4j.reference.GradientNorm;
import dev.elbo4j.reference.TestRandom;

/**
 * The gradient norm ({@link GradientNormKernels}) and the guarded Adam update ({@link AdamKernels}) against the
 * reference ({@link GradientNorm}, {@link Adam}) on fresh random inputs: Adam, AdamW, Adam's L2 penalty, clipping
 * that scales and clipping that does not, sizes around the norm's block size, and the guard: a planted NaN or
 * infinity leaves parameters and moments bit for bit unchanged and is counted.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class AdamKernelsTest {
    private final CudaContext cuda;
    private final GradientNormKernels norm;
    private final AdamKernels adam;

    AdamKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.norm = new GradientNormKernels(cuda);
        this.adam = new AdamKernels(cuda);
    }

    private float deviceNorm(float[] gradients, DeviceStepState state) {
        try (DeviceBuffer g = upload(cuda, gradients);
             DeviceBuffer workspace = cuda.allocate(GradientNormKernels.workspaceBytes(gradients.length))) {
            workspace.fillBytes((byte) 0xff);
            norm.compute(null, gradients.length, g, workspace, state);
            return state.read().gradientNorm();
        }
    }

    @Test
    void theNormMatchesTheReference(TestRandom random) {
        try (DeviceStepState state = DeviceStepState.allocate(cuda)) {
            for (int count : new int[] {1, 3, 2047, 2048, 2049, 100_003, 1_100_000}) {
                float[] g = random.normals(count, random.uniform(1e-4, 10));
                float expected = (float) GradientNorm.l2(g);
                float actual = deviceNorm(g, state);
                assertElementwise("norm of " + count + " gradients", new float[] {actual}, new float[] {expected});
                assertBitIdentical("norm of " + count + " gradients, second run", new float[] {actual},
                        new float[] {deviceNorm(g, state)});
            }
        }
    }

    @Test
    void aNonFiniteGradientMakesTheNormNonFinite(TestRandom random) {
        try (DeviceStepState state = DeviceStepState.allocate(cuda)) {
            float[] g = random.normals(5000, 1.0);
            g[random.nextInt(g.length)] = Float.NaN;
            assertTrue(Float.isNaN(deviceNorm(g, state)), random.tag());
            g = random.normals(5000, 1.0);
            g[random.nextInt(g.length)] = Float.NEGATIVE_INFINITY;
            assertEquals(Float.POSITIVE_INFINITY, deviceNorm(g, state), random.tag());
        }
    }

    /** A status ready for Adam step t: finite loss, the given norm. */
    private static StepStatus ready(long t, float gradientNorm) {
        return new StepStatus(t + 2, t - 1, 0, 3, 0, 1.5f, -1.5f, 0.5f, 1f, gradientNorm, 0, 0, 0, 0);
    }

    @Test
    void anUpdateMatchesTheReference(TestRandom random) {
        int count = 3001;
        List<AdamSettings> settings = List.of(
                AdamSettings.defaults(),
                AdamSettings.defaults().withLearningRate(3e-3f).withWeightDecay(0.05f, true),
                AdamSettings.defaults().withWeightDecay(0.01f, false),
                AdamSettings.defaults().withMaxGradNorm(0.5f),
                AdamSettings.defaults().withMaxGradNorm(1e6f));
        for (AdamSettings setting : settings) {
            long t = 1 + random.nextInt(2000);
            float[] params = random.normals(count, 0.1);
            float[] grads = random.normals(count, 0.05);
            float[] m = random.normals(count, 0.01);
            float[] v = random.uniforms(count, 0, 1e-3);
            float gradNorm = (float) GradientNorm.l2(grads);
            float[] expectedParams = params.clone();
            float[] expectedM = m.clone();
            float[] expectedV = v.clone();
            Adam.step(setting, t, Adam.clipScale(setting, gradNorm), expectedParams, grads, expectedM, expectedV);
            try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer p = upload(cuda, params);
                 DeviceBuffer g = upload(cuda, grads); DeviceBuffer mBuffer = upload(cuda, m);
                 DeviceBuffer vBuffer = upload(cuda, v)) {
                state.write(ready(t, gradNorm));
                adam.update(null, count, g, setting, state, p, mBuffer, vBuffer);
                String where = setting + " t=" + t;
                assertElementwise(where + ": parameters", p.toFloatArray(), expectedParams);
                assertElementwise(where + ": first moments", mBuffer.toFloatArray(), expectedM);
                assertElementwise(where + ": second moments", vBuffer.toFloatArray(), expectedV);
                StepStatus after = state.read();
                assertEquals(t, after.updates(), where + ": updates");
                assertEquals(0, after.skippedInARow(), where + ": skipped in a row");
                assertEquals(3, after.skipped(), where + ": skipped");
            }
        }
    }

    @Test
    void aNonFiniteLossOrNormSkipsTheUpdateAndCountsIt(TestRandom random) {
        int count = 777;
        AdamSettings settings = AdamSettings.defaults();
        float[] params = random.normals(count, 0.1);
        float[] m = random.normals(count, 0.01);
        float[] v = random.uniforms(count, 0, 1e-3);
        float[] grads = random.normals(count, 0.05);
        grads[random.nextInt(count)] = Float.NaN;
        try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer p = upload(cuda, params);
             DeviceBuffer g = upload(cuda, grads); DeviceBuffer mBuffer = upload(cuda, m);
             DeviceBuffer vBuffer = upload(cuda, v);
             DeviceBuffer workspace = cuda.allocate(GradientNormKernels.workspaceBytes(count))) {
            state.write(ready(5, 0f));
            // A planted NaN gradient: the norm is NaN, the update is skipped.
            norm.compute(null, count, g, workspace, state);
            adam.update(null, count, g, settings, state, p, mBuffer, vBuffer);
            // A non-finite loss with finite gradients: skipped as well.
            state.write(new StepStatus(9, 4, 0, 1, 1, Float.POSITIVE_INFINITY, 0, 0, 1, 2f, 0, 0, 0, 0));
            adam.update(null, count, g, settings, state, p, mBuffer, vBuffer);
            assertBitIdentical("parameters after skipped steps", params, p.toFloatArray());
            assertBitIdentical("first moments after skipped steps", m, mBuffer.toFloatArray());
            assertBitIdentical("second moments after skipped steps", v, vBuffer.toFloatArray());
            StepStatus skipped = state.read();
            assertEquals(4, skipped.updates(), "the update count stays");
            assertEquals(2, skipped.skipped(), "skipped");
            assertEquals(2, skipped.skippedInARow(), "skipped in a row");
            // The next finite step applies and resets the run of skips.
            g.copyFrom(random.normals(count, 0.05));
            state.write(new StepStatus(10, 4, 0, 2, 2, 1f, -1f, 0, 1, 0.1f, 0, 0, 0, 0));
            adam.update(null, count, g, settings, state, p, mBuffer, vBuffer);
            StepStatus applied = state.read();
            assertEquals(5, applied.updates(), "updates after an applied step");
            assertEquals(0, applied.skippedInARow(), "skipped in a row after an applied step");
            assertEquals(2, applied.skipped(), "skipped in total after an applied step");
            assertTrue(!java.util.Arrays.equals(params, p.toFloatArray()), "the applied step moved the parameters");
        }
    }

    @Test
    void badArgumentsAreRefused() {
        try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer a = cuda.allocateFloats(16);
             DeviceBuffer b = cuda.allocateFloats(16); DeviceBuffer c = cuda.allocateFloats(16);
             DeviceBuffer shortBuffer = cuda.allocateFloats(15)) {
            AdamSettings settings = AdamSettings.defaults();
            IllegalArgumentException shortMoments = assertThrows(IllegalArgumentException.class,
                    () -> adam.update(null, 16, b, settings, state, a, c, shortBuffer));
            assertTrue(shortMoments.getMessage().contains("secondMoments"), shortMoments.getMessage());
            IllegalArgumentException aliased = assertThrows(IllegalArgumentException.class,
                    () -> adam.update(null, 16, b, settings, state, a, c, a));
            assertTrue(aliased.getMessage().contains("overlap"), aliased.getMessage());
            assertThrows(IllegalArgumentException.class, () -> norm.compute(null, 16, a, b.sliceFloats(0, 0), state));
            state.close();
            IllegalStateException closed = assertThrows(IllegalStateException.class,
                    () -> adam.update(null, 16, b, settings, state, a, c, shortBuffer));
            assertTrue(closed.getMessage().contains("step state"), closed.getMessage());
        }
    }
}
