package dev.elbo4j.reference;

import java.util.SplittableRandom;

import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.opentest4j.TestAbortedException;

/**
 * Fresh, reproducible random inputs for tests, including the awkward values the spec asks for.
 *
 * <p>Use it as a JUnit extension ({@code @ExtendWith(TestRandom.Extension.class)}) and take a {@code TestRandom}
 * parameter: each test gets its own seed from {@link System#nanoTime()}, or {@code -Delbo4j.test.seed=N} when
 * given, prints it, and any failure's message starts with the seed and the option that reproduces it.
 */
public final class TestRandom {

    /** The system property that fixes the seed of every test. */
    public static final String SEED_PROPERTY = "elbo4j.test.seed";

    private final long seed;
    private final SplittableRandom random;

    public TestRandom(long seed) {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
    }

    public long seed() {
        return seed;
    }

    /** "seed=N (-Delbo4j.test.seed=N reproduces)". */
    public String tag() {
        return "seed=" + seed + " (-D" + SEED_PROPERTY + "=" + seed + " reproduces)";
    }

    public long nextLong() {
        return random.nextLong();
    }

    /** Uniform in [0, bound). */
    public int nextInt(int bound) {
        return random.nextInt(bound);
    }

    /** Uniform in [from, to). */
    public double uniform(double from, double to) {
        return random.nextDouble(from, to);
    }

    /** A standard normal (Marsaglia polar method on this generator). */
    public double gaussian() {
        double a;
        double b;
        double s;
        do {
            a = random.nextDouble(-1.0, 1.0);
            b = random.nextDouble(-1.0, 1.0);
            s = a * a + b * b;
        } while (s >= 1.0 || s == 0.0);
        return a * Math.sqrt(-2.0 * Math.log(s) / s);
    }

    /** n normals times {@code scale}. */
    public float[] normals(int n, double scale) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (scale * gaussian());
        }
        return out;
    }

    /** n values uniform in [from, to). */
    public float[] uniforms(int n, double from, double to) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) uniform(from, to);
        }
        return out;
    }

    /**
     * Logits: mostly N(0, 3^2), with about one in eight beyond +-30 (up to +-100) and the exact values
     * +-100 and 0 planted at random places when n allows.
     */
    public float[] logits(int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (random.nextInt(8)) {
                case 0 -> (float) ((random.nextBoolean() ? 1 : -1) * uniform(30.0, 100.0));
                default -> (float) (3.0 * gaussian());
            };
        }
        plant(out, 100f, -100f, 0f);
        return out;
    }

    /** Data in [0, 1]: about a quarter exactly 0, a quarter exactly 1, the rest uniform. */
    public float[] unitValues(int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (random.nextInt(4)) {
                case 0 -> 0f;
                case 1 -> 1f;
                default -> (float) random.nextDouble();
            };
        }
        plant(out, 0f, 1f);
        return out;
    }

    /** Log-variances uniform in [-20, 10], with the ends planted. */
    public float[] logvars(int n) {
        float[] out = uniforms(n, -20.0, 10.0);
        plant(out, -20f, 10f);
        return out;
    }

    /** Random bytes (unsigned pixels), with 0 and 255 planted. */
    public byte[] pixels(int n) {
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            out[i] = (byte) random.nextInt(256);
        }
        if (n >= 2) {
            out[random.nextInt(n)] = 0;
            out[random.nextInt(n)] = (byte) 255;
        }
        return out;
    }

    /** Writes each of {@code values} at a distinct random index when the array is long enough. */
    private void plant(float[] out, float... values) {
        if (out.length < 2 * values.length) {
            return;
        }
        int start = random.nextInt(out.length - values.length + 1);
        System.arraycopy(values, 0, out, start, values.length);
    }

    /** The JUnit 5 side: one seeded {@code TestRandom} per test, printed, and named in failures. */
    public static final class Extension implements BeforeEachCallback, ParameterResolver, TestExecutionExceptionHandler {

        private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(TestRandom.class);

        @Override
        public void beforeEach(ExtensionContext context) {
            testRandom(context);
        }

        @Override
        public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
            return parameter.getParameter().getType() == TestRandom.class;
        }

        @Override
        public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
            return testRandom(context);
        }

        @Override
        public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
            if (failure instanceof TestAbortedException) {
                throw failure; // an assumption that does not hold skips the test: it must not become a failure
            }
            TestRandom random = testRandom(context);
            AssertionError withSeed = new AssertionError(random.tag() + ": " + failure.getMessage(), failure);
            withSeed.setStackTrace(failure.getStackTrace());
            throw withSeed;
        }

        private static TestRandom testRandom(ExtensionContext context) {
            return context.getStore(NAMESPACE).getOrComputeIfAbsent("random", key -> {
                String fixed = System.getProperty(SEED_PROPERTY);
                long seed = fixed == null || fixed.isBlank() ? System.nanoTime() : Long.parseLong(fixed.trim());
                TestRandom random = new TestRandom(seed);
                System.out.println("[" + context.getRequiredTestClass().getSimpleName() + "."
                        + context.getDisplayName() + "] " + random.tag());
                return random;
            }, TestRandom.class);
        }
    }
}
