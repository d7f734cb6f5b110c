package dev.elbo4j.cli;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Objects;

import javax.imageio.ImageIO;

/**
 * A grid of grey-level images as an 8-bit greyscale PNG: each image drawn at an integer {@code scale} (nearest
 * neighbour, so pixels stay sharp), separated and framed by a one-pixel line of mid grey, so that images on a
 * black background stay apart and the picture is readable at 1x.
 */
final class ImageGrid {
    /** The grid lines' grey level: distinct from both black background and white strokes. */
    private static final int LINE_GREY = 128;

    private final int imageRows;
    private final int imageColumns;
    private final int columns;
    private final int scale;

    /**
     * @param imageRows    height of one image in pixels
     * @param imageColumns width of one image in pixels
     * @param columns      images per grid row
     * @param scale        output pixels per image pixel, at least 1
     */
    ImageGrid(int imageRows, int imageColumns, int columns, int scale) {
        if (imageRows < 1 || imageColumns < 1 || columns < 1 || scale < 1) {
            throw new IllegalArgumentException("an image grid needs positive sizes: images " + imageRows + " x "
                    + imageColumns + ", " + columns + " columns, scale " + scale);
        }
        this.imageRows = imageRows;
        this.imageColumns = imageColumns;
        this.columns = columns;
        this.scale = scale;
    }

    /**
     * Draws {@code images} (each {@code imageRows * imageColumns} values in [0, 1], row-major; values outside are
     * clamped) left to right, top to bottom.
     */
    BufferedImage draw(float[][] images) {
        Objects.requireNonNull(images, "images");
        if (images.length == 0) {
            throw new IllegalArgumentException("an image grid needs at least one image");
        }
        int gridRows = (images.length + columns - 1) / columns;
        int cellWidth = imageColumns * scale + 1;
        int cellHeight = imageRows * scale + 1;
        BufferedImage picture = new BufferedImage(columns * cellWidth + 1, gridRows * cellHeight + 1,
                BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster raster = picture.getRaster();
        for (int y = 0; y < picture.getHeight(); y++) {
            for (int x = 0; x < picture.getWidth(); x++) {
                raster.setSample(x, y, 0, LINE_GREY);
            }
        }
        for (int n = 0; n < images.length; n++) {
            float[] image = images[n];
            if (image.length != imageRows * imageColumns) {
                throw new IllegalArgumentException("image " + n + " has " + image.length + " values, not "
                        + imageRows + " x " + imageColumns);
            }
            int left = (n % columns) * cellWidth + 1;
            int top = (n / columns) * cellHeight + 1;
            for (int r = 0; r < imageRows * scale; r++) {
                for (int c = 0; c < imageColumns * scale; c++) {
                    float value = image[(r / scale) * imageColumns + c / scale];
                    int grey = Math.round(Math.clamp(Float.isNaN(value) ? 0f : value, 0f, 1f) * 255f);
                    raster.setSample(left + c, top + r, 0, grey);
                }
            }
        }
        return picture;
    }

    /** Draws {@code images} and writes the PNG through a temporary file, so a reader never sees half a picture. */
    void write(float[][] images, Path file) throws IOException {
        BufferedImage picture = draw(images);
        Path folder = file.toAbsolutePath().getParent();
        Path partial = Files.createTempFile(folder, file.getFileName().toString(), ".partial");
        try {
            if (!ImageIO.write(picture, "png", partial.toFile())) {
                throw new IOException("no PNG writer in this Java runtime (java.desktop's ImageIO)");
            }
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
    }
}
