package dev.elbo4j.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A plain-text table whose columns fit their widest cell: the header and the first {@code textColumns} columns
 * left-aligned, the numbers right-aligned; and the number formats the benchmark reports ({@link Report},
 * {@link TrainingComparison}) fill it with, each printing "-" for a value that is not there (NaN) or not finite.
 */
final class TextTable {
    private final String title;
    private final int textColumns;
    private final List<String[]> rows = new ArrayList<>();

    /** A table printed under {@code title}, or as "(no results)" under it when it has no rows. */
    TextTable(String title, int textColumns, String... header) {
        this.title = title;
        this.textColumns = textColumns;
        rows.add(header);
    }

    /** A table without a title: its header is printed even when it has no rows. */
    TextTable(int textColumns, String... header) {
        this(null, textColumns, header);
    }

    void row(String... cells) {
        int columns = rows.getFirst().length;
        if (cells.length != columns) {
            throw new IllegalArgumentException((title == null ? "" : title + ": ") + cells.length + " cells for "
                    + columns + " columns");
        }
        rows.add(cells);
    }

    void print(PrintStream out) {
        if (title != null) {
            out.println(title);
            if (rows.size() == 1) {
                out.println("  (no results)");
                return;
            }
        }
        int columns = rows.getFirst().length;
        int[] widths = new int[columns];
        for (String[] row : rows) {
            for (int c = 0; c < columns; c++) {
                widths[c] = Math.max(widths[c], row[c].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder(" ");
            for (int c = 0; c < columns; c++) {
                boolean left = c < textColumns || row == rows.getFirst();
                line.append(String.format(Locale.ROOT, " %" + (left ? "-" : "") + widths[c] + "s", row[c]));
            }
            out.println(line.toString().stripTrailing());
        }
    }

    /** Three significant-ish digits: no decimals from 100, one from 10, two below. */
    static String fixed(double value) {
        if (!Double.isFinite(value)) {
            return "-";
        }
        return String.format(Locale.ROOT, value >= 100 ? "%.0f" : value >= 10 ? "%.1f" : "%.2f", value);
    }

    static String fixed(double value, int digits) {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%." + digits + "f", value) : "-";
    }

    static String ratio(double value) {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%.2fx", value) : "-";
    }

    static String percent(double share) {
        return Double.isFinite(share) ? String.format(Locale.ROOT, "%.0f%%", 100 * share) : "-";
    }
}
