package dev.elbo4j.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.ParameterLayout;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.nn.TrainingState;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;

/**
 * A VAE checkpoint in a {@link SafeTensors} file: the model's parameters as F32 tensors under the stable names of
 * its {@link ParameterLayout} ({@code encoder.0.weight}, ...: they load into an equivalent PyTorch module as they
 * are), optionally the optimizer's moments ({@code optimizer.exp_avg.NAME} and {@code optimizer.exp_avg_sq.NAME},
 * PyTorch's names for Adam's m and v) and, in {@code __metadata__}, JSON strings:
 * <ul>
 *   <li>{@value #FORMAT_KEY}: {@value #FORMAT} and {@value #VERSION_KEY}: {@value #VERSION};</li>
 *   <li>{@value #SPEC_KEY}: the {@link VaeSpec};</li>
 *   <li>{@value #TRAINING_KEY} (with the moments): the position in the data, the batch size, the step state
 *       (counters, the current epoch's sums) and the Adam settings of the run.</li>
 * </ul>
 * Loading validates the file (SafeTensors' checks), that it is an elbo4j checkpoint of a version this code reads,
 * the spec, and that the tensors are exactly the spec's, each of its dtype and shape. Nothing in it depends on the
 * backend that wrote it: a checkpoint written on the GPU loads on the CPU and the other way round.
 */
public final class Checkpoint {
    /** Metadata key of the format name. */
    public static final String FORMAT_KEY = "format";
    /** The format name. */
    public static final String FORMAT = "elbo4j-vae";
    /** Metadata key of the format version. */
    public static final String VERSION_KEY = "format_version";
    /** The version written (and the only one read). */
    public static final String VERSION = "1";
    /** Metadata key of the model spec (JSON). */
    public static final String SPEC_KEY = "spec";
    /** Metadata key of the training state (JSON). */
    public static final String TRAINING_KEY = "training";
    /** Prefix of the tensors of Adam's first moments. */
    public static final String FIRST_MOMENT_PREFIX = "optimizer.exp_avg.";
    /** Prefix of the tensors of Adam's second moments. */
    public static final String SECOND_MOMENT_PREFIX = "optimizer.exp_avg_sq.";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .build();

    /**
     * The training state as the metadata holds it (the moments are tensors).
     *
     * @param epoch       epochs completed
     * @param stepInEpoch steps done in the current epoch
     * @param batchSize   B of the run
     * @param status      the step state
     * @param adam        the optimizer's settings of the run
     */
    record Training(int epoch, int stepInEpoch, int batchSize, StepStatus status, AdamSettings adam) {
    }

    /**
     * What a checkpoint holds.
     *
     * @param spec       the model
     * @param parameters the flat parameter buffer of the spec's layout
     * @param training   the run's state, when the checkpoint was saved during training
     * @param adam       the run's optimizer settings, with the state
     */
    public record Contents(VaeSpec spec, float[] parameters, Optional<TrainingState> training,
                           Optional<AdamSettings> adam) {
        /** The model on {@code backend}, holding these parameters. */
        public Vae toVae(dev.elbo4j.nn.Backend backend) {
            return Vae.withParameters(spec, backend, parameters);
        }
    }

    private Checkpoint() {
    }

