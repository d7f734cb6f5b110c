package dev.elbo4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;
import dev.elbo4j.data.ImageDataset.Split;
import dev.elbo4j.gpu.BackendSelection.Choice;
import dev.elbo4j.gpu.BackendSelection.Selected;
import dev.elbo4j.io.Checkpoint;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.BinarizationMode;
import dev.elbo4j.nn.Evaluation;
import dev.elbo4j.nn.Evaluator;
import dev.elbo4j.nn.Likelihood;
import dev.elbo4j.nn.ParameterLayout;
import dev.elbo4j.nn.Trainer;
import dev.elbo4j.nn.TrainingListener;
import dev.elbo4j.nn.TrainingOptions;
import dev.elbo4j.nn.TrainingState;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code elbo4j train}: trains a VAE, with progress, per-epoch metrics, a checkpoint and pictures. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Train a variational autoencoder on IDX images (Fashion-MNIST by default).",
        description = {
            "Trains an MLP VAE (by default the PyTorch example's: 784-400-20, ReLU, Bernoulli likelihood on the "
                + "pixel intensities, batch 128, Adam 1e-3) on a usable GPU (the CUDA backend, each step replayed as a "
                + "CUDA graph) or else on the CPU backend (see --device). Shows a "
                + "progress bar per epoch on a terminal (plain lines otherwise); after each epoch prints the train and "
                + "test ELBO, the test KL and the active latent units; at the end the test IWAE estimate of log p(x) "
                + "and its gap to the ELBO.",
            "Writes into --out: " + RunFolder.CHECKPOINT + " (the model and the training state, after every "
                + "epoch), " + RunFolder.METRICS + ", " + RunFolder.RECONSTRUCTIONS + " (test images beside their "
                + "reconstructions), " + RunFolder.SAMPLES + " (decoded prior samples) and, for a 2-d latent space "
                + "or with --traverse, " + RunFolder.TRAVERSAL + ".",
            "Ctrl-C stops after the current step, writes the checkpoint and exits with status 130; --resume "
                + "continues from it exactly."
        })
final class TrainCommand implements Callable<Integer> {
    /** The default number of epochs: a run of a couple of minutes on the CPU backend of a 2-core machine. */
    static final int DEFAULT_EPOCHS = 3;
    /** Test images of the default final IWAE estimate (K = 1000 costs 1000 decoder passes per image). */
    static final int DEFAULT_IWAE_IMAGES = 1000;
    /** torch.optim.AdamW's default weight decay, taken when --adamw comes without --weight-decay. */
    static final float ADAMW_DEFAULT_DECAY = 0.01f;

    @Spec
    private CommandSpec spec;

    @ParentCommand
    private Main main;

    @Option(names = "--data", paramLabel = "DIR", defaultValue = DataFolder.DEFAULT,
            description = "Folder with train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and their labels "
                    + "(default: ${DEFAULT-VALUE}, from Debian's dataset-fashion-mnist).")
    private Path data;

