package dev.elbo4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import dev.elbo4j.data.Idx;
import dev.elbo4j.data.ImageDataset.Split;
import dev.elbo4j.io.Checkpoint;
import dev.elbo4j.nn.Evaluation;
import dev.elbo4j.nn.Evaluator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code elbo4j eval CHECKPOINT}: the test ELBO, the IWAE estimate of log p(x), the gap, the KL per dimension. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Evaluate a checkpoint on the test set.",
        description = "Prints the mean test ELBO (its reconstruction and KL terms), the importance-weighted estimate "
                + "of log p(x) with K samples per image, the gap between the two, the KL of each latent dimension and "
                + "the active units (dimensions whose posterior mean varies over the test set with variance above "
                + "0.01), as text or as JSON (--json). All in nats per image.")
final class EvalCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @ParentCommand
    private Main main;

    @Option(names = "--data", paramLabel = "DIR", defaultValue = DataFolder.DEFAULT,
            description = "Folder with t10k-images-idx3-ubyte[.gz] and its labels (default: ${DEFAULT-VALUE}).")
    private Path data;

    @Option(names = "--k", paramLabel = "K", defaultValue = "1000",
            description = "Samples per image of the IWAE estimate (default: ${DEFAULT-VALUE}).")
    private int k;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    private boolean json;

    @Option(names = "--test-images", paramLabel = "N", description = "Evaluate the first N test images only.")
    private Integer testImages;

    @Mixin
    private CheckpointOptions checkpoint;

    @Override
    public Integer call() throws IOException {
        Usage.atLeast(spec, k, 1, "--k");
        Usage.atLeast(spec, testImages, 1, "--test-images");
        checkpoint.check();
        Checkpoint.Contents saved = checkpoint.read();
        Idx.Images test = DataFolder.images(data, Split.TEST, testImages);
        DataFolder.checkSize(test, "test images", saved.spec().inputs(),
                "the checkpoint's model " + saved.spec().summary());
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Devices.OpenModel model = checkpoint.open(saved, main.environment())) {
            err.println("eval: " + saved.spec().summary() + " on " + DataFolder.describe(test) + ", IWAE with K = " + k
                    + "; device: " + model.backend().reason() + model.precisionNote());
            err.flush();
            Evaluation result = Evaluator.evaluate(model.vae(), test,
                    Evaluator.Options.defaults().withIwaeSamples(k));
            String deviceName = model.backend().backend().description();
            if (json) {
                out.println(json(saved, test, result, deviceName));
            } else {
                text(out, saved, test, result, deviceName);
            }
        }
        return 0;
    }

    private void text(PrintWriter out, Checkpoint.Contents saved, Idx.Images test, Evaluation result, String deviceName) {
        out.println("model        " + saved.spec().summary() + " (" + checkpoint.checkpoint() + ")");
        out.println("data         " + data + ": " + DataFolder.describe(test) + " (test)");
        out.println("device       " + deviceName);
        out.println(String.format(Locale.ROOT, "test ELBO    %.3f nats (reconstruction %.3f, KL %.3f; %.1f s)",
                result.elbo(), result.reconstruction(), result.kl(), result.elboSeconds()));
        out.println(String.format(Locale.ROOT, "log p(x)     %.3f nats (IWAE, K = %d; %.1f s)", result.iwaeLogPx(),
                result.iwaeSamples(), result.iwaeSeconds()));
        out.println(String.format(Locale.ROOT, "gap          %.3f nats (log p(x) - ELBO)", result.gap()));
        out.println("active units " + result.activeUnits() + " of " + saved.spec().latent()
                + " (posterior-mean variance > " + Evaluator.ACTIVE_UNIT_THRESHOLD + ")");
        out.println("dim      KL   var(mu)");
        for (int l = 0; l < saved.spec().latent(); l++) {
            out.println(String.format(Locale.ROOT, "%3d %7.3f %9.4f", l, result.klPerDimension()[l],
                    result.posteriorMeanVariance()[l]));
        }
    }

    private String json(Checkpoint.Contents saved, Idx.Images test, Evaluation result, String deviceName)
            throws IOException {
        Map<String, Object> object = new LinkedHashMap<>();
        object.put("checkpoint", checkpoint.checkpoint().toString());
        object.put("model", saved.spec().summary());
        object.put("data", data.toString());
        object.put("images", test.count());
        object.put("device", deviceName);
        object.put("test_elbo", result.elbo());
        object.put("reconstruction", result.reconstruction());
        object.put("kl", result.kl());
        object.put("iwae_k", result.iwaeSamples());
        object.put("test_log_px", result.iwaeLogPx());
        object.put("gap", result.gap());
        object.put("active_units", result.activeUnits());
        object.put("kl_per_dimension", result.klPerDimension());
        object.put("posterior_mean_variance", result.posteriorMeanVariance());
        object.put("elbo_seconds", result.elboSeconds());
        object.put("iwae_seconds", result.iwaeSeconds());
        return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(object);
    }
}
