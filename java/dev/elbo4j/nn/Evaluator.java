package dev.elbo4j.nn;

import java.util.Objects;

import dev.elbo4j.data.Idx;
import dev.elbo4j.nn.Backend.Bytes;
import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.nn.Backend.Ints;
import dev.elbo4j.nn.Backend.StepState;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * Measures a {@link Vae} on a data set: the mean ELBO (beta = 1, one sample per point, binarization as trained),
 * the importance-weighted estimate of log p(x) with K samples (in chunks of at most
 * {@link Options#maxRowsPerPass()} decoder rows, so K = 5000 fits in memory), the gap between them, the KL per
 * latent dimension and the active units; and decodes reconstructions, prior samples and given latent points as
 * arrays.
 *
 * <p>Deterministic: the noise of an evaluation uses fixed Philox offsets ({@link #ELBO_OFFSET}, and
 * {@link #IWAE_OFFSET} + chunk for the IWAE), so evaluating the same model twice gives the same numbers.
 */
public final class Evaluator {
    /** The Philox offset of the ELBO's noise and of dynamic binarization in an evaluation. */
    public static final long ELBO_OFFSET = 0xFFFF_FFFEL;
    /** The Philox offset of the IWAE's first chunk of samples; chunk c uses this + c. */
    public static final long IWAE_OFFSET = 0x8000_0000L;
    /** Active units: dimensions whose posterior mean varies across the data with variance above this (Burda et al.). */
    public static final double ACTIVE_UNIT_THRESHOLD = 0.01;

    /**
     * How an evaluation runs.
     *
     * @param batchSize      rows per pass of the ELBO
     * @param iwaeSamples    K of the IWAE estimate; 0 to skip it
     * @param maxRowsPerPass the most decoder rows (data rows x samples) one IWAE pass holds, which bounds memory
     */
    public record Options(int batchSize, int iwaeSamples, int maxRowsPerPass) {
        /** Checks the values. */
        public Options {
            if (batchSize < 1) {
                throw new IllegalArgumentException("the evaluation batch size must be at least 1 but is " + batchSize);
            }
            if (iwaeSamples < 0) {
                throw new IllegalArgumentException("the IWAE K must be at least 0 (0: skip) but is " + iwaeSamples);
            }
            if (maxRowsPerPass < 1) {
                throw new IllegalArgumentException("maxRowsPerPass must be at least 1 but is " + maxRowsPerPass);
            }
        }

        /** Batches of 500, no IWAE, passes of at most 8192 decoder rows. */
        public static Options defaults() {
            return new Options(500, 0, 8192);
        }

        /** These options with an IWAE estimate of {@code k} samples. */
        public Options withIwaeSamples(int k) {
            return new Options(batchSize, k, maxRowsPerPass);
        }
    }

    private Evaluator() {
    }

    /** Evaluates {@code vae} on {@code data} (images of the model's D pixels). */
    public static Evaluation evaluate(Vae vae, Idx.Images data, Options options) {
        Objects.requireNonNull(vae, "vae");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(options, "options");
        VaeSpec spec = vae.spec();
        checkImages(data, spec);
        Backend backend = vae.backend();
        int rows = data.count();
        int latent = spec.latent();
        boolean binarize = spec.binarization() == BinarizationMode.DYNAMIC;
        int batch = Math.min(options.batchSize(), rows);
        long started = System.nanoTime();
        try (Resident resident = new Resident(backend, Pixels.prepare(data.pixels(), spec), rows);
             Workspace work = new Workspace(backend, vae.layout(), batch, 1, false)) {
            double elboSum = 0;
            double logPxSum = 0;
            double klSum = 0;
            double[] klDimension = new double[latent];
            double[] meanSum = new double[latent];
            double[] meanSquareSum = new double[latent];
            float[] logProb = new float[batch];
            float[] kl = new float[batch];
            float[] muLogvar = new float[batch * 2 * latent];
            for (int start = 0; start < rows; start += batch) {
                int n = Math.min(batch, rows - start);
                resident.gather(vae, work, start, n, binarize, ELBO_OFFSET);
                vae.encode(work, n);
                backend.latentForward(LatentShape.of(n, latent), work.muLogvar(), spec.seed(), resident.state, work.z,
                        work.kl, null);
                vae.decode(work, work.z, latent, n);
                vae.likelihood(work, LikelihoodShape.of(n, spec.inputs()), null);
                download(backend, work.logProb, logProb, n);
                download(backend, work.kl, kl, n);
                download(backend, work.muLogvar(), muLogvar, n * 2 * latent);
                for (int b = 0; b < n; b++) {
                    elboSum += (double) logProb[b] - kl[b];
                    logPxSum += logProb[b];
                    klSum += kl[b];
                    for (int l = 0; l < latent; l++) {
                        double mu = muLogvar[b * 2 * latent + l];
                        double logvar = muLogvar[b * 2 * latent + latent + l];
                        klDimension[l] += 0.5 * (mu * mu + Math.exp(logvar) - 1.0 - logvar);
                        meanSum[l] += mu;
                        meanSquareSum[l] += mu * mu;
                    }
                }
            }
            double[] variance = new double[latent];
            int active = 0;
            for (int l = 0; l < latent; l++) {
                klDimension[l] /= rows;
                double mean = meanSum[l] / rows;
                variance[l] = Math.max(0.0, meanSquareSum[l] / rows - mean * mean);
                if (variance[l] > ACTIVE_UNIT_THRESHOLD) {
                    active++;
                }
            }
            double elbo = elboSum / rows;
            double elboSeconds = (System.nanoTime() - started) / 1e9;
            double iwae = Double.NaN;
            double iwaeSeconds = 0;
            if (options.iwaeSamples() > 0) {
                long iwaeStarted = System.nanoTime();
                iwae = iwae(vae, resident, options, binarize);
                iwaeSeconds = (System.nanoTime() - iwaeStarted) / 1e9;
            }
            return new Evaluation(rows, elbo, logPxSum / rows, klSum / rows, klDimension, variance, active,
                    options.iwaeSamples(), iwae, iwae - elbo, elboSeconds, iwaeSeconds);
        }
    }

    /** The mean over rows of the IWAE-K estimate, chunked over samples and merged by log-sum-exp in double. */
    private static double iwae(Vae vae, Resident resident, Options options, boolean binarize) {
        VaeSpec spec = vae.spec();
        Backend backend = vae.backend();
        int k = options.iwaeSamples();
        int rows = resident.rows;
        int latent = spec.latent();
        int batch = Math.max(1, Math.min(Math.min(options.batchSize(), rows), options.maxRowsPerPass()));
        int chunk = Math.max(1, Math.min(k, options.maxRowsPerPass() / batch));
        double total = 0;
        try (Workspace work = new Workspace(backend, vae.layout(), batch, chunk, false);
             Floats bounds = backend.allocateFloats(batch)) {
            float[] bound = new float[batch];
            double[] logSum = new double[batch];
            for (int start = 0; start < rows; start += batch) {
                int n = Math.min(batch, rows - start);
                resident.gather(vae, work, start, n, binarize, ELBO_OFFSET);
                vae.encode(work, n);
                java.util.Arrays.fill(logSum, Double.NEGATIVE_INFINITY);
                for (int first = 0, c = 0; first < k; first += chunk, c++) {
                    int samples = Math.min(chunk, k - first);
                    backend.writeState(resident.state, StepStatus.initial().atStep(IWAE_OFFSET + c));
                    backend.latentForward(LatentShape.of(n, latent).withSamples(samples), work.muLogvar(),
                            spec.seed(), resident.state, work.z, null, work.logRatio);
                    vae.decode(work, work.z, latent, samples * n);
                    vae.likelihood(work, LikelihoodShape.of(n, spec.inputs()).withSamples(samples), null);
                    backend.iwaeBound(new SampleShape(samples, n), work.logProb, work.logRatio, bounds);
                    download(backend, bounds, bound, n);
                    double logSamples = Math.log(samples);
                    for (int b = 0; b < n; b++) {
                        logSum[b] = logAddExp(logSum[b], bound[b] + logSamples);
                    }
                }
                for (int b = 0; b < n; b++) {
                    total += logSum[b] - Math.log(k);
                }
            }
        }
        return total / rows;
    }

    private static double logAddExp(double a, double b) {
        if (a == Double.NEGATIVE_INFINITY) {
            return b;
        }
        if (b == Double.NEGATIVE_INFINITY) {
            return a;
        }
        double max = Math.max(a, b);
        return max + Math.log(Math.exp(a - max) + Math.exp(b - max));
    }

    /**
     * The model's reconstructions of {@code count} images ({@code count x D} pixels): each encoded to its posterior
     * mean, decoded, and returned as the likelihood's mean ({@code count x D}: sigmoid of the logits for Bernoulli,
     * the means for Gaussian).
     */
    public static float[] reconstruct(Vae vae, byte[] pixels, int count) {
        Objects.requireNonNull(vae, "vae");
        Objects.requireNonNull(pixels, "pixels");
        VaeSpec spec = vae.spec();
        if (count < 1 || (long) count * spec.inputs() != pixels.length) {
            throw new IllegalArgumentException(pixels.length + " pixels are not " + count + " images of D = "
                    + spec.inputs());
        }
        Backend backend = vae.backend();
        try (Resident resident = new Resident(backend, Pixels.prepare(pixels, spec), count);
             Workspace work = new Workspace(backend, vae.layout(), count, 1, false)) {
            resident.gather(vae, work, 0, count, spec.binarization() == BinarizationMode.DYNAMIC, ELBO_OFFSET);
            vae.encode(work, count);
            vae.decode(work, work.muLogvar(), 2 * spec.latent(), count);
            return means(vae, work, count);
        }
    }

    /**
     * {@code count} samples from the model: z from the prior N(0, I) (Philox normals of {@code seed}, offset 0),
     * decoded, returned as the likelihood's mean ({@code count x D}).
     */
    public static float[] sample(Vae vae, int count, long seed) {
        Objects.requireNonNull(vae, "vae");
        if (count < 1) {
            throw new IllegalArgumentException("the sample count must be at least 1 but is " + count);
        }
        VaeSpec spec = vae.spec();
        Backend backend = vae.backend();
        try (Workspace work = new Workspace(backend, vae.layout(), count, 1, false);
             Floats prior = backend.allocateFloats((long) count * 2 * spec.latent());
             StepState state = backend.allocateState()) {
            // mu = 0, logvar = 0: the reparameterization's z is the noise itself.
            backend.latentForward(LatentShape.of(count, spec.latent()), prior, seed, state, work.z, null, null);
            vae.decode(work, work.z, spec.latent(), count);
            return means(vae, work, count);
        }
    }

    /**
     * The decoder at {@code count} given latent points ({@code z}: {@code count x L}, row-major), returned as the
     * likelihood's mean ({@code count x D}), e.g. for a traversal of the latent space.
     */
    public static float[] decode(Vae vae, float[] z, int count) {
        Objects.requireNonNull(vae, "vae");
        Objects.requireNonNull(z, "z");
        VaeSpec spec = vae.spec();
        if (count < 1 || (long) count * spec.latent() != z.length) {
            throw new IllegalArgumentException(z.length + " values are not " + count + " latent points of L = "
                    + spec.latent());
        }
        Backend backend = vae.backend();
        try (Workspace work = new Workspace(backend, vae.layout(), count, 1, false)) {
            backend.upload(z, work.z);
            vae.decode(work, work.z, spec.latent(), count);
            return means(vae, work, count);
        }
    }

    private static float[] means(Vae vae, Workspace work, int count) {
        float[] out = new float[count * vae.spec().inputs()];
        download(vae.backend(), work.decoderOutput(), out, out.length);
        if (vae.spec().likelihood() == Likelihood.BERNOULLI) {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) dev.elbo4j.reference.Bernoulli.sigmoid(out[i]);
            }
        }
        return out;
    }

    private static void download(Backend backend, Floats source, float[] destination, int count) {
        if (count == destination.length && count == source.size()) {
            backend.download(source, destination);
            return;
        }
        float[] part = new float[count];
        backend.download(source.slice(0, count), part);
        System.arraycopy(part, 0, destination, 0, count);
    }

    private static void checkImages(Idx.Images data, VaeSpec spec) {
        if (data.pixelsPerImage() != spec.inputs()) {
            throw new IllegalArgumentException("the images have " + data.rows() + " x " + data.columns() + " = "
                    + data.pixelsPerImage() + " pixels but the model expects D = " + spec.inputs());
        }
        if (data.count() < 1) {
            throw new IllegalArgumentException("the data set is empty");
        }
    }

    /** A data set resident in backend memory, read in order through an identity index. */
    private static final class Resident implements AutoCloseable {
        final Bytes data;
        final Ints order;
        final StepState state;
        final int rows;
        final Backend backend;

        Resident(Backend backend, byte[] pixels, int rows) {
            this.backend = backend;
            this.rows = rows;
            this.data = backend.allocateBytes(pixels.length);
            backend.upload(pixels, data);
            this.order = backend.allocateInts(rows);
            int[] identity = new int[rows];
            for (int i = 0; i < rows; i++) {
                identity[i] = i;
            }
            backend.upload(identity, order);
            this.state = backend.allocateState();
        }

        /** Rows {@code [start, start + n)} into {@code work.x}, with the state's step at {@code offset}. */
        void gather(Vae vae, Workspace work, int start, int n, boolean binarize, long offset) {
            StepStatus at = StepStatus.initial().atStep(offset);
            backend.writeState(state, new StepStatus(at.step(), 0, start, 0, 0, at.loss(), at.elbo(), at.kl(),
                    at.beta(), at.gradientNorm(), 0, 0, 0, 0));
            backend.gatherRows(data, vae.spec().inputs(), order, state, n, binarize, vae.spec().seed(), work.x);
        }

        @Override
        public void close() {
            state.close();
            order.close();
            data.close();
        }
    }
}
