package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Library discovery; needs no CUDA backend (no "cuda" tag), and never touches the process-wide runtime. */
class LibraryDiscoveryTest {

    @Test
    void overrideNamingAMissingFileListsItAndSaysWhy(@TempDir Path directory) {
        Path missing = directory.resolve("libelbo4j-cudaemu.so");
        LibraryDiscovery discovery = LibraryDiscovery.of(missing.toString(), Map.of());

        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaRuntime.open(discovery));

        assertEquals(1, e.attempts().size(), e.getMessage());
        assertTrue(e.attempts().getFirst().contains(missing.toString()), e.getMessage());
        assertTrue(e.attempts().getFirst().contains("no such file"), e.getMessage());
        assertTrue(e.getMessage().contains("system property elbo4j.cuda.library"), e.getMessage());
        assertEquals(CudaException.NO_RESULT, e.resultName());
    }

    @Test
    void overrideNamingAFileThatIsNotALibraryReportsTheLoaderError(@TempDir Path directory) throws IOException {
        // An ELF executable (the java launcher) is a file dlopen refuses with a reason of its own.
        Path notALibrary = directory.resolve("not-a-library.so");
        Files.copy(Path.of(System.getProperty("java.home"), "bin", "java"), notALibrary);
        LibraryDiscovery discovery = LibraryDiscovery.of(notALibrary.toString(), Map.of());

        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaRuntime.open(discovery));

        String attempt = e.attempts().getFirst();
        assertTrue(attempt.contains(notALibrary.toString()) && attempt.contains("could not be loaded"), attempt);
        // The dynamic loader's own reason (dlerror), not only the JDK's generic "Cannot open library".
        assertFalse(attempt.endsWith("Cannot open library: " + notALibrary), attempt);
    }

    @Test
    void thePropertyWinsOverTheEnvironmentAndBlankMeansUnset() {
        Map<String, String> environment = Map.of(LibraryDiscovery.LIBRARY_ENV, "/from/env/libemu.so");

        assertEquals("/from/property/libemu.so",
                LibraryDiscovery.of("/from/property/libemu.so", environment).override().orElseThrow().library());
        LibraryDiscovery.Override fromEnvironment = LibraryDiscovery.of("  ", environment).override().orElseThrow();
        assertEquals("/from/env/libemu.so", fromEnvironment.library());
        assertTrue(fromEnvironment.origin().contains("ELBO4J_CUDA_LIBRARY"), fromEnvironment.origin());
        assertTrue(LibraryDiscovery.of(null, Map.of(LibraryDiscovery.LIBRARY_ENV, "")).override().isEmpty());
    }

    @Test
    void withoutOverrideTheDriverComesFromTheSystemLoader() {
        List<LibraryDiscovery.Candidate> candidates = LibraryDiscovery.of(null, Map.of()).driverCandidates();

        assertEquals(1, candidates.size());
        assertTrue(candidates.getFirst().file().isEmpty());
        assertEquals("libcuda.so.1", candidates.getFirst().loaderName());
    }

    @Test
    void cublasIsSearchedDirectoryByDirectoryThenVersionThenTheSystemLoader() {
        Map<String, String> environment = Map.of(
                "ELBO4J_CUDA_LIBS", "/opt/a" + java.io.File.pathSeparator + "/opt/b",
                "CUDA_HOME", "/opt/cuda-home",
                "CUDA_PATH", "/opt/cuda-path");

        List<String> places = LibraryDiscovery.of(null, environment).cublasCandidates().stream()
                .map(c -> c.file().map(Path::toString).orElse("loader:" + c.loaderName()))
                .toList();

        assertEquals(List.of(
                "/opt/a/libcublas.so.13", "/opt/a/libcublas.so.12",
                "/opt/b/libcublas.so.13", "/opt/b/libcublas.so.12",
                "/opt/cuda-home/lib64/libcublas.so.13", "/opt/cuda-home/lib64/libcublas.so.12",
                "/opt/cuda-path/lib64/libcublas.so.13", "/opt/cuda-path/lib64/libcublas.so.12",
                "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12",
                "loader:libcublas.so.13", "loader:libcublas.so.12"), places);
    }

    @Test
    void anOverrideAlsoProvidesCublas() {
        List<LibraryDiscovery.Candidate> candidates =
                LibraryDiscovery.of("/x/libelbo4j-cudaemu.so", Map.of("CUDA_HOME", "/opt/cuda")).cublasCandidates();

        assertEquals(1, candidates.size());
        assertEquals(Path.of("/x/libelbo4j-cudaemu.so"), candidates.getFirst().file().orElseThrow());
    }

    @Test
    void whenNoCandidateLoadsTheExceptionListsEveryPlaceTried(@TempDir Path directory) {
        List<LibraryDiscovery.Candidate> candidates = List.of(
                LibraryDiscovery.Candidate.file(directory.resolve("a/libcublas.so.13"), "ELBO4J_CUDA_LIBS"),
                LibraryDiscovery.Candidate.file(directory.resolve("a/libcublas.so.12"), "ELBO4J_CUDA_LIBS"),
                LibraryDiscovery.Candidate.file(directory, "CUDA_HOME"));

        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> LibraryDiscovery.loadFirst(candidates, "no cuBLAS library could be loaded", "install it"));

        assertEquals(3, e.attempts().size(), e.getMessage());
        assertTrue(e.attempts().get(0).contains("a/libcublas.so.13") && e.attempts().get(0).endsWith("no such file"),
                e.getMessage());
        assertTrue(e.attempts().get(1).contains("a/libcublas.so.12"), e.getMessage());
        assertTrue(e.attempts().get(2).endsWith("not a regular file"), e.getMessage());
        assertTrue(e.getMessage().startsWith("no cuBLAS library could be loaded; tried:"), e.getMessage());
        assertTrue(e.getMessage().endsWith("install it"), e.getMessage());
    }
}