    @Option(names = "--epochs", paramLabel = "N", defaultValue = "" + DEFAULT_EPOCHS,
            description = "Epochs to train, in all (a resumed run counts those done; default: ${DEFAULT-VALUE}).")
    private int epochs;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "128", description = "Batch size (default: ${DEFAULT-VALUE}).")
    private int batch;

    @Option(names = "--hidden", paramLabel = "N", split = ",", defaultValue = "400",
            description = "The encoder's hidden layer sizes, comma-separated (512,256); the decoder mirrors them (default: ${DEFAULT-VALUE}).")
    private List<Integer> hidden;

    @Option(names = "--latent", paramLabel = "L", defaultValue = "20",
            description = "Latent dimensions (default: ${DEFAULT-VALUE}).")
    private int latent;

    @Option(names = "--activation", paramLabel = "relu|tanh|leaky-relu|silu", defaultValue = "relu",
            converter = Choices.Activations.class, description = "Hidden activation (default: ${DEFAULT-VALUE}).")
    private Activation activation;

    @Option(names = "--likelihood", paramLabel = "bernoulli|gaussian[-fixed|-dim|-row]", defaultValue = "bernoulli",
            converter = Choices.Likelihoods.class,
            description = "p(x|z): Bernoulli on logits, or Gaussian with unit variance (gaussian, gaussian-fixed), a "
                    + "learned variance per pixel (gaussian-dim) or per image (gaussian-row). Default: bernoulli.")
    private Likelihood likelihood;

    @Option(names = "--binarize", paramLabel = "none|static|dynamic", defaultValue = "none",
            converter = Choices.Binarizations.class,
            description = "Pixels as intensities (none), binarized once (static) or afresh every step (dynamic); "
                    + "Bernoulli only (default: ${DEFAULT-VALUE}).")
    private BinarizationMode binarize;

    @Option(names = "--beta", paramLabel = "B", defaultValue = "1",
            description = "KL weight after warm-up (default: ${DEFAULT-VALUE}; reported ELBOs always use 1).")
    private float beta;

    @Option(names = "--kl-warmup", paramLabel = "STEPS", defaultValue = "0",
            description = "Steps over which beta rises linearly from 0 (default: ${DEFAULT-VALUE}: none).")
    private long klWarmup;

    @Option(names = "--free-bits", paramLabel = "F", defaultValue = "0",
            description = "Floor in nats per latent dimension on the batch-mean KL (default: ${DEFAULT-VALUE}: none).")
    private float freeBits;

    @Option(names = "--k", paramLabel = "K", defaultValue = "1",
            description = "Latent samples per image in training (default: ${DEFAULT-VALUE}).")
    private int samples;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "1e-3",
            description = "Adam's learning rate (default: ${DEFAULT-VALUE}).")
    private float learningRate;

    @Option(names = "--weight-decay", paramLabel = "W",
            description = "Weight decay: Adam's L2 penalty added to the gradient, or with --adamw the decoupled decay "
                    + "of torch.optim.AdamW (default: 0, or " + ADAMW_DEFAULT_DECAY + " with --adamw as in PyTorch).")
    private Float weightDecay;

    @Option(names = "--adamw", description = "AdamW: decay the weights apart from the gradient (decoupled weight decay).")
    private boolean adamw;

    @Option(names = "--clip-norm", paramLabel = "C",
            description = "Scale the gradients down when their global L2 norm exceeds C, as "
                    + "torch.nn.utils.clip_grad_norm_ (default: no clipping).")
    private Float clipNorm;

    @Option(names = "--gaussian-logvar", paramLabel = "S",
            description = "The log-variance of --likelihood gaussian-fixed (default: 0, unit variance).")
    private Float gaussianLogVariance;

    @Option(names = "--precision", paramLabel = "fp32|tf32|bf16", defaultValue = "fp32",
            converter = Choices.Precisions.class,
            description = "GEMM precision: fp32, or tf32 or bf16 on a GPU's tensor cores (the CPU backend computes in "
                    + "fp32 only and refuses them; the loss is fp32 either way). Default: ${DEFAULT-VALUE}.")
    private GemmPrecision precision;

    @Option(names = "--device", paramLabel = "auto|cuda|cpu", defaultValue = "auto",
            description = "Where to train: auto (GPU 0 when it is usable, else the CPU; never the CPU emulator of "
                    + "the CUDA driver, which is for tests), cuda (GPU 0, or an error saying why not) or cpu. The "
                    + "choice and its reason are printed (default: ${DEFAULT-VALUE}).")
    private Choice device;

    @Option(names = "--threads", paramLabel = "N",
            description = "Threads of the CPU backend, 1 to 256 (default: one per processor, at most 256; a run on the "
                    + "GPU ignores it).")
    private Integer threads;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of the initialization, the data order and the noise (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Output folder (default: runs/<yyyyMMdd-HHmmss>; with --resume, the checkpoint's folder).")
    private Path out;

    @Option(names = "--force", description = "Write into an --out folder that already holds files.")
    private boolean force;

    @Option(names = "--resume", paramLabel = "CHECKPOINT",
            description = "Continue the run of this checkpoint (its model and settings) up to --epochs.")
    private Path resume;

    @Option(names = "--iwae-k", paramLabel = "K", defaultValue = "1000",
            description = "Samples of the final importance-weighted estimate of log p(x) on the test set "
                    + "(default: ${DEFAULT-VALUE}; 0 skips it).")
    private int iwaeK;

    @Option(names = "--iwae-images", paramLabel = "N", defaultValue = "" + DEFAULT_IWAE_IMAGES,
            description = "Test images of the final IWAE estimate: the first N (default: ${DEFAULT-VALUE}, which keeps "
                    + "the default run short on a CPU; K = 1000 over all 10000 takes ten times as long).")
    private int iwaeImages;

    @Option(names = "--traverse", paramLabel = "DIM",
            description = "Also draw " + RunFolder.TRAVERSAL + ": decodings along latent dimension DIM (0-based); "
                    + "drawn anyway, as a 2-d grid, when the latent space has 2 dimensions.")
    private Integer traverse;

    @Option(names = "--train-images", paramLabel = "N",
            description = "Train on the first N training images only (default: all), e.g. for a quick check.")
    private Integer trainImages;

    @Option(names = "--test-images", paramLabel = "N",
            description = "Evaluate on the first N test images only (default: all).")
    private Integer testImages;

    @Option(names = "--progress", paramLabel = "auto|bar|lines|none", defaultValue = "auto",
            description = "Progress display: a bar on a terminal, plain lines otherwise (auto), or as given "
                    + "(default: ${DEFAULT-VALUE}).")
    private ProgressDisplay.Mode progress;

    @Override
    public Integer call() throws IOException {
        checkOptions();
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();

        Checkpoint.Contents saved = null;
        TrainingState resumedState = null;
        AdamSettings adam = adamSettings();
        if (resume != null) {
            saved = RunCheckpoint.read(resume);
            resumedState = saved.training().orElseThrow(() -> new CliFailure("the checkpoint " + resume
                    + " holds a model but no training state: it cannot be resumed (train a new run instead)"));
            adam = saved.adam().orElseThrow();
            checkResumedOptions(saved.spec(), resumedState, adam);
        }

        Idx.Images train = DataFolder.images(data, Split.TRAIN, trainImages);
        Idx.Images test = DataFolder.images(data, Split.TEST, testImages);
        VaeSpec model = saved != null ? saved.spec() : modelSpec(train.pixelsPerImage());
        String modelName = saved != null ? "the checkpoint's model " + model.summary() : "the model";
        DataFolder.checkSize(train, "training images", model.inputs(), modelName);
        DataFolder.checkSize(test, "test images", model.inputs(), modelName);
        if (train.count() < batch) {
            throw new CliFailure("the training set has " + train.count() + " images, fewer than one batch of " + batch
                    + "; lower --batch");
        }
        Usage.latentDimension(spec, traverse, model.latent());

        // The backend before the run folder: a device that cannot train this model leaves no folder behind.
        try (Selected backend = Devices.open(device, threads, main.environment())) {
            Devices.checkTrainingPrecision(backend, model.precision());
            String deviceName = backend.backend().description();
            Path folder = out != null ? out
                    : resume != null ? resume.toAbsolutePath().getParent() : RunFolder.defaultPath(LocalDateTime.now());
            RunFolder run = RunFolder.prepare(folder, force || resume != null);
            Metrics metrics = resume != null && Files.isRegularFile(run.metrics()) ? Metrics.read(run.metrics())
                    : new Metrics(model.summary(), data.toString(), List.of(), null);
            stdout.println("model   " + model.summary() + ", " + String.format(Locale.ROOT, "%,d",
                    ParameterLayout.of(model).parameterCount()) + " parameters, seed " + model.seed());
            stdout.println("data    " + data + ": " + DataFolder.describe(train) + " to train, " + test.count()
                    + " to test");
            stdout.println("device  " + backend.reason());
            stdout.println("output  " + run.path());
            if (resume != null) {
                stdout.println("resume  " + resume + " at epoch " + (resumedState.epoch() + 1) + ", step "
                        + resumedState.stepInEpoch());
            }
            stdout.flush();
            // About 50 progress reports an epoch (at most every 25 steps), so a short epoch still shows progress.
            int stepsPerEpoch = train.count() / batch;
            TrainingOptions options = TrainingOptions.defaults().withBatchSize(batch)
                    .withAdam(adam)
                    .withProgressEvery(Math.clamp(stepsPerEpoch / 50, 1, 25));
            try (Vae vae = saved != null ? saved.toVae(backend.backend())
                         : Vae.create(model, backend.backend());
                 Trainer trainer = resumedState != null ? Trainer.resume(vae, train, options, resumedState)
                         : Trainer.create(vae, train, options)) {
                Run runState = new Run(trainer, options, vae, test, run, metrics, deviceName,
                        ProgressDisplay.create(progress, main.environment(), err), stdout);
                boolean finished = runState.train();
                if (!finished) {
                    return Main.EXIT_INTERRUPTED;
                }
                finish(vae, test, run, runState.metrics, stdout, err);
            }
        }
        return 0;
    }

    /** The training loop's listener and the Ctrl-C handling of one run. */
    private final class Run implements TrainingListener {
        private final Trainer trainer;
        private final TrainingOptions options;
        private final Vae vae;
        private final Idx.Images test;
        private final RunFolder run;
        private final String device;
        private final ProgressDisplay display;
        private final PrintWriter stdout;
        private final CountDownLatch stopped = new CountDownLatch(1);
        private Metrics metrics;
        /** Where a resumed run starts: its epoch (1-based) and the steps of it already done. */
        private final int resumedEpoch;
        private final int resumedStep;
        private ProgressDisplay.Epoch epochDisplay;
        private int displayedEpoch;
        private boolean training;
        private volatile boolean interrupted;

        Run(Trainer trainer, TrainingOptions options, Vae vae, Idx.Images test, RunFolder run, Metrics metrics,
            String device, ProgressDisplay display, PrintWriter stdout) {
            this.trainer = trainer;
            this.options = options;
            this.vae = vae;
            this.test = test;
            this.run = run;
            this.metrics = metrics;
            this.device = device;
            this.display = display;
            this.stdout = stdout;
            this.resumedEpoch = trainer.epochsCompleted() + 1;
            this.resumedStep = trainer.stepInEpoch();
        }

        /** Trains to --epochs; false when interrupted (the checkpoint is then written). */
        boolean train() throws IOException {
            if (trainer.epochsCompleted() >= epochs) {
                stdout.println("the run has " + trainer.epochsCompleted() + " epochs already; --epochs " + epochs
                        + " asks for no more");
                return true;
            }
            synchronized (this) {
                training = true;
            }
            boolean finished;
            try (Interrupts.Registration registration = main.environment().interrupts().register(this::interrupt)) {
                finished = trainer.train(epochs, this);
            } finally {
                closeDisplay();
                synchronized (this) {
                    training = false;
                }
            }
            try {
                if (!finished || interrupted) {
                    Checkpoint.save(run.checkpoint(), vae, trainer.state(), options.adam());
                    stdout.println("interrupted at epoch " + (trainer.epochsCompleted() + 1) + ", step "
                            + trainer.stepInEpoch() + " of " + trainer.stepsPerEpoch() + ": checkpoint written to "
                            + run.checkpoint());
                    stdout.println("continue with: elbo4j train --resume " + run.checkpoint()
                            + (epochs != DEFAULT_EPOCHS ? " --epochs " + epochs : ""));
                    stdout.flush();
                    return false;
                }
                return true;
            } finally {
                stopped.countDown();
            }
        }

        /** Runs on the interrupt's thread: asks the trainer to stop and waits until the checkpoint is written. */
        private void interrupt() {
            synchronized (this) {
                if (!training) {
                    return;
                }
                interrupted = true;
                trainer.requestStop();
            }
            try {
                stopped.await(2, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void onProgress(Progress progress) {
            if (epochDisplay == null || displayedEpoch != progress.epoch()) {
                closeDisplay();
                displayedEpoch = progress.epoch();
                epochDisplay = display.startEpoch(progress.epoch(), epochs, progress.stepsPerEpoch(),
                        progress.epoch() == resumedEpoch ? resumedStep : 0);
            }
            epochDisplay.update(progress.stepInEpoch(), progress.status().meanLoss(), progress.stepsPerSecond());
        }

        @Override
        public void onEpochEnd(EpochResult result) {
            if (epochDisplay != null) {
                epochDisplay.update(trainer.stepsPerEpoch(), result.trainLoss(), result.stepsPerSecond());
            }
            closeDisplay();
            Evaluation evaluation = Evaluator.evaluate(vae, test, Evaluator.Options.defaults());
            stdout.println(String.format(Locale.ROOT, "epoch %d/%d  train ELBO %.2f  test ELBO %.2f  KL %.2f  "
                    + "active units %d/%d  %.1f s, %.0f steps/s", result.epoch(), epochs, result.trainElbo(),
                    evaluation.elbo(), evaluation.kl(), evaluation.activeUnits(), vae.spec().latent(), result.seconds(),
                    result.stepsPerSecond()));
            if (result.skipped() > 0) {
                stdout.println("        " + result.skipped() + " steps skipped so far (non-finite loss or gradient)");
            }
            stdout.flush();
            metrics = metrics.withEpoch(new Metrics.Epoch(result.epoch(), result.trainElbo(), evaluation.elbo(),
                    evaluation.kl(), evaluation.activeUnits(), result.seconds(), result.stepsPerSecond(), device));
            try {
                metrics.write(run.metrics());
                Checkpoint.save(run.checkpoint(), vae, trainer.state(), options.adam());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private void closeDisplay() {
            if (epochDisplay != null) {
                epochDisplay.close();
                epochDisplay = null;
            }
        }
    }

    /** The final IWAE estimate, the pictures, and where everything is. */
    private void finish(Vae vae, Idx.Images test, RunFolder run, Metrics metrics, PrintWriter stdout,
                        PrintWriter err) throws IOException {
        if (iwaeK > 0) {
            Idx.Images evaluated = DataFolder.first(test, iwaeImages);
            err.println("estimating log p(x) on the first " + evaluated.count() + " test images with K = " + iwaeK
                    + " importance samples each ...");
            err.flush();
            Evaluation evaluation = Evaluator.evaluate(vae, evaluated,
                    Evaluator.Options.defaults().withIwaeSamples(iwaeK));
            stdout.println(String.format(Locale.ROOT, "test    log p(x) >= %.2f (IWAE, K = %d, %d images, %.1f s), "
                    + "ELBO %.2f, gap %.2f nats", evaluation.iwaeLogPx(), iwaeK, evaluated.count(),
                    evaluation.iwaeSeconds(), evaluation.elbo(), evaluation.gap()));
            metrics = metrics.withResult(new Metrics.Final(iwaeK, evaluated.count(), evaluation.iwaeLogPx(),
                    evaluation.gap(), evaluation.elbo(), evaluation.iwaeSeconds()));
            metrics.write(run.metrics());
        }
        List<String> written = new ArrayList<>(List.of(RunFolder.CHECKPOINT, RunFolder.METRICS));
        Pictures.reconstructions(vae, test, run.reconstructions());
        Pictures.samples(vae, Pictures.SAMPLE_COUNT, vae.spec().seed(), run.samples(), test.rows(), test.columns());
        written.add(RunFolder.RECONSTRUCTIONS);
        written.add(RunFolder.SAMPLES);
        if (vae.spec().latent() == 2 || traverse != null) {
            Pictures.traversal(vae, traverse, vae.spec().seed(), run.traversal(), test.rows(), test.columns());
            written.add(RunFolder.TRAVERSAL);
        }
        stdout.println("wrote   " + run.path() + "/: " + String.join(", ", written));
        stdout.flush();
    }

    /** Sizes below 1 and other values the model cannot take are usage errors (exit 2), named by their option. */
    private void checkOptions() {
        Usage.atLeast(spec, epochs, 1, "--epochs");
        Usage.atLeast(spec, batch, 1, "--batch");
        Usage.atLeast(spec, latent, 1, "--latent");
        Usage.atLeast(spec, samples, 1, "--k");
        Usage.atLeast(spec, iwaeK, 0, "--iwae-k");
        Usage.atLeast(spec, iwaeImages, 1, "--iwae-images");
        for (int size : hidden) {
            Usage.atLeast(spec, size, 1, "--hidden");
        }
        Usage.threads(spec, threads);
        Usage.atLeast(spec, trainImages, 1, "--train-images");
        Usage.atLeast(spec, testImages, 1, "--test-images");
        Usage.atLeast(spec, traverse, 0, "--traverse");
        Usage.atLeast(spec, klWarmup, 0, "--kl-warmup");
        Usage.positive(spec, learningRate, "--lr");
        Usage.nonNegative(spec, beta, "--beta");
        Usage.nonNegative(spec, freeBits, "--free-bits");
        Usage.nonNegative(spec, weightDecay, "--weight-decay");
        Usage.positive(spec, clipNorm, "--clip-norm");
        if (gaussianLogVariance != null && likelihood != Likelihood.GAUSSIAN_FIXED) {
            throw usage("--gaussian-logvar is the log-variance of --likelihood gaussian-fixed, not "
                    + new Choices.Likelihoods().wordOf(likelihood));
        }
        if (gaussianLogVariance != null && !Float.isFinite(gaussianLogVariance)) {
            throw usage("--gaussian-logvar must be a finite number but is " + gaussianLogVariance);
        }
        if (binarize != BinarizationMode.NONE && likelihood.isGaussian()) {
            throw usage("--binarize " + new Choices.Binarizations().wordOf(binarize) + " is for the Bernoulli "
                    + "likelihood, not " + new Choices.Likelihoods().wordOf(likelihood));
        }
        if (device == Choice.CPU && precision != GemmPrecision.FP32) {
            throw usage("--precision " + new Choices.Precisions().wordOf(precision) + " needs the CUDA backend, not "
                    + "--device cpu (the CPU backend computes in fp32 only)");
        }
        if (resume != null && force) {
            throw usage("--resume continues a run in its folder and --force replaces one: give one of them");
        }
    }

    /** A resumed run keeps its model: an option given explicitly must agree with the checkpoint's. */
    private void checkResumedOptions(VaeSpec saved, TrainingState state, AdamSettings adam) {
        VaeSpec asked = modelSpec(saved.inputs());
        List<String> differences = new ArrayList<>();
        compare(differences, "--hidden", asked.encoderHidden(), saved.encoderHidden());
        compare(differences, "--latent", asked.latent(), saved.latent());
        compare(differences, "--activation", asked.activation(), saved.activation());
        compare(differences, "--likelihood", asked.likelihood(), saved.likelihood());
        compare(differences, "--binarize", asked.binarization(), saved.binarization());
        compare(differences, "--beta", asked.beta(), saved.beta());
        compare(differences, "--kl-warmup", asked.klWarmupSteps(), saved.klWarmupSteps());
        compare(differences, "--free-bits", asked.freeBits(), saved.freeBits());
        compare(differences, "--k", asked.samples(), saved.samples());
        compare(differences, "--precision", asked.precision(), saved.precision());
        compare(differences, "--seed", asked.seed(), saved.seed());
        compare(differences, "--batch", batch, state.batchSize());
        compare(differences, "--gaussian-logvar", asked.fixedLogVariance(), saved.fixedLogVariance());
        compare(differences, "--lr", learningRate, adam.learningRate());
        AdamSettings askedAdam = adamSettings();
        compare(differences, "--weight-decay", askedAdam.weightDecay(), adam.weightDecay());
        compare(differences, "--adamw", askedAdam.decoupledWeightDecay(), adam.decoupledWeightDecay());
        compare(differences, "--clip-norm", askedAdam.maxGradNorm(), adam.maxGradNorm());
        if (!differences.isEmpty()) {
            throw new CliFailure("the checkpoint " + resume + " is of another model spec (" + saved.summary()
                    + "): " + String.join(", ", differences) + "; a resumed run keeps its model and settings, so "
                    + "leave these options out or start a new run");
        }
    }

    private void compare(List<String> differences, String option, Object asked, Object saved) {
        if (spec.commandLine().getParseResult().hasMatchedOption(option) && !asked.equals(saved)) {
            differences.add(option + " " + asked + " where it has " + saved);
        }
    }

    /** Adam as PyTorch's defaults, changed by --lr, --weight-decay, --adamw and --clip-norm. */
    private AdamSettings adamSettings() {
        float decay = weightDecay != null ? weightDecay : adamw ? ADAMW_DEFAULT_DECAY : 0f;
        return AdamSettings.defaults().withLearningRate(learningRate).withWeightDecay(decay, adamw)
                .withMaxGradNorm(clipNorm != null ? clipNorm : Float.POSITIVE_INFINITY);
    }

    private VaeSpec modelSpec(int inputs) {
        try {
            return VaeSpec.builder(inputs, latent).encoderHidden(hidden.stream().mapToInt(Integer::intValue).toArray())
                    .activation(activation).likelihood(likelihood)
                    .fixedLogVariance(gaussianLogVariance != null ? gaussianLogVariance : 0f).beta(beta).klWarmupSteps(klWarmup)
                    .freeBits(freeBits).samples(samples).binarization(binarize).precision(precision).seed(seed)
                    .build();
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    private ParameterException usage(String message) {
        return Usage.error(spec, message);
    }
}
