package dev.elbo4j.bench;

import java.nio.file.Path;
import java.util.Locale;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.data.Idx;
import dev.elbo4j.data.ImageDataset;
import dev.elbo4j.nn.Evaluation;
import dev.elbo4j.nn.Evaluator;
import dev.elbo4j.nn.Trainer;
import dev.elbo4j.nn.TrainingListener;
import dev.elbo4j.nn.TrainingOptions;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;

/**
 * The PyTorch VAE example's setup (784-400-20, ReLU, Bernoulli on the un-binarized pixels, Adam 1e-3, batch 128)
 * trained on Fashion-MNIST by the CPU backend, timed by the trainer itself: per epoch the training steps per second,
 * the process's CPU time per step (robust to other load on the machine), the mean training loss and the test
 * negative ELBO (one sample per image, as the example's test loss), and at the end the IWAE estimate when asked.
 * The peer is {@code bench/pytorch/vae_train.py quality}.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp "target/test-classes:target/classes:$(cat cp.txt)" \
 *     dev.elbo4j.bench.CpuTraining [--epochs 1] [--threads 2] [--seed 1] [--iwae 0] [--data DIR]
 * </pre>
 * ({@code mvn dependency:build-classpath -Dmdep.outputFile=cp.txt} writes cp.txt.)
 */
public final class CpuTraining {

    private CpuTraining() {
    }

    /** The CPU time of this process so far, all threads (0 where the platform does not report it). */
    private static long processCpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
    }

    public static void main(String[] args) throws Exception {
        int epochs = 1;
        int threads = Runtime.getRuntime().availableProcessors();
        long seed = 1;
        int iwae = 0;
        Path data = Path.of("/usr/share/datasets/fashion-mnist");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--iwae" -> iwae = Integer.parseInt(args[++i]);
                case "--data" -> data = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (--epochs N --threads T --seed S --iwae K --data DIR)");
            }
        }
        Idx.Images train = ImageDataset.load(data, ImageDataset.Split.TRAIN).images();
        Idx.Images test = ImageDataset.load(data, ImageDataset.Split.TEST).images();
        VaeSpec spec = VaeSpec.builder(784, 20).encoderHidden(400).seed(seed).build();
        try (CpuBackend backend = CpuBackend.create(threads);
             Vae vae = Vae.create(spec, backend);
             Trainer trainer = Trainer.create(vae, train, TrainingOptions.defaults().withProgressEvery(1000))) {
            System.out.println(backend.description() + ", " + spec.summary() + ", batch 128, "
                    + trainer.stepsPerEpoch() + " steps an epoch");
            long[] cpuAfterLastEpoch = {processCpuNanos()};
            trainer.train(epochs, new TrainingListener() {
                @Override
                public void onEpochEnd(EpochResult result) {
                    // CPU time of the process (all threads) over the epoch's steps: the cost of a step whatever
                    // else the machine runs (the first epoch's includes the JIT compiling the step).
                    double cpuMs = (processCpuNanos() - cpuAfterLastEpoch[0]) / 1e6 / result.steps();
                    Evaluation evaluation = Evaluator.evaluate(vae, test, Evaluator.Options.defaults());
                    System.out.printf(Locale.ROOT, "epoch %d: train loss %.2f, test negative ELBO %.2f nats "
                                    + "(KL %.2f, %d active units), %.2f s (%.1f steps/s, %.2f ms CPU a step)%n",
                            result.epoch(), result.trainLoss(), -evaluation.elbo(), evaluation.kl(),
                            evaluation.activeUnits(), result.seconds(), result.stepsPerSecond(), cpuMs);
                    cpuAfterLastEpoch[0] = processCpuNanos();
                }
            });
            if (iwae > 0) {
                Evaluation evaluation = Evaluator.evaluate(vae, test, Evaluator.Options.defaults()
                        .withIwaeSamples(iwae));
                System.out.printf(Locale.ROOT, "test IWAE-%d log p(x) %.2f nats, ELBO %.2f, gap %.2f (%.1f s)%n",
                        iwae, evaluation.iwaeLogPx(), evaluation.elbo(), evaluation.gap(), evaluation.iwaeSeconds());
            }
        }
    }
}
