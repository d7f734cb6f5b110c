package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import dev.elbo4j.io.Checkpoint;

/** Reading a checkpoint as the commands do: {@link Checkpoint#load}, with each failure as one line naming the file. */
final class RunCheckpoint {

    private RunCheckpoint() {
    }

    /**
     * Reads and validates a checkpoint.
     *
     * @throws CliFailure when it is missing, not a checkpoint, corrupted or truncated (naming the file and the defect)
     */
    static Checkpoint.Contents read(Path file) {
        try {
            return Checkpoint.load(file);
        } catch (NoSuchFileException e) {
            throw new CliFailure("no checkpoint " + file + " (no such file)", e);
        } catch (IOException | RuntimeException e) {
            String message = Main.oneLine(e.getMessage());
            throw new CliFailure("cannot load the checkpoint " + file + ": "
                    + (message.contains(file.toString()) ? message.replace(file + ": ", "") : message), e);
        }
    }
}
