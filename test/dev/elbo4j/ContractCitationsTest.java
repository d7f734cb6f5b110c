package dev.elbo4j;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The javadoc and the kernel sources cite the numerical contract that is in the repository,
 * docs/numerical-contract.md, by its section titles: every cited title is a section there, and nothing cites the
 * spec/elbo-math.md the repository does not have.
 */
class ContractCitationsTest {
    private static final Path CONTRACT = Path.of("docs/numerical-contract.md");
    /** "(contract, "Gaussian")", "(contract {@code docs/numerical-contract.md}, "Noise")". */
    private static final Pattern CITATION = Pattern.compile("(?:contract|numerical-contract\\.md\\}?),\\s*\"([^\"]+)\"");

    @Test
    void everyCitedSectionIsInTheContract() throws IOException {
        List<String> headings = Files.readAllLines(CONTRACT).stream().filter(line -> line.startsWith("#"))
                .map(line -> line.replaceFirst("^#+\\s*", "")).toList();
        List<String> citations = new ArrayList<>();
        for (Path source : sources()) {
            String text = Files.readString(source);
            assertFalse(text.contains("spec/elbo-math.md"), source + " cites spec/elbo-math.md, which is not here");
            Matcher cited = CITATION.matcher(text);
            while (cited.find()) {
                String title = cited.group(1);
                citations.add(source + ": " + title);
                assertTrue(headings.stream().anyMatch(heading -> heading.startsWith(title)),
                        source + " cites section \"" + title + "\", which " + CONTRACT + " does not have: " + headings);
            }
        }
        assertTrue(citations.size() >= 10, "citations found: " + citations);
    }

    private static List<Path> sources() throws IOException {
        List<Path> out = new ArrayList<>();
        for (String root : new String[] {"java", "kernels"}) {
            try (Stream<Path> files = Files.walk(Path.of(root))) {
                files.filter(file -> file.toString().matches(".*\\.(java|cu|cuh)")).forEach(out::add);
            }
        }
        return out;
    }
}
