package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(TestRandom.Extension.class)
class PhiloxTest {

    private static final int MILLION = 1_000_000;
    /**
     * The Kolmogorov-Smirnov bound on sqrt(n) * D (one sample) or sqrt(nm/(n+m)) * D (two samples): the
     * Kolmogorov distribution exceeds 2.7 with probability 2 exp(-2 * 2.7^2) ~ 9e-7, so a correct generator
     * fails about once in a million runs.
     */
    private static final double KS_BOUND = 2.7;

    @Test
    void knownAnswersOfTheSpec() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                Philox.block(0, 0, 0, 0, 0, 0));
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                Philox.block(-1, -1, -1, -1, -1, -1));
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                Philox.block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
    }

    @Test
    void uniformIsTheTop24BitsPlusOneTimesTwoToTheMinus24() {
        assertEquals(0x1.0p-24f, Philox.uniform(0));
        assertEquals(0x1.0p-24f, Philox.uniform(0xFF), "the low 8 bits are dropped");
        assertEquals(2 * 0x1.0p-24f, Philox.uniform(0x100));
        assertEquals(1.0f, Philox.uniform(-1), "the largest word gives exactly 1");
        assertEquals((0x800000 + 1) * 0x1.0p-24, Philox.uniform(0x80000000), 0.0, "words are unsigned");
    }

    @Test
    void elementAddressingFollowsTheSpec(TestRandom random) {
        int[] words = new int[4];
        for (int trial = 0; trial < 1000; trial++) {
            long seed = random.nextLong();
            int offset = (int) random.nextLong();
            int stream = random.nextInt(3);
            // Half the trials use indices whose block number q = n / 4 needs the counter's high word.
            long n = trial % 2 == 0 ? random.nextInt(1 << 20) : random.nextLong();
            long q = n >>> 2;
            Philox.block((int) q, (int) (q >>> 32), offset, stream, (int) seed, (int) (seed >>> 32), words);
            int expected = words[(int) (n & 3)];
            assertEquals(expected, Philox.wordAt(seed, offset, stream, n), "word of n=" + Long.toUnsignedString(n));
            assertEquals(Philox.uniform(expected), Philox.uniformAt(seed, offset, stream, n));
        }
    }

    @Test
    void normalsAreBoxMullerOnWordPairsOfOneBlock(TestRandom random) {
        int[] words = new int[4];
        for (int trial = 0; trial < 1000; trial++) {
            long seed = random.nextLong();
            int offset = random.nextInt(1000);
            long q = random.nextLong() >>> 2;
            Philox.block((int) q, (int) (q >>> 32), offset, 0, (int) seed, (int) (seed >>> 32), words);
            for (int j = 0; j < 4; j++) {
                int pair = j / 2;
                // The uniform recomputed from its definition, in double: ((w >>> 8) + 1) / 2^24.
                double ua = ((words[2 * pair] >>> 8) + 1) / 16777216.0;
                double ub = ((words[2 * pair + 1] >>> 8) + 1) / 16777216.0;
                double r = Math.sqrt(-2 * Math.log(ua));
                double expected = j % 2 == 0 ? r * Math.cos(2 * Math.PI * ub) : r * Math.sin(2 * Math.PI * ub);
                assertEquals((float) expected, Philox.normalAt(seed, offset, 0, 4 * q + j),
                        Math.ulp((float) expected), "element " + j + " of block " + Long.toUnsignedString(q));
            }
        }
    }

    @Test
    void bulkDrawsEqualSingleDrawsAtUnalignedStartsAndAcrossTheIndexWrap(TestRandom random) {
        long seed = random.nextLong();
        int offset = random.nextInt(100);
        for (long firstN : new long[] {0, 1, 2, 3, 4L * random.nextInt(1000) + 3, -5}) {
            float[] normals = new float[11];
            float[] uniforms = new float[11];
            Philox.normals(seed, offset, 1, firstN, normals);
            Philox.uniforms(seed, offset, 1, firstN, uniforms);
            for (int i = 0; i < normals.length; i++) {
                assertEquals(Philox.normalAt(seed, offset, 1, firstN + i), normals[i], 0f, "normal " + (firstN + i));
                assertEquals(Philox.uniformAt(seed, offset, 1, firstN + i), uniforms[i], 0f, "uniform " + (firstN + i));
            }
        }
    }

    @Test
    void seedOffsetAndStreamEachChangeTheWords(TestRandom random) {
        long seed = random.nextLong();
        int offset = random.nextInt(1 << 30);
        long n = random.nextInt(1 << 20);
        int base = Philox.wordAt(seed, offset, 0, n);
        assertNotEquals(base, Philox.wordAt(seed ^ (1L << 40), offset, 0, n), "high seed word");
        assertNotEquals(base, Philox.wordAt(seed ^ 1, offset, 0, n), "low seed word");
        assertNotEquals(base, Philox.wordAt(seed, offset + 1, 0, n), "offset");
        assertNotEquals(base, Philox.wordAt(seed, offset, 1, n), "stream");
        assertNotEquals(base, Philox.wordAt(seed, offset, 0, n + 4), "block");
    }

    @Test
    void aMillionNormalsHaveTheMomentsAndTheCdfOfTheStandardNormal(TestRandom random) {
        float[] normals = new float[MILLION];
        Philox.normals(random.nextLong(), random.nextInt(1 << 20), 0, 0, normals);
        double n = normals.length;
        double sum = 0;
        double sumSquares = 0;
        double sumFourth = 0;
        double lagProducts = 0;
        for (int i = 0; i < normals.length; i++) {
            double v = normals[i];
            assertTrue(Double.isFinite(v), "normal " + i + " is " + v);
            sum += v;
            sumSquares += v * v;
            sumFourth += v * v * v * v;
            if (i > 0) {
                lagProducts += v * normals[i - 1];
            }
        }
        double mean = sum / n;
        double variance = sumSquares / n - mean * mean;
        // Bounds of 5 standard errors: sd(mean) = 1/sqrt(n), sd(variance) = sqrt(2/n), sd(E z^4) = sqrt(96/n).
        assertEquals(0.0, mean, 5 / Math.sqrt(n), "mean");
        assertEquals(1.0, variance, 5 * Math.sqrt(2 / n), "variance");
        assertEquals(3.0, sumFourth / n, 5 * Math.sqrt(96 / n), "fourth moment");
        // Neighbours (including the cos/sin pair of one Box-Muller draw) are uncorrelated: sd = 1/sqrt(n).
        assertEquals(0.0, lagProducts / (n - 1), 5 / Math.sqrt(n), "lag-1 correlation");

        double[] sorted = new double[normals.length];
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = normals[i];
        }
        Arrays.sort(sorted);
        double statistic = 0;
        for (int i = 0; i < sorted.length; i++) {
            double cdf = standardNormalCdf(sorted[i]);
            statistic = Math.max(statistic, Math.max((i + 1) / n - cdf, cdf - i / n));
        }
        double scaled = Math.sqrt(n) * statistic;
        assertTrue(scaled < KS_BOUND, "one-sample KS against the normal CDF: sqrt(n) D = " + scaled);
    }

    @Test
    void aMillionNormalsMatchAnIndependentGeneratorsNormals(TestRandom random) {
        float[] philox = new float[MILLION];
        Philox.normals(random.nextLong(), 0, 0, random.nextInt(1 << 20), philox);
        double[] sample = new double[MILLION];
        for (int i = 0; i < sample.length; i++) {
            sample[i] = philox[i];
        }
        // The reference sample: Marsaglia's polar method on SplittableRandom, sharing no code with Philox.
        double[] reference = new double[MILLION];
        for (int i = 0; i < reference.length; i++) {
            reference[i] = random.gaussian();
        }
        Arrays.sort(sample);
        Arrays.sort(reference);
        double statistic = 0;
        int i = 0;
        int j = 0;
        while (i < sample.length && j < reference.length) {
            double next = Math.min(sample[i], reference[j]);
            while (i < sample.length && sample[i] == next) {
                i++;
            }
            while (j < reference.length && reference[j] == next) {
                j++;
            }
            statistic = Math.max(statistic, Math.abs((double) i / sample.length - (double) j / reference.length));
        }
        double scaled = Math.sqrt(sample.length * (double) reference.length / (sample.length + reference.length))
                * statistic;
        assertTrue(scaled < KS_BOUND, "two-sample KS: sqrt(nm/(n+m)) D = " + scaled);
    }

    @Test
    void aMillionUniformsAreUniformOnTheUnitInterval(TestRandom random) {
        float[] uniforms = new float[MILLION];
        Philox.uniforms(random.nextLong(), random.nextInt(1 << 20), 1, 0, uniforms);
        Arrays.sort(uniforms);
        assertTrue(uniforms[0] > 0f && uniforms[uniforms.length - 1] <= 1f, "range (0, 1]");
        double n = uniforms.length;
        double statistic = 0;
        for (int i = 0; i < uniforms.length; i++) {
            statistic = Math.max(statistic, Math.max((i + 1) / n - uniforms[i], uniforms[i] - i / n));
        }
        assertTrue(Math.sqrt(n) * statistic < KS_BOUND, "one-sample KS against U(0,1): sqrt(n) D = "
                + Math.sqrt(n) * statistic);
    }

    /**
     * Phi(x) by Marsaglia's series (J. Stat. Software 11(4), 2004): 0.5 + phi(x) (x + x^3/3 + x^5/15 + ...),
     * all terms positive, absolute error ~1e-15 for |x| <= 8.
     */
    static double standardNormalCdf(double x) {
        if (x < -8) {
            return 0;
        }
        if (x > 8) {
            return 1;
        }
        double sum = x;
        double previous = 0;
        double term = x;
        double square = x * x;
        for (int odd = 3; sum != previous; odd += 2) {
            previous = sum;
            term *= square / odd;
            sum = previous + term;
        }
        return 0.5 + sum * Math.exp(-0.5 * square - 0.5 * Math.log(2 * Math.PI));
    }
}
