package dev.elbo4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cpu.CpuTestSupport;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.BinarizationMode;
import dev.elbo4j.nn.Likelihood;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.nn.TrainingState;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;
import dev.elbo4j.reference.TestRandom;

/**
 * Checkpoints: what is saved comes back bit for bit (spec, parameters, training state with NaN and extreme
 * values), and a file that is truncated, of another model, edited or foreign is refused with a message naming the
 * defect.
 */
@ExtendWith({CpuTestSupport.class, TestRandom.Extension.class})
class CheckpointTest {
    private final CpuBackend backend;

    CheckpointTest(CpuBackend backend) {
        this.backend = backend;
    }

    private static VaeSpec spec(long seed) {
        return VaeSpec.builder(30, 4).encoderHidden(11, 7).decoderHidden(9).activation(Activation.TANH)
                .likelihood(Likelihood.GAUSSIAN_PER_DIMENSION).fixedLogVariance(-1.25f).beta(0.5f)
                .klWarmupSteps(1000).freeBits(0.25f).samples(3).binarization(BinarizationMode.NONE).seed(seed)
                .build();
    }

    @Test
    void aCheckpointRoundTripsBitForBit(TestRandom random, @TempDir Path folder) throws IOException {
        VaeSpec spec = spec(random.nextLong());
        Path file = folder.resolve("model.safetensors");
        try (Vae vae = Vae.create(spec, backend)) {
            int size = (int) vae.layout().totalFloats();
            float[] m = onlyTensors(vae, random.normals(size, 1e-3));
            float[] v = onlyTensors(vae, random.uniforms(size, 0, 1e-6));
            StepStatus status = new StepStatus(123_456_789_012L, 123_456_789_000L, 384, 12, 0, Float.NaN, -281.25f,
                    14.5f, 0.125f, Float.POSITIVE_INFINITY, 1e300, -0.1, Double.MIN_VALUE, 77);
            TrainingState state = new TrainingState(3, 17, 128, status, m, v);
            AdamSettings adam = AdamSettings.defaults().withLearningRate(3e-4f).withWeightDecay(0.01f, true)
                    .withMaxGradNorm(2.5f);
            Checkpoint.save(file, vae, state, adam);

            Checkpoint.Contents contents = Checkpoint.load(file);
            assertEquals(spec, contents.spec());
            assertArrayEquals(vae.parameters(), contents.parameters());
            TrainingState loaded = contents.training().orElseThrow();
            assertEquals(status, loaded.status());
            assertEquals(3, loaded.epoch());
            assertEquals(17, loaded.stepInEpoch());
            assertEquals(128, loaded.batchSize());
            assertArrayEquals(m, loaded.firstMoments());
            assertArrayEquals(v, loaded.secondMoments());
            assertEquals(adam, contents.adam().orElseThrow());
            try (Vae restored = contents.toVae(backend)) {
                assertArrayEquals(vae.parameters(), restored.parameters());
            }
            // The model's tensors are stored by their layout names, as PyTorch's state_dict would hold them.
            try (SafeTensors raw = SafeTensors.open(file)) {
                assertArrayEquals(new long[] {11, 30}, raw.info("encoder.0.weight").shape());
                assertArrayEquals(new long[] {30}, raw.info("decoder.logvar").shape());
                assertTrue(raw.contains("optimizer.exp_avg_sq.decoder.1.bias"));
            }
        }
        Path modelOnly = folder.resolve("model-only.safetensors");
        try (Vae vae = Vae.create(spec, backend)) {
            Checkpoint.save(modelOnly, vae, null, null);
            Checkpoint.Contents contents = Checkpoint.load(modelOnly);
            assertTrue(contents.training().isEmpty());
            assertArrayEquals(vae.parameters(), contents.parameters());
        }
    }

    /**
     * Writes {@code file}: the checkpoint {@code bytes} of a model of L = 4 with its spec's latent size (in the
     * header's metadata, JSON inside a JSON string) edited to {@code latent}.
     */
    private static Path withLatentEdited(Path file, byte[] bytes, int latent) throws IOException {
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        return Files.write(file, text.replace("\\\"latent\\\":4", "\\\"latent\\\":" + latent)
                .getBytes(StandardCharsets.ISO_8859_1));
    }

    /** {@code flat} with the layout's alignment gaps zero, as a run's moments always have them. */
    private static float[] onlyTensors(Vae vae, float[] flat) {
        float[] out = new float[flat.length];
        for (var tensor : vae.layout().tensors().values()) {
            System.arraycopy(flat, (int) tensor.offset(), out, (int) tensor.offset(), (int) tensor.size());
        }
        return out;
    }

    @Test
    void damagedOrForeignFilesAreRefusedWithTheirDefect(TestRandom random, @TempDir Path folder) throws IOException {
        VaeSpec spec = spec(random.nextLong());
        Path file = folder.resolve("model.safetensors");
        try (Vae vae = Vae.create(spec, backend)) {
            Checkpoint.save(file, vae, null, null);
        }
        byte[] bytes = Files.readAllBytes(file);

        Path truncated = folder.resolve("truncated.safetensors");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 10));
        assertThrows(SafeTensorsFormatException.class, () -> Checkpoint.load(truncated));

        // The spec edited to another latent size: the tensors no longer fit it.
        Path edited = withLatentEdited(folder.resolve("edited.safetensors"), bytes, 5);
        SafeTensorsFormatException otherModel = assertThrows(SafeTensorsFormatException.class,
                () -> Checkpoint.load(edited));
        assertTrue(otherModel.getMessage().contains("encoder.2.weight"), otherModel.getMessage());

        Path badSpec = withLatentEdited(folder.resolve("bad-spec.safetensors"), bytes, 0);
        SafeTensorsFormatException invalid = assertThrows(SafeTensorsFormatException.class,
                () -> Checkpoint.load(badSpec));
        assertTrue(invalid.getMessage().contains("latent (L) must be at least 1 but is 0"), invalid.getMessage());

        Path foreign = folder.resolve("foreign.safetensors");
        SafeTensors.write(foreign, List.of(Tensor.of("weight", new float[] {1, 2}, 2)), Map.of("format", "pt"));
        SafeTensorsFormatException notOurs = assertThrows(SafeTensorsFormatException.class,
                () -> Checkpoint.load(foreign));
        assertTrue(notOurs.getMessage().contains("not an elbo4j checkpoint"), notOurs.getMessage());

        // An extra tensor beside the model's.
        Path extra = folder.resolve("extra.safetensors");
        List<Tensor> tensors = new ArrayList<>();
        Map<String, String> metadata;
        try (SafeTensors original = SafeTensors.open(file)) {
            metadata = new TreeMap<>(original.metadata());
            for (TensorInfo info : original.tensors()) {
                tensors.add(Tensor.of(info.name(), original.floats(info.name(), info.shape()), info.shape()));
            }
        }
        tensors.add(Tensor.of("decoder.9.weight", new float[] {1}, 1));
        SafeTensors.write(extra, tensors, metadata);
        SafeTensorsFormatException extraTensor = assertThrows(SafeTensorsFormatException.class,
                () -> Checkpoint.load(extra));
        assertTrue(extraTensor.getMessage().contains("'decoder.9.weight' is not part of the model"),
                extraTensor.getMessage());
    }
}