    /**
     * Saves {@code vae}'s parameters and, when {@code state} is given, the training state with Adam's moments and
     * {@code adam}, replacing {@code file} atomically.
     *
     * @param state null for the model alone
     * @param adam  the run's optimizer settings; null exactly when {@code state} is
     */
    public static void save(Path file, Vae vae, TrainingState state, AdamSettings adam) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(vae, "vae");
        if ((state == null) != (adam == null)) {
            throw new IllegalArgumentException("a training state needs its Adam settings, and only it does");
        }
        ParameterLayout layout = vae.layout();
        float[] parameters = vae.parameters();
        List<Tensor> tensors = new ArrayList<>();
        addTensors(tensors, layout, "", parameters);
        Map<String, String> metadata = new TreeMap<>();
        metadata.put(FORMAT_KEY, FORMAT);
        metadata.put(VERSION_KEY, VERSION);
        metadata.put(SPEC_KEY, JSON.writeValueAsString(vae.spec()));
        if (state != null) {
            if (state.firstMoments().length != parameters.length) {
                throw new IllegalArgumentException("the training state's moments have " + state.firstMoments().length
                        + " floats but the model's layout " + parameters.length);
            }
            addTensors(tensors, layout, FIRST_MOMENT_PREFIX, state.firstMoments());
            addTensors(tensors, layout, SECOND_MOMENT_PREFIX, state.secondMoments());
            metadata.put(TRAINING_KEY, JSON.writeValueAsString(
                    new Training(state.epoch(), state.stepInEpoch(), state.batchSize(), state.status(), adam)));
        }
        SafeTensors.write(file, tensors, metadata);
    }

    private static void addTensors(List<Tensor> tensors, ParameterLayout layout, String prefix, float[] flat) {
        for (ParameterLayout.Tensor tensor : layout.tensors().values()) {
            float[] values = new float[Math.toIntExact(tensor.size())];
            System.arraycopy(flat, (int) tensor.offset(), values, 0, values.length);
            tensors.add(Tensor.of(prefix + tensor.name(), values, shape(tensor)));
        }
    }

    private static long[] shape(ParameterLayout.Tensor tensor) {
        return tensor.shape().stream().mapToLong(Integer::longValue).toArray();
    }

    /**
     * Loads and validates a checkpoint.
     *
     * @throws SafeTensorsFormatException when the file is not a valid safetensors file, not an elbo4j checkpoint, of
     *                                    another version, or its spec, metadata or tensors do not agree (the message
     *                                    names the file and the defect)
     * @throws IOException                when it cannot be read
     */
    public static Contents load(Path file) throws IOException {
        try (SafeTensors safeTensors = SafeTensors.open(file)) {
            Map<String, String> metadata = safeTensors.metadata();
            String format = metadata.get(FORMAT_KEY);
            if (!FORMAT.equals(format)) {
                throw new SafeTensorsFormatException(file, "not an elbo4j checkpoint: its metadata has "
                        + (format == null ? "no \"" + FORMAT_KEY + "\"" : "\"" + FORMAT_KEY + "\": \"" + format + "\"")
                        + " (expected \"" + FORMAT + "\")");
            }
            String version = metadata.get(VERSION_KEY);
            if (!VERSION.equals(version)) {
                throw new SafeTensorsFormatException(file, "checkpoint format version " + version
                        + " is not one this elbo4j reads (" + VERSION + ")");
            }
            VaeSpec spec = parse(file, metadata, SPEC_KEY, VaeSpec.class);
            ParameterLayout layout = ParameterLayout.of(spec);
            Training training = metadata.containsKey(TRAINING_KEY)
                    ? parse(file, metadata, TRAINING_KEY, Training.class) : null;
            Set<String> expected = new HashSet<>();
            float[] parameters = readFlat(safeTensors, layout, "", expected);
            Optional<TrainingState> state = Optional.empty();
            if (training != null) {
                float[] m = readFlat(safeTensors, layout, FIRST_MOMENT_PREFIX, expected);
                float[] v = readFlat(safeTensors, layout, SECOND_MOMENT_PREFIX, expected);
                try {
                    state = Optional.of(new TrainingState(training.epoch(), training.stepInEpoch(),
                            training.batchSize(), training.status(), m, v));
                } catch (IllegalArgumentException | NullPointerException bad) {
                    throw new SafeTensorsFormatException(file, "bad training state: " + bad.getMessage(), bad);
                }
            }
            for (TensorInfo info : safeTensors.tensors()) {
                if (!expected.contains(info.name())) {
                    throw new SafeTensorsFormatException(file, "tensor '" + info.name() + "' is not part of the "
                            + "model " + spec.summary() + (training == null ? "" : " or its optimizer state"));
                }
            }
            return new Contents(spec, parameters, state,
                    Optional.ofNullable(training).map(Training::adam));
        }
    }

    private static float[] readFlat(SafeTensors file, ParameterLayout layout, String prefix, Set<String> expected)
            throws IOException {
        float[] flat = new float[Math.toIntExact(layout.totalFloats())];
        for (ParameterLayout.Tensor tensor : layout.tensors().values()) {
            String name = prefix + tensor.name();
            expected.add(name);
            if (!file.contains(name)) {
                throw new SafeTensorsFormatException(file.path(), "tensor '" + name + "' of the model "
                        + layout.spec().summary() + " is missing");
            }
            float[] values = file.floats(name, shape(tensor));
            System.arraycopy(values, 0, flat, (int) tensor.offset(), values.length);
        }
        return flat;
    }

    private static <T> T parse(Path file, Map<String, String> metadata, String key, Class<T> type)
            throws SafeTensorsFormatException {
        String json = metadata.get(key);
        if (json == null) {
            throw new SafeTensorsFormatException(file, "the checkpoint's metadata has no \"" + key + "\"");
        }
        try {
            return JSON.readValue(json, type);
        } catch (JacksonException bad) {
            Throwable cause = bad.getCause() != null ? bad.getCause() : bad;
            throw new SafeTensorsFormatException(file, "the checkpoint's \"" + key + "\" is not a valid "
                    + type.getSimpleName() + ": " + cause.getMessage().lines().findFirst().orElse(""), bad);
        }
    }
}
