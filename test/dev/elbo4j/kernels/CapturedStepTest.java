package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;

import java.util.function.Consumer;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaGraph;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The loss side of a training step (latent forward, Bernoulli loss and gradient with binarization, batch loss,
 * latent backward), fused and unfused, enqueued on a stream and captured into a CUDA graph: the launchers allocate
 * nothing per call, so the graph replays the step and gives the same bits as running it directly.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class CapturedStepTest {
    private static final int BATCH = 24;
    private static final int LATENT = 8;
    private static final int DIMS = 100;
    private static final LatentShape LATENT_SHAPE = LatentShape.of(BATCH, LATENT);
    private static final LikelihoodShape LIKELIHOOD_SHAPE = LikelihoodShape.of(BATCH, DIMS);
    private static final SampleShape ROWS = SampleShape.of(BATCH);

    private final CudaContext cuda;

    CapturedStepTest(CudaContext cuda) {
        this.cuda = cuda;
    }

    /** The step's device memory: inputs uploaded once, outputs poisoned before each run. */
    private record Step(DeviceBuffer muLogvar, DeviceBuffer logits, DeviceBuffer pixels, DeviceBuffer dz,
                        DeviceBuffer z, DeviceBuffer kl, DeviceBuffer logProb, DeviceBuffer grad, DeviceBuffer totals,
                        DeviceBuffer dMuLogvar) implements AutoCloseable {
        void poison() {
            for (DeviceBuffer output : new DeviceBuffer[] {z, kl, logProb, grad, totals, dMuLogvar}) {
                output.fillFloats(Float.NaN);
            }
        }

        float[][] outputs() {
            return new float[][] {z.toFloatArray(), kl.toFloatArray(), logProb.toFloatArray(), grad.toFloatArray(),
                    totals.toFloatArray(), dMuLogvar.toFloatArray()};
        }

        @Override
        public void close() {
            for (DeviceBuffer buffer : new DeviceBuffer[] {muLogvar, logits, pixels, dz, z, kl, logProb, grad, totals,
                    dMuLogvar}) {
                buffer.close();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void aCapturedStepReplaysWithTheSameBits(Path path, TestRandom random) {
        long seed = random.nextLong();
        int offset = random.nextInt(1 << 30);
        Binarization binarization = new Binarization(seed, offset);
        float rowWeight = 1f / BATCH;
        try (Step step = new Step(upload(cuda, random.normals(BATCH * 2 * LATENT, 1.0)),
                upload(cuda, random.logits(BATCH * DIMS)), upload(cuda, random.pixels(BATCH * DIMS)),
                upload(cuda, random.normals(BATCH * LATENT, rowWeight)), poisoned(cuda, BATCH * LATENT),
                poisoned(cuda, BATCH), poisoned(cuda, BATCH), poisoned(cuda, BATCH * DIMS),
                poisoned(cuda, ElboTotals.FLOATS), poisoned(cuda, BATCH * 2 * LATENT));
             CudaStream stream = cuda.createStream();
             UnfusedElbo unfused = new UnfusedElbo(cuda, LATENT_SHAPE, LIKELIHOOD_SHAPE)) {
            LatentKernels latent = new LatentKernels(cuda);
            BernoulliKernels bernoulli = new BernoulliKernels(cuda);
            ElboReduction reduction = new ElboReduction(cuda);
            Consumer<CudaStream> enqueue = switch (path) {
                case FUSED -> s -> {
                    latent.forward(s, LATENT_SHAPE, step.muLogvar(), seed, offset, step.z(), step.kl(), null);
                    bernoulli.lossAndGradient(s, LIKELIHOOD_SHAPE, step.logits(), step.pixels(),
                            TargetFormat.PIXELS_U8, binarization, rowWeight, step.logProb(), step.grad());
                    reduction.reduce(s, ROWS, step.logProb(), step.kl(), 1f, null, step.totals());
                    latent.backward(s, LATENT_SHAPE, step.muLogvar(), step.dz(), seed, offset, 1f, rowWeight,
                            step.dMuLogvar());
                };
                case UNFUSED -> s -> {
                    unfused.latentForward(s, LATENT_SHAPE, step.muLogvar(), seed, offset, step.z(), step.kl(), null);
                    unfused.bernoulliLossAndGradient(s, LIKELIHOOD_SHAPE, step.logits(), step.pixels(),
                            TargetFormat.PIXELS_U8, binarization, rowWeight, step.logProb(), step.grad());
                    unfused.elboReduce(s, ROWS, step.logProb(), step.kl(), 1f, null, step.totals());
                    unfused.latentBackward(s, LATENT_SHAPE, step.muLogvar(), step.dz(), seed, offset, 1f, rowWeight,
                            step.dMuLogvar());
                };
            };

            step.poison();
            enqueue.accept(stream);
            stream.synchronize();
            float[][] direct = step.outputs();

            try (CudaGraph graph = cuda.capture(stream, () -> enqueue.accept(stream))) {
                for (int replay = 0; replay < 2; replay++) {
                    step.poison();
                    graph.launch(stream);
                    stream.synchronize();
                    float[][] replayed = step.outputs();
                    String[] names = {"z", "kl", "logProb", "grad", "totals", "d[mu | logvar]"};
                    for (int i = 0; i < names.length; i++) {
                        assertBitIdentical(path + " replay " + replay + ": " + names[i], direct[i], replayed[i]);
                    }
                }
            }
        }
    }
}
