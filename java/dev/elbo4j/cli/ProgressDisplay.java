package dev.elbo4j.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Training progress on standard error, one epoch at a time: on a terminal a progress bar redrawn in place
 * (me.tongfei:progressbar: steps done, steps/s, the running loss, the ETA); otherwise plain lines, at most one per
 * interval, so that CI logs and files get no carriage returns.
 */
abstract class ProgressDisplay {

    /** How progress is shown ({@code --progress}). */
    enum Mode {
        /** A bar on a terminal, lines otherwise. */
        AUTO,
        /** Always the redrawn bar. */
        BAR,
        /** Always plain lines. */
        LINES,
        /** Nothing until the epoch's summary. */
        NONE
    }

    /** One epoch's display. */
    interface Epoch extends AutoCloseable {
        /**
         * @param step           steps of this epoch done
         * @param loss           the running training loss
         * @param stepsPerSecond the recent training speed
         */
        void update(int step, double loss, double stepsPerSecond);

        /** Ends the display (the bar's last state stays on screen). */
        @Override
        void close();
    }

    /** The display for {@code mode} in {@code environment}, writing to {@code err}. */
    static ProgressDisplay create(Mode mode, CliEnvironment environment, PrintWriter err) {
        return switch (mode) {
            case AUTO -> environment.stderrIsTerminal() ? new Bar(err) : new Lines(err, environment.progressInterval());
            case BAR -> new Bar(err);
            case LINES -> new Lines(err, environment.progressInterval());
            case NONE -> new Silent();
        };
    }

    /**
     * Starts epoch {@code epoch} of {@code epochs}, {@code steps} steps long, of which {@code firstStep} are already
     * done (a resumed run).
     */
    abstract Epoch startEpoch(int epoch, int epochs, int steps, int firstStep);

    /** The bar of me.tongfei:progressbar, drawn into the command's error writer. */
    private static final class Bar extends ProgressDisplay {
        private final PrintWriter err;

        Bar(PrintWriter err) {
            this.err = err;
        }

        @Override
        Epoch startEpoch(int epoch, int epochs, int steps, int firstStep) {
            ProgressBar bar = new ProgressBarBuilder()
                    .setTaskName("epoch " + epoch + "/" + epochs)
                    .setInitialMax(steps)
                    .startsFrom(firstStep, Duration.ZERO)
                    .setStyle(ProgressBarStyle.UNICODE_BLOCK)
                    .setUnit(" steps", 1)
                    .showSpeed(new DecimalFormat("0", DecimalFormatSymbols.getInstance(Locale.ROOT)))
                    .setSpeedUnit(ChronoUnit.SECONDS)
                    .setUpdateIntervalMillis(250)
                    .setConsumer(new WriterConsumer(err))
                    .build();
            return new Epoch() {
                @Override
                public void update(int step, double loss, double stepsPerSecond) {
                    bar.setExtraMessage(String.format(Locale.ROOT, " loss %.2f", loss));
                    bar.stepTo(step);
                }

                @Override
                public void close() {
                    bar.close();
                }
            };
        }
    }

    /**
     * The library's console consumer (it measures the terminal's width through JLine) writing into the command's
     * error writer instead of a stream, so the bar and the other messages keep their order.
     */
    private static final class WriterConsumer extends ConsoleProgressBarConsumer {
        private final PrintWriter err;
        private boolean closed;

        WriterConsumer(PrintWriter err) {
            super(new PrintStream(PrintStream.nullOutputStream()));
            this.err = err;
        }

        /** Draws over the line; ignores a redraw from the bar's timer that arrives after the final one. */
        @Override
        public synchronized void accept(String rendered) {
            if (closed) {
                return;
            }
            int width = getMaxRenderedLength();
            String fitted = width > 0 && rendered.length() > width ? rendered.substring(0, width) : rendered;
            err.print('\r' + fitted);
            err.flush();
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                err.println();
                err.flush();
            }
        }
    }

    /** Plain lines, at most one per interval (and always the epoch's last step). */
    private static final class Lines extends ProgressDisplay {
        private final PrintWriter err;
        private final long intervalNanos;

        Lines(PrintWriter err, Duration interval) {
            this.err = err;
            this.intervalNanos = interval.toNanos();
        }

        @Override
        Epoch startEpoch(int epoch, int epochs, int steps, int firstStep) {
            return new Epoch() {
                private long lastLine = System.nanoTime();
                private int lastStep = -1;

                @Override
                public void update(int step, double loss, double stepsPerSecond) {
                    long now = System.nanoTime();
                    if (step == lastStep || now - lastLine < intervalNanos && step < steps) {
                        return;
                    }
                    lastLine = now;
                    lastStep = step;
                    long etaSeconds = stepsPerSecond > 0 ? Math.round((steps - step) / stepsPerSecond) : -1;
                    err.println(String.format(Locale.ROOT, "epoch %d/%d: step %d/%d (%d%%), loss %.2f, %.0f steps/s, "
                            + "ETA %s", epoch, epochs, step, steps, 100L * step / steps, loss, stepsPerSecond,
                            etaSeconds < 0 ? "?" : formatSeconds(etaSeconds)));
                    err.flush();
                }

                @Override
                public void close() {
                }
            };
        }
    }

    /** Nothing. */
    private static final class Silent extends ProgressDisplay {
        @Override
        Epoch startEpoch(int epoch, int epochs, int steps, int firstStep) {
            return new Epoch() {
                @Override
                public void update(int step, double loss, double stepsPerSecond) {
                }

                @Override
                public void close() {
                }
            };
        }
    }

    /** "42s", "3m05s", "1h02m". */
    static String formatSeconds(long seconds) {
        if (seconds < 60) {
            return seconds + "s";
        }
        if (seconds < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
        }
        return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, seconds % 3600 / 60);
    }
}
