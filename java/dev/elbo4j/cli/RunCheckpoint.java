package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

import dev.elbo4j.io.Checkpoint;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.TrainingState;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;

/**
 * A checkpoint file as the commands use it (dev.elbo4j.io.Checkpoint does the work): what it holds, and failures
 * reported as one line naming the file.
 *
 * @param spec       the model
 * @param parameters the flat parameters of its layout
 * @param state      the training state, when the file has one
 * @param adam       the run's optimizer settings, with the state
 */
record RunCheckpoint(VaeSpec spec, float[] parameters, Optional<TrainingState> state, Optional<AdamSettings> adam) {

    /**
     * Reads and validates a checkpoint.
     *
     * @throws CliFailure when it is missing, not a checkpoint, corrupted or truncated (naming the file and the defect)
     */
    static RunCheckpoint read(Path file) {
        if (!Files.exists(file)) {
            throw new CliFailure("no checkpoint " + file + " (no such file)");
        }
        try {
            Checkpoint.Contents contents = Checkpoint.load(file);
            return new RunCheckpoint(contents.spec(), contents.parameters(), contents.training(), contents.adam());
        } catch (NoSuchFileException e) {
            throw new CliFailure("no checkpoint " + file + " (no such file)", e);
        } catch (IOException | RuntimeException e) {
            String message = Main.oneLine(e.getMessage());
            throw new CliFailure("cannot load the checkpoint " + file + ": "
                    + (message.contains(file.toString()) ? message.replace(file + ": ", "") : message), e);
        }
    }

    /**
     * Writes {@code vae}, {@code state} and {@code adam} to {@code file} (atomically: a kill mid-write keeps the
     * previous one).
     */
    static void write(Path file, Vae vae, TrainingState state, AdamSettings adam) throws IOException {
        Checkpoint.save(file, vae, state, adam);
    }
}
