package dev.elbo4j.kernels;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.DeviceBuffer;

/**
 * Checks of the training kernels' launchers beyond {@link LaunchChecks}: double workspaces and outputs that may
 * alias an input exactly.
 */
final class TrainingChecks {

    private TrainingChecks() {
    }

    /** Whether two buffers start at the same device address (an in-place operation). */
    static boolean sameStart(DeviceBuffer a, DeviceBuffer b) {
        return a.address() == b.address();
    }

    /**
     * Checks a workspace of {@code doubles} doubles: open, of {@code context}, large enough, 8-byte aligned.
     *
     * @param what what the workspace is for, e.g. "bias gradient partials (4 chunks x 400 columns)"
     */
    static void doubles(DeviceBuffer workspace, String what, long doubles, CudaContext context) {
        LaunchChecks.buffer(workspace, "workspace", what, doubles * Double.BYTES, 1, context);
        if (!workspace.isAligned(Double.BYTES)) {
            throw new IllegalArgumentException("workspace (" + workspace
                    + ") must be 8-byte aligned: it holds doubles");
        }
    }
}
