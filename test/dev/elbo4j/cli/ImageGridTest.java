package dev.elbo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageGridTest {

    @Test
    void drawsEachImageScaledInsideAOnePixelGrid(@TempDir Path folder) throws IOException {
        // Three 2 x 3 images, two per row, at scale 2: cells of 4 x 6 pixels plus one line each.
        float[][] images = {
                {0f, 1f, 0.5f, 1f, 0f, 0.25f},
                {1f, 1f, 1f, 1f, 1f, 1f},
                {-3f, 2f, Float.NaN, 0f, 0f, 0f}};
        Path file = folder.resolve("grid.png");
        new ImageGrid(2, 3, 2, 2).write(images, file);
        BufferedImage picture = ImageIO.read(file.toFile());
        assertEquals(2 * (3 * 2 + 1) + 1, picture.getWidth());
        assertEquals(2 * (2 * 2 + 1) + 1, picture.getHeight());
        assertEquals(BufferedImage.TYPE_BYTE_GRAY, picture.getType());
        Raster raster = picture.getRaster();
        assertEquals(128, raster.getSample(0, 0, 0), "frame");
        assertEquals(0, raster.getSample(1, 1, 0), "image 0, pixel (0, 0)");
        assertEquals(255, raster.getSample(3, 2, 0), "image 0, pixel (0, 1) scaled");
        assertEquals(64, raster.getSample(1 + 5, 1 + 3, 0), "image 0, pixel (1, 2)");
        assertEquals(128, raster.getSample(7, 1, 0), "line between columns");
        assertEquals(255, raster.getSample(8, 1, 0), "image 1");
        assertEquals(0, raster.getSample(1, 6, 0), "image 2 clamps -3 to black");
        assertEquals(255, raster.getSample(3, 6, 0), "image 2 clamps 2 to white");
        assertEquals(0, raster.getSample(5, 6, 0), "image 2 draws NaN black");
        assertEquals(128, raster.getSample(9, 7, 0), "the empty fourth cell stays grid grey");
        try (var left = Files.list(folder)) {
            assertEquals(1, left.count(), "no temporary file is left behind");
        }
    }

    @Test
    void refusesImagesOfTheWrongSize() {
        ImageGrid grid = new ImageGrid(28, 28, 8, 1);
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> grid.draw(new float[][] {new float[784], new float[783]}));
        assertEquals("image 1 has 783 values, not 28 x 28", wrong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> grid.draw(new float[0][]));
    }
}
