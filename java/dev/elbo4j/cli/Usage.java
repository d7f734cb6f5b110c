package dev.elbo4j.cli;

import dev.elbo4j.cpu.CpuBackend;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Usage errors (exit 2) of the commands' option values, named by their option. */
final class Usage {

    private Usage() {
    }

    static ParameterException error(CommandSpec command, String message) {
        return new ParameterException(command.commandLine(), message);
    }

    /**
     * Refuses {@code value} below {@code least}: "--batch must be at least 1 but is 0".
     *
     * @param value the option's value; null (an optional option not given) passes
     */
    static void atLeast(CommandSpec command, Number value, long least, String option) {
        if (value != null && value.longValue() < least) {
            throw error(command, option + " must be at least " + least + " but is " + value);
        }
    }

    /** Refuses a {@code value} that is not a positive finite number: "--lr must be a positive number but is -0.1". */
    static void positive(CommandSpec command, Float value, String option) {
        if (value != null && (!(value > 0) || Float.isInfinite(value))) {
            throw error(command, option + " must be a positive number but is " + value);
        }
    }

    /** Refuses a {@code value} that is not a finite number of at least 0 (NaN included); null passes. */
    static void nonNegative(CommandSpec command, Float value, String option) {
        if (value != null && (!(value >= 0) || Float.isInfinite(value))) {
            throw error(command, option + " must be a number of at least 0 but is " + value);
        }
    }

    /** Refuses a {@code --threads} outside 1 to {@link CpuBackend#MAX_THREADS}; null (not given) passes. */
    static void threads(CommandSpec command, Integer threads) {
        atLeast(command, threads, 1, "--threads");
        if (threads != null && threads > CpuBackend.MAX_THREADS) {
            throw error(command, "--threads must be at most " + CpuBackend.MAX_THREADS + " but is " + threads);
        }
    }

    /** Refuses a {@code --traverse DIM} that is not one of the model's {@code latent} dimensions. */
    static void latentDimension(CommandSpec command, Integer traverse, int latent) {
        if (traverse != null && traverse >= latent) {
            throw error(command, "--traverse " + traverse + " is not a latent dimension: the model has L = " + latent
                    + " (0 to " + (latent - 1) + ")");
        }
    }
}
