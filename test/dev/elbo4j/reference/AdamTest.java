package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.elbo4j.nn.AdamSettings;

class AdamTest {
    private static final float[] START = {0.5f, -1.25f, 2.0f, 0.0f, 3e-3f, -7.5f};
    private static final float[][] GRADIENTS = {
            {0.1f, -0.2f, 0.0f, 1e-4f, -3.0f, 0.05f},
            {-0.3f, 0.2f, 0.5f, 1e-4f, 2.0f, 0.05f},
            {0.05f, 0.0f, -0.5f, -2e-4f, 1.0f, -0.05f}};

    /*
     * Expected values printed by PyTorch 1.13.1 (Debian python3-torch), three steps of
     * torch.optim.Adam / AdamW([p], betas=(0.9, 0.999), eps=1e-8, lr=..., weight_decay=...) from START with the
     * gradients above.
     */
    @Test
    void threeStepsOfAdamMatchPyTorch() {
        assertSteps(AdamSettings.defaults(), new double[] {0.49977168440818787, -1.2490932941436768,
                1.9993010759353638, -0.0019241560949012637, 0.004081301391124725, -7.502261638641357},
                new double[] {-0.013900001533329487, 0.0017999993870034814, -0.005000002682209015,
                        -2.900000481531606e-06, 0.03699999302625656, 0.0035500002559274435});
    }

    @Test
    void threeStepsOfAdamWithAnL2PenaltyMatchPyTorch() {
        assertSteps(AdamSettings.defaults().withLearningRate(1e-2f).withWeightDecay(0.1f, false),
                new double[] {0.49305811524391174, -1.229451298713684, 1.9770315885543823, 0.00433540903031826,
                        0.013804835267364979, -7.469973087310791},
                new double[] {-0.0005104760057292879, -0.03183671087026596, 0.048920031636953354,
                        -0.00012631985009647906, 0.037285760045051575, -0.19941000640392303});
    }

    @Test
    void threeStepsOfAdamWMatchPyTorch() {
        assertSteps(AdamSettings.defaults().withLearningRate(1e-2f).withWeightDecay(0.1f, true),
                new double[] {0.4962334632873535, -1.2372064590454102, 1.987023949623108, -0.019211571663618088,
                        0.013782583177089691, -7.500113010406494},
                new double[] {-0.013900001533329487, 0.0017999993870034814, -0.005000002682209015,
                        -2.900000481531606e-06, 0.03699999302625656, 0.0035500002559274435});
    }

    @Test
    void clippingScalesLikeClipGradNorm() {
        AdamSettings clipped = AdamSettings.defaults().withMaxGradNorm(2f);
        assertEquals(1f, Adam.clipScale(clipped, 1.5));
        assertEquals((float) (2.0 / (4.0 + 1e-6)), Adam.clipScale(clipped, 4.0));
        assertEquals(1f, Adam.clipScale(AdamSettings.defaults(), 1e30));
        // A clipped step equals an unclipped step on the scaled gradients.
        float[] p1 = START.clone();
        float[] p2 = START.clone();
        float[] scaled = new float[START.length];
        float scale = Adam.clipScale(clipped, GradientNorm.l2(GRADIENTS[0]) * 10);
        for (int n = 0; n < scaled.length; n++) {
            scaled[n] = GRADIENTS[0][n] * scale;
        }
        Adam.step(clipped, 1, scale, p1, GRADIENTS[0], new float[6], new float[6]);
        Adam.step(AdamSettings.defaults(), 1, 1f, p2, scaled, new float[6], new float[6]);
        for (int n = 0; n < p1.length; n++) {
            assertEquals(p2[n], p1[n], 1e-7f, "parameter " + n);
        }
    }

    @Test
    void settingsAndStepAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> AdamSettings.defaults().withLearningRate(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> AdamSettings.defaults().withMaxGradNorm(0f));
        IllegalArgumentException zeroStep = assertThrows(IllegalArgumentException.class, () -> Adam.step(
                AdamSettings.defaults(), 0, 1f, new float[1], new float[1], new float[1], new float[1]));
        assertTrue(zeroStep.getMessage().contains("1-based"), zeroStep.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Adam.step(AdamSettings.defaults(), 1, 1f, new float[2],
                new float[1], new float[2], new float[2]));
    }

    @Test
    void gradientNormIsTheEuclideanNormAndPropagatesNonFiniteValues() {
        assertEquals(5.0, GradientNorm.l2(new float[] {3f, 0f, -4f}));
        assertTrue(Double.isNaN(GradientNorm.l2(new float[] {1f, Float.NaN})));
        assertEquals(Double.POSITIVE_INFINITY, GradientNorm.l2(new float[] {1f, Float.NEGATIVE_INFINITY}));
    }

    private static void assertSteps(AdamSettings settings, double[] expectedParams, double[] expectedM) {
        float[] params = START.clone();
        float[] m = new float[START.length];
        float[] v = new float[START.length];
        for (int t = 1; t <= GRADIENTS.length; t++) {
            Adam.step(settings, t, 1f, params, GRADIENTS[t - 1], m, v);
        }
        for (int n = 0; n < params.length; n++) {
            // PyTorch computes in float32, the reference in double: a few float ulps apart.
            assertEquals(expectedParams[n], params[n], 4 * Math.ulp((float) expectedParams[n]) + 1e-9,
                    "parameter " + n);
            // A moment is a sum of terms near the gradients' size, so its float32 rounding is relative to those.
            assertEquals(expectedM[n], m[n], 1e-6 * Math.abs(expectedM[n]) + 1e-8, "m " + n);
        }
    }
}
