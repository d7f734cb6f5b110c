package dev.elbo4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import dev.elbo4j.shape.LatentShape;

/** Starts a JVM like this one's, for tests of how elbo4j behaves on the module path. */
public final class Jvm {
    /** target/classes, the module dev.elbo4j as the build produced it. */
    public static final Path MODULE = Path.of("target/classes");

    private Jvm() {
    }

    /** What a JVM printed and returned. */
    public record Result(int status, String out, String err) {
    }

    /**
     * The module path of dev.elbo4j, where this JVM loaded it from (target/classes in the build, the library jar in
     * the GPU bundle of bench/gpu), and its dependencies (the command line's optional ones included).
     */
    public static List<String> modulePath() {
        List<String> path = new ArrayList<>(List.of(codeSource(LatentShape.class).toString()));
        path.addAll(classPathJars("jackson-", "picocli-", "openblas-", "javacpp-", "progressbar-", "jline-"));
        return path;
    }

    /** Runs this JVM's {@code java} with {@code arguments}; fails the test if it has not ended after two minutes. */
    public static Result run(List<String> arguments) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(arguments);
        Process process = new ProcessBuilder(command).start();
        process.getOutputStream().close();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the JVM did not end: " + command);
        return new Result(process.exitValue(), out, err);
    }

    /** The class folder or jar this JVM loaded {@code type} from. */
    public static Path codeSource(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("the code source of " + type + " is not a path", e);
        }
    }

    /** The jars on this JVM's class path whose file names start with one of {@code prefixes}. */
    public static List<String> classPathJars(String... prefixes) {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> entry.endsWith(".jar"))
                .filter(entry -> Arrays.stream(prefixes)
                        .anyMatch(prefix -> Path.of(entry).getFileName().toString().startsWith(prefix)))
                .toList();
    }
}
