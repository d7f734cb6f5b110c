package dev.elbo4j.cli;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.BinarizationMode;
import dev.elbo4j.nn.Likelihood;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** The command line's spellings of the model's choices (lower case, hyphenated) and their converters. */
final class Choices {
    private Choices() {
    }

    /** Converts one of a fixed set of words; anything else is a usage error listing the words. */
    abstract static class Words<T> implements ITypeConverter<T> {
        private final Map<String, T> words;

        Words(Map<String, T> words) {
            this.words = words;
        }

        @Override
        public T convert(String value) {
            T choice = words.get(value.toLowerCase(Locale.ROOT));
            if (choice == null) {
                throw new TypeConversionException("'" + value + "' is not one of " + String.join(", ", words.keySet()));
            }
            return choice;
        }

        /** The word of {@code choice}. */
        String wordOf(T choice) {
            return words.entrySet().stream().filter(e -> e.getValue() == choice).map(Map.Entry::getKey).findFirst()
                    .orElseThrow();
        }
    }

    /** relu, tanh, leaky-relu, silu. */
    static final class Activations extends Words<Activation> {
        Activations() {
            super(ordered("relu", Activation.RELU, "tanh", Activation.TANH, "leaky-relu", Activation.LEAKY_RELU,
                    "silu", Activation.SILU));
        }
    }

    /** bernoulli, gaussian (= gaussian-fixed), gaussian-fixed, gaussian-dim, gaussian-row. */
    static final class Likelihoods extends Words<Likelihood> {
        Likelihoods() {
            super(ordered("bernoulli", Likelihood.BERNOULLI, "gaussian-fixed", Likelihood.GAUSSIAN_FIXED,
                    "gaussian-dim", Likelihood.GAUSSIAN_PER_DIMENSION, "gaussian-row", Likelihood.GAUSSIAN_PER_ROW,
                    "gaussian", Likelihood.GAUSSIAN_FIXED));
        }
    }

    /** none, static, dynamic. */
    static final class Binarizations extends Words<BinarizationMode> {
        Binarizations() {
            super(ordered("none", BinarizationMode.NONE, "static", BinarizationMode.STATIC, "dynamic",
                    BinarizationMode.DYNAMIC));
        }
    }

    /** fp32, tf32, bf16. */
    static final class Precisions extends Words<GemmPrecision> {
        Precisions() {
            super(ordered("fp32", GemmPrecision.FP32, "tf32", GemmPrecision.TF32, "bf16", GemmPrecision.BF16));
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> Map<String, T> ordered(Object... wordsAndChoices) {
        Map<String, T> map = new LinkedHashMap<>();
        for (int i = 0; i < wordsAndChoices.length; i += 2) {
            map.put((String) wordsAndChoices[i], (T) wordsAndChoices[i + 1]);
        }
        return map;
    }
}
