package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.Cublas;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.DenseShape;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * A float32 tensor at a byte offset that is not a multiple of 4 (a {@code slice(1, n)}) is refused in Java by every
 * launcher and by cuBLAS, naming the argument: a GPU faults on a misaligned float access with an error that kills
 * the context. Every launcher accepted it before (only {@code fillFloats} refused it). The same holds for the int32
 * and double arguments (a Philox offset word, a row order, a reduction workspace) at their own element size.
 */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class MisalignedBuffersTest {
    private static final int BATCH = 4;
    private static final int DIMS = 8;
    private static final int LATENT = 4;

    private final CudaContext cuda;

    MisalignedBuffersTest(CudaContext cuda) {
        this.cuda = cuda;
    }

    @Test
    void everyLauncherRefusesAFloatTensorOffByOneByte() {
        LatentShape latent = LatentShape.of(BATCH, LATENT);
        LikelihoodShape likelihood = LikelihoodShape.of(BATCH, DIMS);
        SampleShape rows = SampleShape.of(BATCH);
        try (DeviceBuffer backing = cuda.allocate(4096 + 1);
             DeviceBuffer muLogvar = poisoned(cuda, latent.encoderElements());
             DeviceBuffer z = poisoned(cuda, latent.sampleElements()); DeviceBuffer kl = poisoned(cuda, BATCH);
             DeviceBuffer logits = poisoned(cuda, likelihood.outputElements());
             DeviceBuffer x = poisoned(cuda, likelihood.dataElements()); DeviceBuffer logProb = poisoned(cuda, BATCH);
             DeviceBuffer totals = poisoned(cuda, ElboTotals.FLOATS)) {
            DeviceBuffer misaligned = backing.slice(1, 4096);
            LatentKernels latentKernels = new LatentKernels(cuda);
            BernoulliKernels bernoulli = new BernoulliKernels(cuda);
            GaussianKernels gaussian = new GaussianKernels(cuda);
            ElboReduction reduction = new ElboReduction(cuda);
            IwaeKernels iwae = new IwaeKernels(cuda);
            Map<String, Executable> calls = Map.of(
                    "muLogvar", () -> latentKernels.forward(null, latent, misaligned, 1L, 0, z, kl, null),
                    "z", () -> latentKernels.forward(null, latent, muLogvar, 1L, 0, misaligned, kl, null),
                    "logits", () -> bernoulli.lossAndGradient(null, likelihood, misaligned, x, TargetFormat.FLOAT32,
                            null, 1f, logProb, null),
                    "grad", () -> bernoulli.lossAndGradient(null, likelihood, logits, x, TargetFormat.FLOAT32, null,
                            1f, logProb, misaligned),
                    "mean", () -> gaussian.lossAndGradient(null, likelihood, misaligned, x,
                            new GaussianKernels.LogVariance.Fixed(0f), 1f, logProb, null, null, null),
                    "totals", () -> reduction.reduce(null, rows, logProb, kl, 1f, null, misaligned),
                    "bound", () -> iwae.bound(null, rows, logProb, kl, null, misaligned));
            for (Map.Entry<String, Executable> call : calls.entrySet()) {
                IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, call.getValue(),
                        call.getKey());
                assertTrue(refused.getMessage().startsWith(call.getKey() + " (")
                        && refused.getMessage().contains("not a multiple of 4 bytes"), refused.getMessage());
            }
            // Pixel data is bytes: any offset is fine for it.
            bernoulli.logProb(null, likelihood, logits, backing.slice(1, likelihood.dataElements()),
                    TargetFormat.PIXELS_U8, null, logProb);
            for (DeviceBuffer output : List.of(z, kl, totals)) {
                assertStillPoisoned("an output of a refused call", output.toFloatArray());
            }
        }
    }

    @Test
    void wordsAndDoublesAtAnAddressThatIsNotAMultipleOfTheirSizeAreRefused() {
        LatentShape latent = LatentShape.of(BATCH, LATENT);
        LikelihoodShape likelihood = LikelihoodShape.of(BATCH, DIMS);
        DenseShape twoChunks = new DenseShape(300, 1, 4);
        try (DeviceBuffer backing = cuda.allocate(256); DeviceStepState state = DeviceStepState.allocate(cuda);
             DeviceBuffer muLogvar = poisoned(cuda, latent.encoderElements());
             DeviceBuffer z = poisoned(cuda, latent.sampleElements());
             DeviceBuffer dataset = cuda.allocate((long) BATCH * DIMS);
             DeviceBuffer x = poisoned(cuda, likelihood.dataElements());
             DeviceBuffer dPre = poisoned(cuda, 1200); DeviceBuffer dBias = poisoned(cuda, 4)) {
            // A Philox offset word and int32 row indices one byte off; a double workspace 4 bytes off.
            Map<String, Executable> calls = Map.of(
                    "offsetSource", () -> new LatentKernels(cuda).forward(null, latent, muLogvar, 1L,
                            backing.slice(1, Integer.BYTES), z, null, null),
                    "order", () -> new GatherKernels(cuda).gather(null, likelihood, dataset, BATCH,
                            backing.slice(1, BATCH * Integer.BYTES), BATCH, state, false, 0L, x),
                    "workspace", () -> new BiasGradientKernels(cuda).compute(null, twoChunks, dPre,
                            backing.slice(Float.BYTES, 2 * 4 * Double.BYTES), dBias));
            Map<String, Integer> elementBytes = Map.of("offsetSource", Integer.BYTES, "order", Integer.BYTES,
                    "workspace", Double.BYTES);
            for (Map.Entry<String, Executable> call : calls.entrySet()) {
                IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, call.getValue(),
                        call.getKey());
                assertTrue(refused.getMessage().startsWith(call.getKey() + " (") && refused.getMessage().contains(
                        "not a multiple of " + elementBytes.get(call.getKey()) + " bytes"), refused.getMessage());
            }
            assertStillPoisoned("an output of a refused call", z.toFloatArray());
            assertStillPoisoned("an output of a refused call", x.toFloatArray());
            assertStillPoisoned("an output of a refused call", dBias.toFloatArray());
        }
    }

    @Test
    void cublasRefusesAMisalignedMatrix() {
        try (CudaStream stream = cuda.createStream(); Cublas cublas = CudaTestSupport.createCublasOrSkip(cuda, stream);
             DeviceBuffer backing = cuda.allocate(64 + 1); DeviceBuffer b = cuda.allocateFloats(4);
             DeviceBuffer c = cuda.allocateFloats(4)) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> cublas.sgemm(false, false, 2, 2, 2, 1f, backing.slice(1, 16), 2, b, 2, 0f, c, 2));
            assertTrue(refused.getMessage().contains("A") && refused.getMessage().contains("not a multiple of 4 bytes"),
                    refused.getMessage());
        }
    }
}
