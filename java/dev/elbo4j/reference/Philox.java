package dev.elbo4j.reference;

import java.util.Objects;

/**
 * The Philox4x32-10 counter-based generator and the noise addressing of the contract
 * ({@code docs/numerical-contract.md}, "Noise"): the same integer words on the CPU and the GPU, so a kernel's
 * backward pass can regenerate the noise of its forward pass instead of storing it.
 *
 * <p>A draw is named by {@code (seed: u64, offset: u32, stream: u32, n: u64)}: key = (low 32 bits of seed,
 * high 32 bits of seed); counter = (low 32 bits of q, high 32 bits of q, offset, stream) with {@code q = n / 4};
 * element {@code n} uses output word {@code n mod 4}. Unsigned quantities are carried in Java's signed
 * {@code int}/{@code long} with the same bits.
 *
 * <h2>Precision of the floats</h2>
 * <ul>
 *   <li>Uniform: {@code u = ((w >>> 8) + 1) * 2^-24}, in (0, 1], exact in float32.</li>
 *   <li>Normal (Box-Muller on words {@code (w0, w1)} for elements 4q+0, 4q+1 and {@code (w2, w3)} for 4q+2,
 *       4q+3): {@code r = sqrt(-2 ln u_a)}, {@code t = 2 pi u_b}, {@code r cos t} and {@code r sin t}.
 *       The reference evaluates this <em>in double</em> from the exact float uniforms and rounds each normal
 *       once to float32, so it is the correctly rounded value up to double's own error (~1e-16). A CUDA kernel
 *       matches it within a few ulp with {@code logf}, {@code sqrtf} and {@code sincospif(2.0f * u_b, ...)}:
 *       {@code 2 * u_b} is exact in float, so no rounding of {@code 2 pi u} enters the argument. A kernel that
 *       rounds {@code 2 pi u} to float before {@code sinf}/{@code cosf} is off by up to ~4e-7 * r in absolute
 *       terms (large relative error only where the normal is near 0), and fast-math intrinsics
 *       ({@code __logf}, {@code __sinf}) are worse still.</li>
 * </ul>
 */
public final class Philox {

    /** Stream of the reparameterization noise {@code eps[k][b][l]}, element {@code n = (k*B + b)*L + l}. */
    public static final int STREAM_REPARAMETERIZATION = 0;
    /** Stream of the dynamic-binarization uniforms for {@code x[b][d]}, element {@code n = b*D + d}. */
    public static final int STREAM_BINARIZATION = 1;

    private static final int MULTIPLIER_0 = 0xD2511F53;
    private static final int MULTIPLIER_1 = 0xCD9E8D57;
    private static final int WEYL_0 = 0x9E3779B9;
    private static final int WEYL_1 = 0xBB67AE85;
    private static final int ROUNDS = 10;
    /** 2^-24: the spacing of the uniform grid. */
    private static final float UNIFORM_STEP = 0x1.0p-24f;
    private static final double TWO_PI = 2.0 * Math.PI;

    private Philox() {
    }

