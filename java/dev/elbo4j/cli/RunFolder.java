package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.stream.Stream;

/**
 * The folder a training run writes into, and the names of what it writes there. A folder that already holds files
 * is refused unless the run continues it ({@code --resume}) or replaces it ({@code --force}), so that a second run
 * never mixes its files with the first's by accident.
 */
record RunFolder(Path path) {
    /** The run's checkpoint: the model spec, its parameters and the training state (safetensors). */
    static final String CHECKPOINT = "checkpoint.safetensors";
    /** Per-epoch and final numbers (JSON). */
    static final String METRICS = "metrics.json";
    /** Test images beside their reconstructions. */
    static final String RECONSTRUCTIONS = "reconstructions.png";
    /** Decoded samples from the prior. */
    static final String SAMPLES = "samples.png";
    /** Decodings along latent directions (L = 2, or {@code --traverse}). */
    static final String TRAVERSAL = "traversal.png";

    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    /** {@code runs/<yyyyMMdd-HHmmss>} under the working directory (with -2, -3, ... when that exists). */
    static Path defaultPath(LocalDateTime now) {
        Path base = Path.of("runs", TIMESTAMP.format(now));
        Path candidate = base;
        for (int n = 2; Files.exists(candidate); n++) {
            candidate = Path.of(base + "-" + n);
        }
        return candidate;
    }

    /**
     * Creates (or reuses) the folder and checks that files can be written into it.
     *
     * @param allowExisting true to continue or replace a run already there ({@code --resume}, {@code --force})
     * @throws CliFailure naming the folder and what is wrong with it
     */
    static RunFolder prepare(Path path, boolean allowExisting) {
        if (Files.exists(path) && !Files.isDirectory(path)) {
            throw new CliFailure("the output folder " + path + " is a file; pass another --out");
        }
        if (!allowExisting && Files.isDirectory(path) && !isEmpty(path)) {
            throw new CliFailure("the output folder " + path + " already holds files (a run?): pass --force to "
                    + "replace them, --resume " + path.resolve(CHECKPOINT) + " to continue that run, or another --out");
        }
        try {
            Files.createDirectories(path);
        } catch (IOException e) {
            throw new CliFailure("cannot create the output folder " + path + ": " + reason(e), e);
        }
        try {
            Files.delete(Files.createTempFile(path, ".elbo4j-write-check", ".tmp"));
        } catch (IOException e) {
            throw new CliFailure("cannot write into the output folder " + path + ": " + reason(e), e);
        }
        return new RunFolder(path);
    }

    Path checkpoint() {
        return path.resolve(CHECKPOINT);
    }

    Path metrics() {
        return path.resolve(METRICS);
    }

    Path reconstructions() {
        return path.resolve(RECONSTRUCTIONS);
    }

    Path samples() {
        return path.resolve(SAMPLES);
    }

    Path traversal() {
        return path.resolve(TRAVERSAL);
    }

    private static boolean isEmpty(Path folder) {
        try (Stream<Path> entries = Files.list(folder)) {
            return entries.findAny().isEmpty();
        } catch (IOException e) {
            throw new CliFailure("cannot read the output folder " + folder + ": " + reason(e), e);
        }
    }

    /** An I/O failure's cause in words: the exception's kind for the JDK's terse file exceptions. */
    static String reason(IOException e) {
        String kind = switch (e) {
            case java.nio.file.AccessDeniedException ignored -> "permission denied";
            case java.nio.file.FileAlreadyExistsException ignored -> "a file is in the way";
            case java.nio.file.NotDirectoryException ignored -> "a path component is not a folder";
            case java.nio.file.NoSuchFileException ignored -> "no such file or folder";
            case java.nio.file.FileSystemException fs when fs.getReason() != null -> fs.getReason();
            default -> null;
        };
        if (kind != null) {
            return kind + " (" + e.getMessage() + ")";
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
