package dev.elbo4j.cuda;

import java.util.Optional;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.opentest4j.TestAbortedException;

/**
 * JUnit 5 extension for tests that need a CUDA backend (a GPU, or the CPU emulator selected with
 * {@code -Delbo4j.cuda.library=...}). Once per test class it opens {@link CudaRuntime#get()} and a
 * {@link CudaContext} on device 0, and closes the context after the class. Test constructors and
 * {@code @BeforeAll}/{@code @BeforeEach}/{@code @Test} methods receive it as a {@link CudaContext} (or
 * {@link CudaRuntime}) parameter:
 *
 * <pre>{@code
 * @Tag("cuda")
 * @ExtendWith(CudaTestSupport.class)
 * class MyKernelTest {
 *     private final CudaContext cuda;
 *
 *     MyKernelTest(CudaContext cuda) {
 *         this.cuda = cuda;
 *     }
 * }
 * }</pre>
 *
 * When no backend is usable, the class is SKIPPED (disabled, so the build's summary counts it as skipped) with
 * the reason printed, unless system property {@code elbo4j.test.requireBackend} or environment variable
 * {@code ELBO4J_TEST_REQUIRE_BACKEND} is "true" (CI sets it): then the class FAILS with the reason. Every class
 * that uses it carries {@code @Tag("cuda")}.
 *
 * <p>On the CPU emulator, a failing test's message starts with the emulator's fiber schedule (environment
 * variable {@code ELBO4J_EMU_SCHEDULE}, which the pom sets from {@code -Delbo4j.emu.schedule}): a race between
 * the threads of a block may show under one schedule only. A seeded schedule depends on the order of launches
 * too, so the same tests with the same schedule and data seeds repeat a run.
 */
public final class CudaTestSupport implements ExecutionCondition, BeforeAllCallback, AfterAllCallback,
        ParameterResolver, TestExecutionExceptionHandler {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(CudaTestSupport.class);
    private static final String CONTEXT_KEY = "context";

    /** Whether a missing backend fails the tests instead of skipping them. */
    public static boolean backendRequired() {
        return "true".equalsIgnoreCase(System.getProperty("elbo4j.test.requireBackend", "").strip())
                || "true".equalsIgnoreCase(Optional.ofNullable(System.getenv("ELBO4J_TEST_REQUIRE_BACKEND")).orElse("").strip());
    }

    /**
     * Skips the calling test (or fails it when a backend is required) with {@code reason}.
     *
     * @param what what cannot run, e.g. the test class's name
     */
    public static void skipOrFail(String what, String reason) {
        String message = what + ": no usable CUDA backend: " + reason;
        System.err.println("[elbo4j] " + message);
        if (backendRequired()) {
            Assertions.fail(message + "\n(a backend is required: elbo4j.test.requireBackend / ELBO4J_TEST_REQUIRE_BACKEND)");
        }
        Assumptions.abort(message);
    }

    /**
     * A cuBLAS handle on {@code stream}, or a skip (a failure when a backend is required) when cuBLAS cannot be
     * loaded, e.g. on a GPU machine with a driver but no cuBLAS runtime.
     */
    public static Cublas createCublasOrSkip(CudaContext context, CudaStream stream) {
        try {
            return context.createCublas(stream);
        } catch (CudaUnavailableException e) {
            skipOrFail("cuBLAS", e.getMessage());
            throw new AssertionError("unreachable: skipOrFail always throws", e);
        }
    }

    /**
     * Disables the class when no backend loads and none is required; a required backend leaves it enabled so that
     * {@link #beforeAll} fails it.
     */
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext extension) {
        Optional<String> unavailable = CudaRuntime.unavailableReason();
        if (unavailable.isEmpty()) {
            return ConditionEvaluationResult.enabled("a CUDA backend is loaded");
        }
        if (backendRequired()) {
            return ConditionEvaluationResult.enabled("a CUDA backend is required: the class fails in beforeAll");
        }
        String message = extension.getDisplayName() + ": no usable CUDA backend: " + unavailable.get();
        if (extension.getTestMethod().isEmpty()) {
            System.err.println("[elbo4j] " + message);
        }
        return ConditionEvaluationResult.disabled(message);
    }

    @Override
    public void beforeAll(ExtensionContext extension) {
        Optional<String> unavailable = CudaRuntime.unavailableReason();
        if (unavailable.isPresent()) {
            skipOrFail(extension.getDisplayName(), unavailable.get());
        }
        CudaContext context = CudaRuntime.get().openContext(0);
        extension.getStore(NAMESPACE).put(CONTEXT_KEY, context);
    }

    @Override
    public void afterAll(ExtensionContext extension) {
        CudaContext context = extension.getStore(NAMESPACE).remove(CONTEXT_KEY, CudaContext.class);
        if (context != null) {
            context.close();
        }
    }

    /**
     * The emulator's fiber schedule when the tests run on the emulator (a library chosen with
     * {@code elbo4j.cuda.library}) and {@code ELBO4J_EMU_SCHEDULE} names one, else empty.
     */
    public static Optional<String> emulatorSchedule() {
        String library = System.getProperty("elbo4j.cuda.library", "").strip();
        String schedule = Optional.ofNullable(System.getenv("ELBO4J_EMU_SCHEDULE")).orElse("").strip();
        return library.isEmpty() || schedule.isEmpty() ? Optional.empty() : Optional.of(schedule);
    }

    @Override
    public void handleTestExecutionException(ExtensionContext extension, Throwable failure) throws Throwable {
        Optional<String> schedule = emulatorSchedule();
        if (failure instanceof TestAbortedException || schedule.isEmpty()) {
            throw failure; // a skipped test stays skipped
        }
        AssertionError tagged = new AssertionError("emulator schedule " + schedule.get() + " (the same tests with "
                + "-Delbo4j.emu.schedule=" + schedule.get() + " and the same seeds repeat it): " + failure.getMessage(),
                failure);
        tagged.setStackTrace(failure.getStackTrace());
        throw tagged;
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext extension) {
        Class<?> type = parameter.getParameter().getType();
        return type == CudaContext.class || type == CudaRuntime.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext extension) {
        if (parameter.getParameter().getType() == CudaRuntime.class) {
            return CudaRuntime.get();
        }
        CudaContext context = extension.getStore(NAMESPACE).get(CONTEXT_KEY, CudaContext.class);
        if (context == null) {
            throw new IllegalStateException("CudaTestSupport: no context (is the extension registered on the class?)");
        }
        return context;
    }
}
