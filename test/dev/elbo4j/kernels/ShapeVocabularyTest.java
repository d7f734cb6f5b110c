package dev.elbo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Elbo;
import dev.elbo4j.reference.Gaussian;
import dev.elbo4j.reference.Iwae;
import dev.elbo4j.reference.Reparameterization;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * K, B, D and L cannot be swapped at a call: every launcher, unfused method and reference function takes them as
 * one shape record in the argument order of the package doc (stream, shape, inputs, settings, outputs), and no
 * dimension travels as a loose int. Before the shape records, {@code lossAndGradient(..., samples, batch, dims,
 * ...)} accepted K and B swapped whenever B > K (every buffer was large enough) and left outputs unwritten.
 */
class ShapeVocabularyTest {
    private static final Set<Class<?>> SHAPES = Set.of(LatentShape.class, LikelihoodShape.class, SampleShape.class);
    private static final List<Class<?>> LAUNCHERS = List.of(LatentKernels.class, BernoulliKernels.class,
            GaussianKernels.class, ElboReduction.class, IwaeKernels.class, UnfusedElbo.class);
    private static final List<Class<?>> REFERENCE = List.of(Reparameterization.class, Bernoulli.class, Gaussian.class,
            Iwae.class, Elbo.class);

    @Test
    void launchersTakeTheStreamThenOneShapeAndNoDimensionAsAnInt() {
        List<Method> checked = new ArrayList<>();
        for (Class<?> launcher : LAUNCHERS) {
            for (Method method : publicMethodsTakingBuffers(launcher, DeviceBuffer.class)) {
                Class<?>[] types = method.getParameterTypes();
                String where = launcher.getSimpleName() + "." + method.getName() + Arrays.toString(types);
                assertEquals(CudaStream.class, types[0], where + ": the stream comes first");
                assertTrue(SHAPES.contains(types[1]), where + ": a shape record comes second");
                assertNoLooseDimensions(where, types);
                checked.add(method);
            }
        }
        assertTrue(checked.size() >= 15, "launch methods found: " + checked);
    }

    @Test
    void referenceFunctionsTakeOneShapeFirstAndNoDimensionAsAnInt() {
        List<Method> checked = new ArrayList<>();
        for (Class<?> reference : REFERENCE) {
            for (Method method : publicMethodsTakingBuffers(reference, float[].class)) {
                Class<?>[] types = method.getParameterTypes();
                String where = reference.getSimpleName() + "." + method.getName() + Arrays.toString(types);
                assertTrue(SHAPES.contains(types[0]), where + ": a shape record comes first");
                assertNoLooseDimensions(where, types);
                checked.add(method);
            }
        }
        assertTrue(checked.size() >= 12, "reference functions found: " + checked);
    }

    @Test
    void aShapeIsNamedWhenItIsMadeSoKAndBCannotBeConfused() {
        LikelihoodShape shape = LikelihoodShape.of(128, 784).withSamples(4);
        assertEquals(4, shape.samples());
        assertEquals(128, shape.batch());
        assertEquals(new SampleShape(4, 128), shape.sampleShape());
        assertEquals("K x B x D = 4 x 128 x 784", shape.toString());
        // A per-row reduction given a K x B shape says so instead of summing K*B values as B rows.
        IllegalArgumentException perRow = assertThrows(IllegalArgumentException.class,
                () -> Elbo.loss(shape.sampleShape(), new float[512], new float[512], 1f));
        assertTrue(perRow.getMessage().contains("K = 1"), perRow.getMessage());
    }

    /** Public instance or static methods of {@code owner} with at least one parameter of {@code bufferType}. */
    private static List<Method> publicMethodsTakingBuffers(Class<?> owner, Class<?> bufferType) {
        List<Method> out = new ArrayList<>();
        for (Method method : owner.getDeclaredMethods()) {
            if (Modifier.isPublic(method.getModifiers())
                    && Arrays.asList(method.getParameterTypes()).contains(bufferType)) {
                out.add(method);
            }
        }
        return out;
    }

    /**
     * Exactly one shape record, and the only int allowed is the Philox offset, which always follows the long seed
     * (a dimension would be a second int or one without a seed before it).
     */
    private static void assertNoLooseDimensions(String where, Class<?>[] types) {
        long shapes = Arrays.stream(types).filter(SHAPES::contains).count();
        assertEquals(1, shapes, where + ": exactly one shape record");
        for (int i = 0; i < types.length; i++) {
            if (types[i] == int.class) {
                assertTrue(i > 0 && types[i - 1] == long.class,
                        where + ": parameter " + i + " is an int that is not the Philox offset after the seed");
            }
        }
    }
}
