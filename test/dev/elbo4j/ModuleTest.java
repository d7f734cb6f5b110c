package dev.elbo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

/**
 * The JPMS module {@code dev.elbo4j} (java/module-info.java) as its users meet it: every package but the command
 * line is exported, the command line is opened to picocli and Jackson only, and a JVM with elbo4j on the module path runs
 * without restricted-method warnings once native access is granted to the module by name. A package added to the
 * library without an {@code exports} line fails here.
 */
class ModuleTest {
    private static final Path CLASSES = Jvm.MODULE;
    private static final Set<String> NOT_EXPORTED = Set.of("dev.elbo4j.cli");

    @Test
    void everyLibraryPackageIsExportedAndTheCommandLineOnlyOpened() {
        ModuleDescriptor module = descriptor();
        Set<String> exported = module.exports().stream().filter(e -> !e.isQualified())
                .map(ModuleDescriptor.Exports::source).collect(Collectors.toCollection(TreeSet::new));
        Set<String> expected = new TreeSet<>(module.packages());
        expected.removeAll(NOT_EXPORTED);
        assertEquals(expected, exported, "java/module-info.java must export every library package");
        ModuleDescriptor.Opens cli = module.opens().stream().filter(o -> o.source().equals("dev.elbo4j.cli"))
                .findFirst().orElseThrow();
        assertEquals(Set.of("info.picocli", "com.fasterxml.jackson.databind"), cli.targets());
        assertTrue(module.requires().stream().anyMatch(r -> r.name().equals("info.picocli")
                && r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC)), "picocli is optional");
    }

    /** The package docs say what the module does: no exported package calls itself internal. */
    @Test
    void noExportedPackageCallsItselfInternal() throws IOException {
        for (ModuleDescriptor.Exports export : descriptor().exports()) {
            Path doc = Path.of("java", export.source().replace('.', '/'), "package-info.java");
            if (Files.exists(doc)) {
                String text = Files.readString(doc);
                assertFalse(text.contains("Internal to elbo4j"), doc + " calls an exported package internal");
            }
        }
    }

    /**
     * The command line's {@code info} on the module path: it probes CUDA through FFM and opens the CPU backend
     * (OpenBLAS through JavaCPP). With native access granted by module name (java/module-info.java says how) it
     * prints no warning; without, the JDK warns, which shows the check can see it.
     */
    @Test
    void nativeAccessGrantedByModuleNameLeavesNoWarning() throws Exception {
        String modulePath = String.join(File.pathSeparator, Jvm.modulePath());
        List<String> info = List.of("--add-modules",
                "org.bytedeco.openblas.linux.x86_64,info.picocli,me.tongfei.progressbar",
                "-m", "dev.elbo4j/dev.elbo4j.cli.Main", "info");
        List<String> granted = new ArrayList<>(List.of("--module-path", modulePath,
                "--enable-native-access=dev.elbo4j,org.bytedeco.javacpp,org.bytedeco.openblas"));
        granted.addAll(info);
        Jvm.Result quiet = Jvm.run(granted);
        assertEquals(0, quiet.status(), quiet.err());
        assertTrue(quiet.out().contains("CPU backend"), quiet.out());
        assertFalse(quiet.err().contains("WARNING"), quiet.err());
        List<String> notGranted = new ArrayList<>(List.of("--module-path", modulePath));
        notGranted.addAll(info);
        Jvm.Result warned = Jvm.run(notGranted);
        assertTrue(warned.err().contains("restricted method"), "the check sees the warning: " + warned.err());
    }

    private static ModuleDescriptor descriptor() {
        return ModuleFinder.of(CLASSES).find("dev.elbo4j").orElseThrow(
                () -> new AssertionError("no module dev.elbo4j in " + CLASSES)).descriptor();
    }
}
