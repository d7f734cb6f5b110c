package dev.elbo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPath;
import javax.xml.xpath.XPathFactory;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

/**
 * What the build promises a developer, read from pom.xml: the wrong JDK is refused at once with "elbo4j needs JDK
 * 25" (before the kernel build, not later with "release version 25 not supported"), and {@code mvn -DskipTests
 * package} (the main job's build) neither compiles the tests nor builds the CPU emulator they run on.
 */
class BuildConfigurationTest {
    private static Document pom;
    private static XPath xpath;

    @BeforeAll
    static void readPom() throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        pom = factory.newDocumentBuilder().parse(Path.of("pom.xml").toFile());
        xpath = XPathFactory.newInstance().newXPath();
    }

    /** The text at {@code path} (the parser is not namespace-aware, so the pom's elements need no prefix). */
    private static String at(String path) throws Exception {
        return xpath.evaluate(path, pom).strip();
    }

    @Test
    void theEnforcerRequiresJdk25WithAMessageThatSaysSo() throws Exception {
        String rule = "/project/build/plugins/plugin[artifactId='maven-enforcer-plugin']/executions/execution"
                + "/configuration/rules/requireJavaVersion";
        assertEquals("[25,)", at(rule + "/version"));
        assertTrue(at(rule + "/message").startsWith("elbo4j needs JDK 25"), at(rule + "/message"));
    }

    @Test
    void skipTestsSkipsTheTestCompilationAndTheEmulatorBuild() throws Exception {
        String plugins = "/project/build/plugins/plugin";
        assertEquals("${skipTests}", at(plugins + "[artifactId='maven-compiler-plugin']/executions/execution"
                + "[id='default-testCompile']/configuration/skip"));
        assertEquals("${skipTests}", at(plugins + "[artifactId='exec-maven-plugin']/executions/execution"
                + "[id='build-emulator']/configuration/skip"));
        assertEquals("false", at("/project/properties/skipTests"), "the property needs a default");
    }
}