    /**
     * One Philox4x32-10 block: 10 rounds on the counter, the key bumped by the Weyl constants between rounds
     * (Random123's {@code philox4x32_R(10, ctr, key)}).
     *
     * @param out receives the 4 output words; length at least 4
     */
    public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        Objects.requireNonNull(out, "out");
        if (out.length < 4) {
            throw new IllegalArgumentException("out has " + out.length + " elements but a Philox block writes 4");
        }
        for (int round = 0; round < ROUNDS; round++) {
            if (round > 0) {
                k0 += WEYL_0;
                k1 += WEYL_1;
            }
            long product0 = (MULTIPLIER_0 & 0xFFFFFFFFL) * (c0 & 0xFFFFFFFFL);
            long product1 = (MULTIPLIER_1 & 0xFFFFFFFFL) * (c2 & 0xFFFFFFFFL);
            int hi0 = (int) (product0 >>> 32);
            int lo0 = (int) product0;
            int hi1 = (int) (product1 >>> 32);
            int lo1 = (int) product1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /** {@link #block(int, int, int, int, int, int, int[])} into a new array of 4 words. */
    public static int[] block(int c0, int c1, int c2, int c3, int k0, int k1) {
        int[] out = new int[4];
        block(c0, c1, c2, c3, k0, k1, out);
        return out;
    }

    /** The uniform of one word: {@code ((w >>> 8) + 1) * 2^-24}, in (0, 1], exact in float32. */
    public static float uniform(int word) {
        return ((word >>> 8) + 1) * UNIFORM_STEP;
    }

    /** The 4 words of the block that holds element {@code n}: elements {@code 4*(n/4) .. 4*(n/4)+3}. */
    static void blockOf(long seed, int offset, int stream, long n, int[] out) {
        long q = n >>> 2;
        block((int) q, (int) (q >>> 32), offset, stream, (int) seed, (int) (seed >>> 32), out);
    }

    /** The integer word of element {@code n}. */
    public static int wordAt(long seed, int offset, int stream, long n) {
        int[] words = new int[4];
        blockOf(seed, offset, stream, n, words);
        return words[(int) (n & 3)];
    }

    /** The uniform of element {@code n}, in (0, 1]. */
    public static float uniformAt(long seed, int offset, int stream, long n) {
        return uniform(wordAt(seed, offset, stream, n));
    }

    /** The standard normal of element {@code n} (Box-Muller, see the class comment for its precision). */
    public static float normalAt(long seed, int offset, int stream, long n) {
        int[] words = new int[4];
        blockOf(seed, offset, stream, n, words);
        return normalFromBlock(words, (int) (n & 3));
    }

    /**
     * Uniforms of elements {@code firstN, firstN + 1, ...}: {@code out[i]} is element {@code firstN + i}
     * (indices wrap modulo 2^64 like the unsigned counter).
     */
    public static void uniforms(long seed, int offset, int stream, long firstN, float[] out) {
        Objects.requireNonNull(out, "out");
        int[] words = new int[4];
        long loadedBlock = -1;
        boolean loaded = false;
        for (int i = 0; i < out.length; i++) {
            long n = firstN + i;
            if (!loaded || (n >>> 2) != loadedBlock) {
                blockOf(seed, offset, stream, n, words);
                loadedBlock = n >>> 2;
                loaded = true;
            }
            out[i] = uniform(words[(int) (n & 3)]);
        }
    }

    /**
     * Standard normals of elements {@code firstN, firstN + 1, ...}: {@code out[i]} is element {@code firstN + i}
     * (the same values as {@link #normalAt}, one Philox block per 4 elements).
     */
    public static void normals(long seed, int offset, int stream, long firstN, float[] out) {
        normals(seed, offset, stream, firstN, out, 0, Objects.requireNonNull(out, "out").length);
    }

    /** Normals of elements {@code firstN .. firstN + count - 1} into {@code out[outStart .. outStart + count)}. */
    static void normals(long seed, int offset, int stream, long firstN, float[] out, int outStart, int count) {
        int[] words = new int[4];
        long loadedBlock = -1;
        boolean loaded = false;
        for (int i = 0; i < count; i++) {
            long n = firstN + i;
            if (!loaded || (n >>> 2) != loadedBlock) {
                blockOf(seed, offset, stream, n, words);
                loadedBlock = n >>> 2;
                loaded = true;
            }
            out[outStart + i] = normalFromBlock(words, (int) (n & 3));
        }
    }

    /** Element {@code j} (0..3) of a block's Box-Muller normals: pairs (w0, w1) and (w2, w3); cos first, then sin. */
    private static float normalFromBlock(int[] words, int j) {
        int pair = j >> 1;
        double radius = Math.sqrt(-2.0 * Math.log(uniform(words[2 * pair])));
        double angle = TWO_PI * uniform(words[2 * pair + 1]);
        return (float) (radius * ((j & 1) == 0 ? Math.cos(angle) : Math.sin(angle)));
    }
}
