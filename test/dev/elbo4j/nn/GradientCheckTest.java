package dev.elbo4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cpu.CpuTestSupport;
import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.nn.ParameterLayout.Layer;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Philox;
import dev.elbo4j.reference.TestRandom;

/**
 * The whole model's gradient on the CPU backend (every layer's backward, the latent backward with its KL weights,
 * both likelihoods) against central finite differences of the loss evaluated in double precision by plain loops
 * here, with the same Philox noise: for every activation and every likelihood, with K = 2, warm-up and free bits.
 */
@ExtendWith({CpuTestSupport.class, TestRandom.Extension.class})
class GradientCheckTest {
    private static final int DIMS = 7;
    private static final int LATENT = 3;
    private static final int BATCH = 5;
    private final CpuBackend backend;

    GradientCheckTest(CpuBackend backend) {
        this.backend = backend;
    }

    static Stream<Arguments> models() {
        Stream.Builder<Arguments> models = Stream.builder();
        for (Activation activation : List.of(Activation.RELU, Activation.TANH, Activation.LEAKY_RELU,
                Activation.SILU)) {
            for (Likelihood likelihood : Likelihood.values()) {
                models.add(Arguments.of(activation, likelihood));
            }
        }
        return models.build();
    }

    @ParameterizedTest
    @MethodSource("models")
    void theModelsGradientMatchesFiniteDifferences(Activation activation, Likelihood likelihood, TestRandom random) {
        boolean freeBits = likelihood == Likelihood.BERNOULLI;
        VaeSpec spec = VaeSpec.builder(DIMS, LATENT).encoderHidden(6, 4).decoderHidden(5).activation(activation)
                .likelihood(likelihood).fixedLogVariance(-0.5f).samples(2).beta(0.8f).klWarmupSteps(10)
                .freeBits(freeBits ? 0.3f : 0f).seed(random.nextLong()).build();
        ParameterLayout layout = ParameterLayout.of(spec);
        float[] parameters = Vae.initialParameters(layout);
        // Larger weights than nn.Linear's init, so that every activation works away from its linear part.
        for (int i = 0; i < parameters.length; i++) {
            parameters[i] *= 2.5f;
        }
        layout.logVariance().ifPresent(t -> {
            for (long i = 0; i < t.size(); i++) {
                parameters[(int) (t.offset() + i)] = (float) random.uniform(-1, 1);
            }
        });
        float[] x = random.uniforms(BATCH * DIMS, 0, 1);
        long step = 4 + random.nextInt(3); // inside the warm-up: beta = 0.8 * step / 10

        float[] gradient = new float[parameters.length];
        try (Vae vae = Vae.withParameters(spec, backend, parameters);
             Workspace work = new Workspace(backend, layout, BATCH, spec.samples(), true);
             Floats gradients = backend.allocateFloats(layout.totalFloats());
             Backend.StepState state = backend.allocateState()) {
            backend.upload(x, work.x);
            backend.writeState(state, StepStatus.initial().atStep(step));
            vae.bindGradients(gradients);
            vae.forwardBackward(work, state, gradients);
            backend.download(gradients, gradient);
            double loss = new DoubleModel(layout, x, step).loss(toDouble(parameters));
            assertEquals(loss, backend.readState(state).loss(), 1e-4 * Math.abs(loss) + 1e-4,
                    random.tag() + ": the backend's loss");
        }

        DoubleModel model = new DoubleModel(layout, x, step);
        double[] theta = toDouble(parameters);
        double[] numeric = new double[theta.length];
        double largest = 0;
        for (ParameterLayout.Tensor tensor : layout.tensors().values()) {
            for (long i = 0; i < tensor.size(); i++) {
                int n = (int) (tensor.offset() + i);
                double h = 1e-6 * Math.max(1.0, Math.abs(theta[n]));
                double saved = theta[n];
                theta[n] = saved + h;
                double plus = model.loss(theta);
                theta[n] = saved - h;
                double minus = model.loss(theta);
                theta[n] = saved;
                numeric[n] = (plus - minus) / (2 * h);
                largest = Math.max(largest, Math.abs(numeric[n]));
            }
        }
        for (ParameterLayout.Tensor tensor : layout.tensors().values()) {
            for (long i = 0; i < tensor.size(); i++) {
                int n = (int) (tensor.offset() + i);
                double tolerance = 1e-3 * Math.abs(numeric[n]) + 1e-4 * largest + 1e-6;
                if (!(Math.abs(gradient[n] - numeric[n]) <= tolerance)) {
                    fail(random.tag() + ": d loss / d " + tensor.name() + "[" + i + "] = " + gradient[n]
                            + " but finite differences give " + numeric[n] + " (" + spec.summary() + ")");
                }
            }
        }
    }

