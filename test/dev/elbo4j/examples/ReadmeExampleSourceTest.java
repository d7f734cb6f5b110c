package dev.elbo4j.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/**
 * The README's Java example is {@link ElboOnTheGpu} as it is in the repository. Needs no CUDA, so it runs where no
 * backend loads; {@link ReadmeExampleTest} runs the program.
 */
class ReadmeExampleSourceTest {
    static final Path SOURCE = Path.of("test/dev/elbo4j/examples/ElboOnTheGpu.java");

    @Test
    void theReadmeShowsTheExampleFileVerbatim() throws IOException {
        String source = Files.readString(SOURCE);
        String readme = Files.readString(Path.of("README.md"));
        assertTrue(readme.contains("```java\n" + source + "```\n"),
                "README.md must show " + SOURCE + " verbatim in a ```java block");
    }
}
