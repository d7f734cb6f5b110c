package dev.elbo4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.elbo4j.data.Idx;
import dev.elbo4j.io.Checkpoint;
import dev.elbo4j.io.Tensor;
import dev.elbo4j.io.SafeTensors;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.Backend;
import dev.elbo4j.nn.ParameterLayout;
import dev.elbo4j.nn.Trainer;
import dev.elbo4j.nn.TrainingListener;
import dev.elbo4j.nn.TrainingOptions;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;
import dev.elbo4j.reference.Philox;

/**
 * What the PyTorch peer ({@code bench/pytorch/vae_train.py agree}) needs to check that it trains the same model as
 * elbo4j, and how closely: a few training steps of elbo4j on real batches, written to a directory as
 * <ul>
 *   <li>{@code initial.safetensors}: the model before the first step, an elbo4j checkpoint ({@link Checkpoint}; its
 *       tensors are named and shaped as nn.Linear's, so PyTorch loads them with {@code load_state_dict});</li>
 *   <li>{@code steps.safetensors}: for each step {@code s}, the batch the trainer gathered ({@code step.s.x}, B x D,
 *       the pixels / 255), the reparameterization noise ({@code step.s.eps}, B x L, the spec's Philox normals at the
 *       step's counter) and every parameter's gradient ({@code step.s.grad.NAME}); the parameters after the last
 *       step ({@code final.NAME}); metadata {@code losses} (each step's loss, JSON), {@code adam} (the settings,
 *       JSON), {@code model} and {@code backend}.</li>
 * </ul>
 * The steps are the trainer's own ({@code Trainer.train}), watched through a {@link RecordingBackend}. On a GPU give
 * it a backend that runs steps directly: the watching copies to the host in the middle of a step, which a CUDA
 * graph capture refuses (the graph computes the same bits, as the CUDA backend's tests check).
 */
final class AgreementFixture {
    private static final ObjectMapper JSON = new ObjectMapper();

    private AgreementFixture() {
    }

    /**
     * Trains {@code steps} steps of {@code spec} at batch {@code batch} on {@code images} on {@code backend} and
     * writes the fixture into {@code directory} (created if needed).
     */
    static void write(Backend backend, VaeSpec spec, int batch, int steps, Idx.Images images, Path directory)
            throws IOException {
        Files.createDirectories(directory);
        RecordingBackend watched = new RecordingBackend(backend);
        ParameterLayout layout = ParameterLayout.of(spec);
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(batch).withProgressEvery(1);
        List<Tensor> tensors = new ArrayList<>();
        List<Float> losses = new ArrayList<>();
        try (Vae vae = Vae.create(spec, watched)) {
            Checkpoint.save(directory.resolve("initial.safetensors"), vae, null, null);
            float[] gradients = new float[Math.toIntExact(layout.totalFloats())];
            try (Trainer trainer = Trainer.create(vae, images, options)) {
                watched.watch(new RecordingBackend.Probe() {
                    @Override
                    public void gathered(Backend.Floats x) {
                        int step = losses.size();
                        float[] batchRows = new float[batch * spec.inputs()];
                        watched.download(x, batchRows);
                        tensors.add(Tensor.of("step." + step + ".x", batchRows, batch, spec.inputs()));
                        float[] eps = new float[batch * spec.latent()];
                        Philox.normals(spec.seed(), step, Philox.STREAM_REPARAMETERIZATION, 0, eps);
                        tensors.add(Tensor.of("step." + step + ".eps", eps, batch, spec.latent()));
                    }

                    @Override
                    public void gradients(Backend.Floats all) {
                        watched.download(all, gradients);
                        addTensors(tensors, layout, "step." + losses.size() + ".grad.", gradients);
                    }
                });
                trainer.train(1, new TrainingListener() {
                    @Override
                    public void onProgress(TrainingListener.Progress progress) {
                        losses.add(progress.status().loss());
                        if (losses.size() == steps) {
                            trainer.requestStop();
                        }
                    }
                });
                watched.unwatch();
            }
            if (losses.size() != steps) {
                throw new IllegalStateException("the trainer ran " + losses.size() + " steps, not " + steps);
            }
            addTensors(tensors, layout, "final.", vae.parameters());
        }
        AdamSettings adam = options.adam();
        Map<String, String> metadata = new TreeMap<>();
        metadata.put("losses", JSON.writeValueAsString(losses));
        metadata.put("adam", JSON.writeValueAsString(adam));
        metadata.put("model", spec.summary());
        metadata.put("backend", backend.description());
        SafeTensors.write(directory.resolve("steps.safetensors"), tensors, metadata);
    }

    /** Each tensor of {@code layout} cut from {@code flat} (copied: the caller reuses {@code flat}). */
    private static void addTensors(List<Tensor> tensors, ParameterLayout layout, String prefix, float[] flat) {
        for (ParameterLayout.Tensor tensor : layout.tensors().values()) {
            float[] values = new float[Math.toIntExact(tensor.size())];
            System.arraycopy(flat, Math.toIntExact(tensor.offset()), values, 0, values.length);
            long[] shape = tensor.shape().stream().mapToLong(Integer::longValue).toArray();
            tensors.add(Tensor.of(prefix + tensor.name(), values, shape));
        }
    }
}