    private static double[] toDouble(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    /**
     * The training loss of the spec, in double, from the parameters: plain loops, the spec's formulas, the Philox
     * noise of step {@code step}.
     */
    private record DoubleModel(ParameterLayout layout, float[] x, long step) {

        double loss(double[] theta) {
            VaeSpec spec = layout.spec();
            int samples = spec.samples();
            double[][] h = new double[BATCH][];
            for (int b = 0; b < BATCH; b++) {
                double[] row = new double[DIMS];
                for (int d = 0; d < DIMS; d++) {
                    row[d] = x[b * DIMS + d];
                }
                for (Layer layer : layout.encoder()) {
                    row = dense(layer, theta, row);
                }
                h[b] = row;
            }
            double[] klDimension = new double[LATENT];
            double klMean = 0;
            for (int b = 0; b < BATCH; b++) {
                for (int l = 0; l < LATENT; l++) {
                    double mu = h[b][l];
                    double logvar = h[b][LATENT + l];
                    double kl = 0.5 * (mu * mu + Math.exp(logvar) - 1 - logvar);
                    klDimension[l] += kl / BATCH;
                    klMean += kl / BATCH;
                }
            }
            double logProbMean = 0;
            for (int k = 0; k < samples; k++) {
                for (int b = 0; b < BATCH; b++) {
                    double[] z = new double[LATENT];
                    for (int l = 0; l < LATENT; l++) {
                        float eps = Philox.normalAt(spec.seed(), (int) step, Philox.STREAM_REPARAMETERIZATION,
                                ((long) k * BATCH + b) * LATENT + l);
                        z[l] = h[b][l] + Math.exp(0.5 * h[b][LATENT + l]) * eps;
                    }
                    double[] row = z;
                    double[] hidden = null;
                    for (Layer layer : layout.decoder()) {
                        hidden = row;
                        row = dense(layer, theta, row);
                    }
                    double[] logVar = switch (spec.likelihood()) {
                        case GAUSSIAN_PER_ROW -> dense(layout.logVarianceHead().orElseThrow(), theta, hidden);
                        case GAUSSIAN_PER_DIMENSION -> {
                            ParameterLayout.Tensor t = layout.logVariance().orElseThrow();
                            double[] s = new double[DIMS];
                            for (int d = 0; d < DIMS; d++) {
                                s[d] = theta[(int) t.offset() + d];
                            }
                            yield s;
                        }
                        default -> null;
                    };
                    double logp = 0;
                    for (int d = 0; d < DIMS; d++) {
                        double target = x[b * DIMS + d];
                        if (spec.likelihood() == Likelihood.BERNOULLI) {
                            logp += target * row[d] - Bernoulli.softplus(row[d]);
                        } else {
                            double s = logVar == null ? spec.fixedLogVariance() : logVar[d];
                            double diff = target - row[d];
                            logp += -0.5 * (Math.log(2 * Math.PI) + s + diff * diff * Math.exp(-s));
                        }
                    }
                    logProbMean += logp / (samples * BATCH);
                }
            }
            double klTerm = klMean;
            if (spec.freeBits() > 0) {
                klTerm = 0;
                for (double dimension : klDimension) {
                    klTerm += Math.max(spec.freeBits(), dimension);
                }
            }
            return -logProbMean + spec.klSchedule().betaAt(step) * klTerm;
        }

        private static double[] dense(Layer layer, double[] theta, double[] input) {
            double[] out = new double[layer.outputs()];
            for (int o = 0; o < layer.outputs(); o++) {
                double sum = theta[(int) layer.bias().offset() + o];
                for (int i = 0; i < layer.inputs(); i++) {
                    sum += theta[(int) layer.weight().offset() + o * layer.inputs() + i] * input[i];
                }
                out[o] = layer.activation().apply(sum);
            }
            return out;
        }
    }
}
