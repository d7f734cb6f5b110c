package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Device memory: round trips of random data, views, fills, and the checks that precede every native call. */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class DeviceBufferTest {
    private final CudaContext cuda;
    private final long seed = Seeds.next();
    private final Random random = new Random(seed);

    DeviceBufferTest(CudaContext cuda) {
        this.cuda = cuda;
    }

    /** Floats with arbitrary bit patterns (NaN payloads, subnormals, infinities included). */
    private float[] randomFloatBits(int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = Float.intBitsToFloat(random.nextInt());
        }
        return values;
    }

    private static int[] bits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }

    private String seedMessage() {
        return "seed=" + seed + " (replay with -Delbo4j.test.seed=" + seed + ")";
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 1000, 65_537})
    void floatsRoundTripBitForBit(int count) {
        float[] expected = randomFloatBits(count);
        try (DeviceBuffer buffer = cuda.allocateFloats(count)) {
            assertEquals(4L * count, buffer.byteSize());
            assertEquals(count, buffer.floatCount());
            buffer.copyFrom(expected);
            assertArrayEquals(bits(expected), bits(buffer.toFloatArray()), seedMessage());
            float[] into = new float[count];
            buffer.copyTo(into);
            assertArrayEquals(bits(expected), bits(into), seedMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4096, 100_003})
    void bytesRoundTrip(int count) {
        byte[] expected = new byte[count];
        random.nextBytes(expected);
        try (DeviceBuffer buffer = cuda.allocate(count)) {
            buffer.copyFrom(expected);
            assertArrayEquals(expected, buffer.toByteArray(), seedMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 1023, 50_000})
    void intsRoundTrip(int count) {
        int[] expected = random.ints(count).toArray();
        try (DeviceBuffer buffer = cuda.allocate(4L * count)) {
            buffer.copyFrom(expected);
            assertArrayEquals(expected, buffer.toIntArray(), seedMessage());
            int[] into = new int[count];
            buffer.copyTo(into);
            assertArrayEquals(expected, into, seedMessage());
        }
    }

    @Test
    void asynchronousCopiesOnAStreamCompleteAtItsSynchronization() {
        int count = 10_001;
        float[] floats = randomFloatBits(count);
        int[] ints = random.ints(count).toArray();
        byte[] bytes = new byte[count];
        random.nextBytes(bytes);
        try (CudaStream stream = cuda.createStream();
             DeviceBuffer floatBuffer = cuda.allocateFloats(count);
             DeviceBuffer intBuffer = cuda.allocate(4L * count);
             DeviceBuffer byteBuffer = cuda.allocate(count)) {
            float[] floatsBack = new float[count];
            int[] intsBack = new int[count];
            byte[] bytesBack = new byte[count];

            floatBuffer.copyFromAsync(floats, stream);
            intBuffer.copyFromAsync(ints, stream);
            byteBuffer.copyFromAsync(bytes, stream);
            floatBuffer.copyToAsync(floatsBack, stream);
            intBuffer.copyToAsync(intsBack, stream);
            byteBuffer.copyToAsync(bytesBack, stream);
            stream.synchronize();

            assertArrayEquals(bits(floats), bits(floatsBack), seedMessage());
            assertArrayEquals(ints, intsBack, seedMessage());
            assertArrayEquals(bytes, bytesBack, seedMessage());
        }
    }

    @Test
    void anUploadedArrayMayBeReusedAsSoonAsTheCallReturns() {
        float[] original = randomFloatBits(4096);
        float[] reused = original.clone();
        try (CudaStream stream = cuda.createStream(); DeviceBuffer buffer = cuda.allocateFloats(original.length)) {
            buffer.copyFromAsync(reused, stream);
            Arrays.fill(reused, -1f);
            stream.synchronize();
            assertArrayEquals(bits(original), bits(buffer.toFloatArray()), seedMessage());
        }
    }

    @Test
    void asynchronousCopiesOnTheDefaultStreamCompleteAtContextSynchronization() {
        float[] values = randomFloatBits(777);
        float[] back = new float[values.length];
        try (DeviceBuffer buffer = cuda.allocateFloats(values.length)) {
            buffer.copyFromAsync(values, null);
            buffer.copyToAsync(back, null);
            cuda.synchronize();
            assertArrayEquals(bits(values), bits(back), seedMessage());
        }
    }

    @Test
    void stagingMemoryIsReusedAcrossSynchronizations() {
        try (CudaStream stream = cuda.createStream(); DeviceBuffer buffer = cuda.allocateFloats(513)) {
            for (int round = 0; round < 5; round++) {
                float[] values = randomFloatBits(513);
                float[] back = new float[513];
                buffer.copyFromAsync(values, stream);
                buffer.copyToAsync(back, stream);
                stream.synchronize();
                assertArrayEquals(bits(values), bits(back), "round " + round + ", " + seedMessage());
            }
        }
    }

    @Test
    void deviceToDeviceCopiesSynchronousAndOnAStream() {
        float[] values = randomFloatBits(3000);
        try (DeviceBuffer source = cuda.allocateFloats(3000);
             DeviceBuffer first = cuda.allocateFloats(3000);
             DeviceBuffer second = cuda.allocateFloats(3000);
             CudaStream stream = cuda.createStream()) {
            source.copyFrom(values);
            first.copyFrom(source);
            second.copyFromAsync(first, stream);
            stream.synchronize();
            assertArrayEquals(bits(values), bits(first.toFloatArray()), seedMessage());
            assertArrayEquals(bits(values), bits(second.toFloatArray()), seedMessage());
        }
    }

    @Test
    void viewsReadAndWriteTheirPartOfTheBuffer() {
        int count = 100;
        float[] whole = randomFloatBits(count);
        float[] middle = randomFloatBits(30);
        try (DeviceBuffer buffer = cuda.allocateFloats(count)) {
            buffer.copyFrom(whole);
            DeviceBuffer view = buffer.sliceFloats(40, 30);
            assertTrue(view.isView());
            assertEquals(30, view.floatCount());
            assertEquals(buffer.address() + 160, view.address());
            assertArrayEquals(bits(Arrays.copyOfRange(whole, 40, 70)), bits(view.toFloatArray()), seedMessage());

            view.copyFrom(middle);
            System.arraycopy(middle, 0, whole, 40, 30);
            assertArrayEquals(bits(whole), bits(buffer.toFloatArray()), seedMessage());

            DeviceBuffer nested = view.slice(8, 12);
            assertEquals(3, nested.floatCount());
            assertArrayEquals(bits(Arrays.copyOfRange(middle, 2, 5)), bits(nested.toFloatArray()), seedMessage());
            assertEquals(0, buffer.slice(400, 0).byteSize());
        }
    }

    @Test
    void fillsWriteTheRequestedPatterns() {
        try (DeviceBuffer buffer = cuda.allocateFloats(1001); CudaStream stream = cuda.createStream()) {
            buffer.fillBytes((byte) 0x5A);
            byte[] bytes = buffer.toByteArray();
            byte[] expectedBytes = new byte[bytes.length];
            Arrays.fill(expectedBytes, (byte) 0x5A);
            assertArrayEquals(expectedBytes, bytes);

            buffer.fillInts(0xDEADBEEF);
            int[] expectedInts = new int[1001];
            Arrays.fill(expectedInts, 0xDEADBEEF);
            assertArrayEquals(expectedInts, buffer.toIntArray());

            buffer.fillFloats(Float.NaN);
            int[] nanBits = new int[1001];
            Arrays.fill(nanBits, Float.floatToRawIntBits(Float.NaN));
            assertArrayEquals(nanBits, bits(buffer.toFloatArray()));

            buffer.fillFloatsAsync(-2.5f, stream);
            buffer.sliceFloats(1000, 1).fillIntsAsync(7, stream);
            buffer.slice(0, 1).fillBytesAsync((byte) 1, stream);
            stream.synchronize();
            float[] values = buffer.toFloatArray();
            assertEquals(7, Float.floatToRawIntBits(values[1000]));
            assertEquals(-2.5f, values[500]);
            assertEquals(1, buffer.toByteArray()[0]);
        }
    }

    @Test
    void sizeMismatchesAreRejectedNamingBothSizes() {
        try (DeviceBuffer buffer = cuda.allocateFloats(12)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> buffer.copyFrom(new float[10]));
            assertTrue(e.getMessage().contains("10 elements (40 bytes)") && e.getMessage().contains("48 bytes"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> buffer.copyTo(new float[13]));
            assertThrows(IllegalArgumentException.class, () -> buffer.copyFrom(new byte[47]));
            assertThrows(IllegalArgumentException.class, () -> buffer.copyTo(new int[11]));
            assertThrows(IllegalArgumentException.class, () -> buffer.copyFromAsync(new float[1], null));
            assertThrows(IllegalArgumentException.class, () -> buffer.copyToAsync(new int[1], null));
            try (DeviceBuffer other = cuda.allocateFloats(11)) {
                assertThrows(IllegalArgumentException.class, () -> buffer.copyFrom(other));
            }
            IllegalArgumentException self = assertThrows(IllegalArgumentException.class, () -> buffer.copyFrom(buffer));
            assertTrue(self.getMessage().contains("overlaps"), self.getMessage());
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                    () -> buffer.slice(0, 24).copyFrom(buffer.slice(20, 24)));
            assertTrue(overlap.getMessage().contains("overlaps"), overlap.getMessage());
        }
    }

    @Test
    void viewsOutsideTheBufferAreRejected() {
        try (DeviceBuffer buffer = cuda.allocate(64)) {
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(60, 8));
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(-1, 4));
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(0, -4));
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(Long.MAX_VALUE, 1));
            assertThrows(IllegalArgumentException.class, () -> buffer.sliceFloats(15, 2));
            assertThrows(IllegalArgumentException.class, () -> buffer.sliceFloats(Long.MAX_VALUE / 2, 1));
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(8, 16).slice(8, 9));
        }
    }

    @Test
    void wordFillsNeedWholeAlignedWords() {
        try (DeviceBuffer buffer = cuda.allocate(64)) {
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(0, 6).fillInts(1));
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(2, 8).fillFloats(1f));
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(0, 6).toFloatArray());
        }
    }

    @Test
    void badAllocationSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> cuda.allocate(0));
        assertThrows(IllegalArgumentException.class, () -> cuda.allocate(-8));
        assertThrows(IllegalArgumentException.class, () -> cuda.allocateFloats(0));
        assertThrows(IllegalArgumentException.class, () -> cuda.allocateFloats(Long.MAX_VALUE / 2));
    }

    @Test
    void aClosedBufferRefusesEveryUse() {
        DeviceBuffer buffer = cuda.allocateFloats(16);
        DeviceBuffer view = buffer.sliceFloats(4, 4);
        buffer.close();
        buffer.close();

        assertTrue(buffer.isClosed());
        assertTrue(view.isClosed());
        assertEquals(64, buffer.byteSize());
        IllegalStateException e = assertThrows(IllegalStateException.class, buffer::address);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> buffer.copyFrom(new float[16]));
        assertThrows(IllegalStateException.class, () -> buffer.copyTo(new float[16]));
        assertThrows(IllegalStateException.class, () -> buffer.copyFromAsync(new float[16], null));
        assertThrows(IllegalStateException.class, () -> buffer.fillFloats(0f));
        assertThrows(IllegalStateException.class, buffer::toFloatArray);
        assertThrows(IllegalStateException.class, () -> buffer.slice(0, 4));
        IllegalStateException viewError = assertThrows(IllegalStateException.class, () -> view.copyTo(new float[4]));
        assertTrue(viewError.getMessage().contains("view"), viewError.getMessage());
        assertThrows(IllegalStateException.class, view::address);
        // Even a wrong length reports the closed buffer first: nothing about it is usable.
        assertThrows(IllegalStateException.class, () -> buffer.copyFrom(new float[3]));
        try (DeviceBuffer other = cuda.allocateFloats(16)) {
            assertThrows(IllegalStateException.class, () -> other.copyFrom(buffer));
        }
    }

    @Test
    void closingAViewLeavesItsBufferUsable() {
        float[] values = randomFloatBits(8);
        try (DeviceBuffer buffer = cuda.allocateFloats(8)) {
            DeviceBuffer view = buffer.sliceFloats(0, 4);
            view.close();
            assertTrue(view.isClosed());
            assertFalse(buffer.isClosed());
            assertThrows(IllegalStateException.class, () -> view.copyFrom(new float[4]));
            buffer.copyFrom(values);
            assertArrayEquals(bits(values), bits(buffer.toFloatArray()), seedMessage());
        }
    }

    @Test
    void aStreamOfAnotherContextIsRejected() {
        try (CudaContext other = CudaRuntime.get().openContext(0);
             CudaStream foreign = other.createStream();
             DeviceBuffer buffer = cuda.allocateFloats(4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> buffer.fillFloatsAsync(1f, foreign));
            assertTrue(e.getMessage().contains("belongs to CudaContext#" + other.id() + "(device 0), not to CudaContext#"
                    + cuda.id() + "(device 0)"), e.getMessage());
        }
        assertDoesNotThrow(() -> cuda.synchronize());
    }

    /** A copy may cover a slice of a larger buffer, as a kernel does, named by the slice's first element. */
    @Test
    void copiesTakeASliceNamedByItsFirstElement() {
        try (DeviceBuffer buffer = cuda.allocateFloats(8)) {
            buffer.fillFloats(0f);
            buffer.copyFrom(new float[] {1f, 2f, 3f}, 2);
            assertArrayEquals(new float[] {0f, 0f, 1f, 2f, 3f, 0f, 0f, 0f}, buffer.toFloatArray());
            float[] back = new float[3];
            buffer.copyTo(back, 3);
            assertArrayEquals(new float[] {2f, 3f, 0f}, back);
            assertThrows(IllegalArgumentException.class, () -> buffer.copyFrom(new float[3], 6));
            assertThrows(IllegalArgumentException.class, () -> buffer.copyTo(new float[1], -1));
            buffer.copyFrom(new byte[] {1, 2}, 1);
            byte[] bytes = new byte[3];
            buffer.copyTo(bytes, 0);
            assertArrayEquals(new byte[] {0, 1, 2}, bytes);
            assertThrows(IllegalArgumentException.class, () -> buffer.copyFrom(new byte[2], 31));
        }
    }

    /** One rule with the launchers: a copy between buffers of two contexts is refused, naming both. */
    @Test
    void aDeviceCopyBetweenContextsIsRejected() {
        try (CudaContext other = CudaRuntime.get().openContext(0);
             DeviceBuffer foreign = other.allocateFloats(4);
             DeviceBuffer buffer = cuda.allocateFloats(4)) {
            IllegalArgumentException into = assertThrows(IllegalArgumentException.class,
                    () -> buffer.copyFrom(foreign));
            assertTrue(into.getMessage().contains("CudaContext#" + other.id())
                    && into.getMessage().contains("CudaContext#" + cuda.id()), into.getMessage());
            assertThrows(IllegalArgumentException.class, () -> foreign.copyFromAsync(buffer, null));
        }
    }
}
