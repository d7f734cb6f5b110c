package dev.elbo4j.cpu;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives tests a {@link CpuBackend} of {@value #THREADS} threads (so that operations large
 * enough to be shared out run on both), as a parameter of a test constructor or method:
 *
 * <pre>{@code
 * @ExtendWith(CpuTestSupport.class)
 * class MyTrainingTest {
 *     private final CpuBackend backend;
 *
 *     MyTrainingTest(CpuBackend backend) {
 *         this.backend = backend;
 *     }
 * }
 * }</pre>
 *
 * One backend serves the whole test run (it keeps no state between operations); JUnit closes it at the end, as it
 * closes every {@link AutoCloseable} in the root store.
 */
public final class CpuTestSupport implements ParameterResolver {
    public static final int THREADS = 2;
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(CpuTestSupport.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext extension) {
        return parameter.getParameter().getType() == CpuBackend.class;
    }

    @Override
    public CpuBackend resolveParameter(ParameterContext parameter, ExtensionContext extension) {
        return extension.getRoot().getStore(NAMESPACE)
                .getOrComputeIfAbsent(CpuBackend.class, key -> CpuBackend.create(THREADS), CpuBackend.class);
    }
}
