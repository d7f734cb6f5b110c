package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * A training run's {@code metrics.json}, written with Jackson after every epoch (through a temporary file and a
 * rename, so a reader never sees half of it):
 * <pre>
 * {"model": "784-400-20-400-784 RELU BERNOULLI", "data": "/usr/share/datasets/fashion-mnist",
 *  "epochs": [{"epoch": 1, "train_elbo": .., "test_elbo": .., "kl": .., "active_units": .., "seconds": ..,
 *              "steps_per_s": .., "device": ".."}, ...],
 *  "final": {"iwae_k": 1000, "iwae_images": 1000, "test_log_px": .., "gap": .., "test_elbo": .., "seconds": ..}}
 * </pre>
 * ELBOs and log p(x) in nats per image; {@code kl} and {@code active_units} are measured on the test set.
 *
 * @param model  the model spec's summary
 * @param data   the data folder
 * @param epochs one object per epoch, in order
 * @param result the final evaluation, null until it is done
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record Metrics(String model, String data, List<Epoch> epochs, @JsonProperty("final") Final result) {

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * One epoch.
     *
     * @param epoch       1-based
     * @param trainElbo   mean ELBO estimate over the epoch's training batches
     * @param testElbo    mean test ELBO after the epoch
     * @param kl          mean test KL(q(z|x) || p(z))
     * @param activeUnits latent dimensions whose posterior mean varies over the test set with variance above 0.01
     * @param seconds     wall time of the epoch's training steps
     * @param stepsPerS   training steps per second
     * @param device      the backend that ran it
     */
    record Epoch(int epoch, double trainElbo, double testElbo, double kl, int activeUnits, double seconds,
                 double stepsPerS, String device) {
    }

    /**
     * The final test evaluation.
     *
     * @param iwaeK      K of the importance-weighted estimate
     * @param iwaeImages the test images it was computed on (the first ones)
     * @param testLogPx  the mean IWAE-K estimate of log p(x) on those images
     * @param gap        {@code testLogPx - testElbo}
     * @param testElbo   the mean ELBO of the same images
     * @param seconds    time of the IWAE estimate
     */
    record Final(int iwaeK, int iwaeImages, double testLogPx, double gap, double testElbo, double seconds) {
    }

    Metrics {
        epochs = List.copyOf(epochs);
    }

    /** These metrics with {@code epoch} appended (replacing any epoch of that number or later: a resumed run). */
    Metrics withEpoch(Epoch epoch) {
        List<Epoch> kept = new ArrayList<>();
        for (Epoch e : epochs) {
            if (e.epoch() < epoch.epoch()) {
                kept.add(e);
            }
        }
        kept.add(epoch);
        return new Metrics(model, data, kept, null);
    }

    /** These metrics with the final evaluation. */
    Metrics withResult(Final result) {
        return new Metrics(model, data, epochs, result);
    }

    /** Writes the file through a temporary file in the same folder and a rename. */
    void write(Path file) throws IOException {
        // A fixed name rather than createTempFile, whose owner-only permissions the rename would keep.
        Path partial = file.resolveSibling("." + file.getFileName() + ".partial");
        try {
            JSON.writeValue(partial.toFile(), this);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    /** Reads a file written by {@link #write}. */
    static Metrics read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), Metrics.class);
    }
}
