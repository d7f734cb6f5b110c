package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.reference.Reparameterization;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;

/**
 * The latent kernels with their per-step values in device memory ({@link LatentKernels}'s offset-source and
 * KL-weights variants, which a captured training step uses): the offset read from a {@link DeviceStepState} gives
 * the noise of the same offset passed by value, and per-dimension KL weights give the reference's gradient with
 * each dimension's weight.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class LatentKernelsDeviceStateTest {
    private static final LatentShape[] SHAPES = {LatentShape.of(1, 1), LatentShape.of(5, 3).withSamples(2),
            LatentShape.of(33, 16), LatentShape.of(7, 8).withRowStride(19)};

    private final CudaContext cuda;
    private final LatentKernels kernels;

    LatentKernelsDeviceStateTest(CudaContext cuda) {
        this.cuda = cuda;
        this.kernels = new LatentKernels(cuda);
    }

    private static float[] encoderOutput(TestRandom random, LatentShape shape) {
        float[] out = random.normals(shape.batch() * shape.rowStride(), 1.5);
        float[] logvars = random.logvars(shape.batch() * shape.latent());
        for (int b = 0; b < shape.batch(); b++) {
            System.arraycopy(logvars, b * shape.latent(), out, b * shape.rowStride() + shape.latent(), shape.latent());
        }
        return out;
    }

    @Test
    void theForwardWithTheStatesOffsetEqualsTheForwardByValue(TestRandom random) {
        for (LatentShape shape : SHAPES) {
            long seed = random.nextLong();
            // Past 2^32: the offset is the step counter's low 32 bits.
            long step = (3L << 32) + random.nextInt(1 << 30);
            try (DeviceStepState state = DeviceStepState.allocate(cuda);
                 DeviceBuffer muLogvar = upload(cuda, encoderOutput(random, shape));
                 DeviceBuffer z1 = poisoned(cuda, shape.sampleElements());
                 DeviceBuffer kl1 = poisoned(cuda, shape.batch());
                 DeviceBuffer z2 = poisoned(cuda, shape.sampleElements());
                 DeviceBuffer kl2 = poisoned(cuda, shape.batch())) {
                state.write(StepStatus.initial().atStep(step));
                kernels.forward(null, shape, muLogvar, seed, (int) step, z1, kl1, null);
                kernels.forward(null, shape, muLogvar, seed, state.noiseOffset(), z2, kl2, null);
                assertBitIdentical(shape + ": z", z1.toFloatArray(), z2.toFloatArray());
                assertBitIdentical(shape + ": kl", kl1.toFloatArray(), kl2.toFloatArray());
            }
        }
    }

    @Test
    void theBackwardWithPerDimensionWeightsMatchesTheReference(TestRandom random) {
        for (LatentShape shape : SHAPES) {
            long seed = random.nextLong();
            int offset = random.nextInt(1 << 30);
            float[] muLogvar = encoderOutput(random, shape);
            float[] dz = random.normals((int) shape.sampleElements(), 1.0 / shape.batch());
            // Dimensions held by free bits get 0, the others beta / B.
            float weight = (float) (random.uniform(0.25, 2) / shape.batch());
            float[] weights = new float[shape.latent()];
            for (int l = 0; l < shape.latent(); l++) {
                weights[l] = random.nextInt(3) == 0 ? 0f : weight;
            }
            // The reference with kl weight beta * rowWeight = w * 1, per weight value, column by column.
            float[] withWeight = new float[muLogvar.length];
            float[] withoutWeight = new float[muLogvar.length];
            Reparameterization.backward(shape, muLogvar, dz, seed, offset, weight, 1f, withWeight);
            Reparameterization.backward(shape, muLogvar, dz, seed, offset, 0f, 1f, withoutWeight);
            float[] expected = new float[shape.batch() * 2 * shape.latent()];
            float[] actual = new float[expected.length];
            try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer ml = upload(cuda, muLogvar);
                 DeviceBuffer dzBuffer = upload(cuda, dz); DeviceBuffer weightBuffer = upload(cuda, weights);
                 DeviceBuffer grad = poisoned(cuda, shape.encoderElements())) {
                state.write(StepStatus.initial().atStep(offset));
                kernels.backward(null, shape, ml, dzBuffer, seed, state.noiseOffset(), weightBuffer, grad);
                float[] device = grad.toFloatArray();
                for (int b = 0; b < shape.batch(); b++) {
                    for (int c = 0; c < 2 * shape.latent(); c++) {
                        int at = b * shape.rowStride() + c;
                        float[] source = weights[c % shape.latent()] == 0f ? withoutWeight : withWeight;
                        expected[b * 2 * shape.latent() + c] = source[at];
                        actual[b * 2 * shape.latent() + c] = device[at];
                    }
                }
            }
            assertElementwise(shape + ": d[mu | logvar]", actual, expected);
        }
    }

    @Test
    void shortWeightsOrOffsetsAreRefused() {
        LatentShape shape = LatentShape.of(2, 4);
        try (DeviceBuffer ml = poisoned(cuda, 16); DeviceBuffer dz = poisoned(cuda, 8);
             DeviceBuffer weights = poisoned(cuda, 3); DeviceBuffer offset = cuda.allocate(4);
             DeviceBuffer grad = poisoned(cuda, 16)) {
            IllegalArgumentException shortWeights = assertThrows(IllegalArgumentException.class,
                    () -> kernels.backward(null, shape, ml, dz, 1L, offset, weights, grad));
            assertTrue(shortWeights.getMessage().contains("klWeights"), shortWeights.getMessage());
            IllegalArgumentException noOffset = assertThrows(IllegalArgumentException.class,
                    () -> kernels.forward(null, shape, ml, 1L, offset.slice(0, 2), grad.sliceFloats(0, 8), null,
                            null));
            assertTrue(noOffset.getMessage().contains("offsetSource"), noOffset.getMessage());
        }
    }
}
